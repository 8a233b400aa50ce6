"""Export throughput: Arrow batches → sorted gzip objects in a local export root.

    python3 bench/export.py            # 5 million events
    python3 bench/export.py --quick    # 300k events, well under a minute

Events are realistic JSON log lines from /work/shared/tools/gen_logs.py (at most
--unique distinct lines are generated, then reused with later timestamps, since the
generator writes ~35k lines/s), spread over --streams streams and handed to the export
as shuffled record batches, the way a store scan returns them. The export runs
end to end (plan, scan, sort, render, parallel gzip, temp file + fsync + rename,
manifest). The baseline is Python's gzip module (`gzip.compress`, one thread, the same
level) compressing exactly the text the export wrote (its objects' lines, timestamps
included, concatenated) in one call, in the same run, after the export. The last line is

    RESULT events_per_s=... mb_per_s=... ratio_vs_gzip=... cpu_s=... sys_s=... peak_rss_mb=...

`mb_per_s` counts uncompressed text written per second; `ratio_vs_gzip` is the
export's events/s over the baseline's; `cpu_s`/`sys_s` are the process CPU seconds
(user + system / system alone, all threads) the export took, a figure that load from
other processes on the machine disturbs less than wall time; `peak_rss_mb` is the
process's peak resident memory (it includes the input batches, which the bench holds
the whole time: `input_mb` on the export line).
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402

from logd.clock import SystemClock  # noqa: E402
from logd.export.destinations import LocalDestination  # noqa: E402
from logd.export.options import ExportOptions  # noqa: E402
from logd.export.records import ExportTask, StatusCode  # noqa: E402
from logd.export.runner import StopFlags, run_export  # noqa: E402
from logd.export.taskdb import TaskDb  # noqa: E402
from logd.export.writer import GzipPool  # noqa: E402
from logd.model import Scope  # noqa: E402

SHARED = Path(os.environ.get("LOGD_SHARED", "/work/shared"))
BASE_MS = 1_714_521_600_000
GROUP = "/bench/export"


def generate(lines: int, folder: Path) -> list[str]:
    out = folder / "events.ndjson"
    subprocess.run(
        [
            sys.executable,
            str(SHARED / "tools" / "gen_logs.py"),
            "--lines",
            str(lines),
            "--kind",
            "json",
            "--seed",
            "1",
            "--out",
            str(out),
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return out.read_text(encoding="utf-8").splitlines()


def build_batches(messages: list[str], events: int, streams: int) -> list[pa.RecordBatch]:
    names = [f"i-{n:04d}/app" for n in range(streams)]
    batch_rows = 65_536
    batches = []
    unique = pa.array(messages, pa.string())
    for start in range(0, events, batch_rows):
        n = min(batch_rows, events - start)
        index = pa.array([(start + i) % len(messages) for i in range(n)], pa.int64())
        batches.append(
            pa.record_batch(
                {
                    "group": pa.array([GROUP] * n),
                    "stream": pa.array([names[(start + i) % streams] for i in range(n)]),
                    "timestamp": pa.array(
                        [BASE_MS + (start + i) * 10 for i in range(n)], pa.int64()
                    ),
                    "ingestion_time": pa.array([BASE_MS] * n, pa.int64()),
                    "seq": pa.array(range(start + 1, start + n + 1), pa.int64()),
                    "message": unique.take(index),
                }
            )
        )
    random.Random(3).shuffle(batches)
    return batches


class BatchReader:
    def __init__(self, batches: list[pa.RecordBatch]) -> None:
        self._batches = batches

    def __call__(self, groups, start_ms, end_ms, *, streams=None, stream_prefix=None, columns=None):  # type: ignore[no-untyped-def]
        import pyarrow.compute as pc

        wanted = None if streams is None else pa.array(list(streams))
        for batch in self._batches:
            if wanted is not None:
                batch = batch.filter(pc.is_in(batch["stream"], value_set=wanted))
            if columns is not None:
                batch = batch.select(list(columns))
            yield batch


def run(events: int, unique: int, streams: int, level: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="logd-bench-export-"))
    try:
        t = time.perf_counter()
        messages = generate(min(unique, events), folder)
        batches = build_batches(messages, events, streams)
        took = time.perf_counter() - t
        print(f"prepared {events} events ({len(messages)} distinct) in {took:.1f} s")

        options = ExportOptions(default_root=str(folder / "root"), compression_level=level)
        destination = LocalDestination("bench", folder / "root")
        destination.check()
        db = TaskDb(folder / "tasks.sqlite")
        task = ExportTask(
            task_id="bench-task",
            task_name=None,
            log_group_name=GROUP,
            log_stream_name_prefix=None,
            from_ms=BASE_MS,
            to_ms=BASE_MS + events * 10,
            destination="bench",
            destination_prefix="exportedlogs",
            code=StatusCode.RUNNING,
            message="",
            creation_time=BASE_MS,
        )
        db.insert(task, max_active=1)
        gz = GzipPool(
            level=level,
            chunk_bytes=options.compression_chunk_bytes,
            threads=os.cpu_count() or 2,
        )
        before = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        records = run_export(
            task=task,
            reader=BatchReader(batches),
            destination=destination,
            tasks=db,
            options=options,
            gzip=gz,
            clock=SystemClock(),
            scope=Scope(),
            flags=StopFlags(threading.Event(), threading.Event()),
        )
        export_s = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_SELF)
        sys_s = after.ru_stime - before.ru_stime
        cpu_s = after.ru_utime - before.ru_utime + sys_s
        peak_mb = after.ru_maxrss / 1024
        gz.close()
        db.close()
        text_bytes = sum(r.uncompressed_bytes for r in records)
        written = sum(r.compressed_bytes for r in records)
        assert sum(r.events for r in records) == events

        input_mb = sum(b.nbytes for b in batches) / 1e6
        del batches
        # The very bytes the export wrote, object after object.
        ndjson = b"".join(
            gzip.decompress(destination.get(r.key)) for r in sorted(records, key=lambda r: r.key)
        )
        assert len(ndjson) == text_bytes
        cpu = time.process_time()
        t = time.perf_counter()
        baseline = gzip.compress(ndjson, compresslevel=level)
        gzip_s = time.perf_counter() - t
        gzip_cpu = time.process_time() - cpu

        eps = events / export_s
        mbps = text_bytes / export_s / 1e6
        base_eps = events / gzip_s
        print(
            f"export: {events} events, {len(records)} objects, {text_bytes / 1e6:.0f} MB text, "
            f"{written / 1e6:.0f} MB gzip, {export_s:.2f} s: {eps:,.0f} events/s, {mbps:.1f} MB/s; "
            f"CPU {cpu_s:.1f} s ({sys_s:.1f} s system), peak RSS {peak_mb:.0f} MB "
            f"(input_mb={input_mb:.0f})"
        )
        print(
            f"gzip module (level {level}, one thread, same text): {len(ndjson) / 1e6:.0f} MB -> "
            f"{len(baseline) / 1e6:.0f} MB in {gzip_s:.2f} s: {base_eps:,.0f} events/s, "
            f"{len(ndjson) / gzip_s / 1e6:.1f} MB/s, CPU {gzip_cpu:.1f} s"
        )
        print(
            f"RESULT events_per_s={eps:.0f} mb_per_s={mbps:.1f} ratio_vs_gzip={eps / base_eps:.2f} "
            f"cpu_s={cpu_s:.1f} sys_s={sys_s:.1f} peak_rss_mb={peak_mb:.0f}"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300k events")
    parser.add_argument("--events", type=int, default=None)
    parser.add_argument("--unique", type=int, default=500_000, help="distinct generated lines")
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--level", type=int, default=6, help="gzip level for both sides")
    args = parser.parse_args()
    events = args.events or (300_000 if args.quick else 5_000_000)
    run(events, args.unique, args.streams, args.level)


if __name__ == "__main__":
    main()
