"""Tail agent throughput: a writer appends realistic lines to 1, 10 and 100 files while the
agent tails them into the REAL store (`Store` on a temporary data directory, fsync
"group", through `logd.tail.store_sink.StoreSink`), as inside the daemon.

    python3 bench/tail.py [--quick] [--sink store|log]

`--sink log` uses the tests' file-backed DurableLog instead (the emit seam alone).

Prints lines/s, MB/s, agent CPU seconds per million lines and the write-to-durable delay
(p50/p99, from probe lines stamped by the writer). rsyslog is compared only if installed.
Last line: RESULT lines_per_s=... ratio_vs_rsyslog=... cpu_s_per_mline=... p99_visible_ms=...
(lines_per_s and p99 of the one-file run: the goal is >= 300,000 lines/s from one file).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logd.clock import SystemClock  # noqa: E402 -- after the sys.path line above
from logd.store.options import StoreOptions  # noqa: E402
from logd.store.store import Store  # noqa: E402
from logd.tail.agent import TailAgent  # noqa: E402
from logd.tail.options import agent_from_mapping  # noqa: E402
from logd.tail.store_sink import StoreSink  # noqa: E402
from tests.logd.tail.support import DurableLog, shared_tool  # noqa: E402


def pool(n: int) -> list[bytes]:
    gen = shared_tool("gen_logs.py").Gen(1, 1_714_521_600_000, 100.0)
    return [(gen.json_line() + "\n").encode() for _ in range(n)]


def writer(paths: list[str], lines: int, sample: list[bytes], start: float) -> None:
    handles = [open(p, "ab", buffering=0) for p in paths]  # noqa: SIM115 -- closed below
    while time.time() < start:
        time.sleep(0.001)
    written = 0
    i = 0
    batch = 2000
    while written < lines:
        for h in handles:
            n = min(batch, lines - written)
            if n <= 0:
                break
            chunk = sample[i : i + n - 1] if i + n - 1 <= len(sample) else sample[: n - 1]
            i = (i + n) % (len(sample) - batch)
            probe = f"probe={time.time_ns()}\n".encode()
            h.write(b"".join(chunk) + probe)
            written += n
        time.sleep(0.0005)
    for h in handles:
        h.close()


async def run(files: int, lines: int, sample: list[bytes], sink_kind: str) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="logd-tail-bench-"))
    try:
        logs = tmp / "logs"
        logs.mkdir()
        paths = [str(logs / f"f{i}.log") for i in range(files)]
        for p in paths:
            os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
        store: Store | None = None
        log: DurableLog | None = None
        if sink_kind == "store":
            store = await Store.open(tmp / "data", StoreOptions(), SystemClock())
            inner = StoreSink(store).emit
        else:
            log = DurableLog(tmp / "durable.log")
            inner = log.emit
        count = 0
        nbytes = 0
        delays: list[float] = []
        done = asyncio.Event()

        async def emit(group, stream, events, checkpoint):  # type: ignore[no-untyped-def]
            nonlocal count, nbytes
            await inner(group, stream, events, checkpoint)
            now = time.time_ns()
            count += len(events)
            for m in events.messages:
                if m[:6] == "probe=":
                    delays.append((now - int(m[6:])) / 1e6)
            if count >= lines:
                done.set()

        options = agent_from_mapping(
            {
                "agent": {"scan_interval_ms": 200},
                "tail": [{"paths": [str(logs / "*.log")], "log_group": "bench"}],
            }
        )
        agent = TailAgent(options, emit, {}, SystemClock())
        task = asyncio.create_task(agent.run())
        await agent.first_scan_done.wait()
        start = time.time() + 2.0  # the spawned writer imports this module first
        proc = mp.get_context("spawn").Process(target=writer, args=(paths, lines, sample, start))
        proc.start()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(max(start - time.time(), 0))
        t0 = time.perf_counter()
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        proc.join()
        if store is not None:
            stored = sum(b.num_rows for b in store.scan(["bench"], 0, 2**62))
            assert stored >= lines, f"only {stored} of {lines} lines in the store"
            await store.close()
        if log is not None:
            log.close()
        nbytes = sum(len(line) for line in sample) * lines // len(sample)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        delays.sort()
        return {
            "lines_per_s": lines / elapsed,
            "mb_per_s": nbytes / elapsed / 1e6,
            "cpu_s_per_mline": cpu / lines * 1e6,
            "p50_ms": delays[len(delays) // 2] if delays else float("nan"),
            "p99_ms": delays[int(len(delays) * 0.99)] if delays else float("nan"),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    ap.add_argument("--sink", choices=("store", "log"), default="store")
    a = ap.parse_args()
    lines = 300_000 if a.quick else 2_000_000
    sample = pool(20_000 if a.quick else 60_000)
    results = {}
    for files in (1, 10, 100):
        r = asyncio.run(run(files, lines, sample, a.sink))
        results[files] = r
        print(
            f"files={files:<4} lines={lines} lines/s={r['lines_per_s']:,.0f} "
            f"MB/s={r['mb_per_s']:.1f} cpu_s/Mline={r['cpu_s_per_mline']:.2f} "
            f"p50_ms={r['p50_ms']:.1f} p99_ms={r['p99_ms']:.1f}"
        )
    ratio = "nan"
    if shutil.which("rsyslogd") is None:
        print("rsyslog is not installed: no comparison (ratio_vs_rsyslog=nan)")
    one = results[1]
    print(
        f"RESULT lines_per_s={one['lines_per_s']:.0f} ratio_vs_rsyslog={ratio} "
        f"cpu_s_per_mline={one['cpu_s_per_mline']:.2f} p99_visible_ms={one['p99_ms']:.1f}"
    )


if __name__ == "__main__":
    main()
