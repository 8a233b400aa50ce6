"""Ingest throughput of the store under each fsync policy, against raw write+fsync.

    python3 bench/ingest.py [--quick] [--events N]

Appends realistic JSON events (shared/tools/gen_logs.py) in batches of 1,000 and
10,000 with 4 concurrent appenders, in-process, each configuration in a fresh child
process (so peak RSS is per configuration). Messages are gen_logs "mixed" lines; for
batches of 10,000 each is cut to 76 bytes, since PutLogEvents caps a batch at 1 MiB
(UTF-8 + 26 bytes per event). Nothing is sealed during the run: every
event stays in the memtable (spilled, memory-mapped). The baseline writes the same
message bytes per batch to a file with one fsync per batch. The RESULT line reports
fsync = "group" with batches of 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.pool import ROOT, read_pool, take, write_pool

CONCURRENCY = 4


async def run_store(policy: str, batch: int, events: int, pool: list[str], data: Path) -> dict:
    from logd.clock import SystemClock
    from logd.model import InputEvents
    from logd.store.options import StoreOptions
    from logd.store.store import Store

    options = StoreOptions(
        fsync=policy,  # type: ignore[arg-type]
        seal_max_events=10**12,
        seal_interval_ms=10**12,
        retention_sweep_interval_ms=10**12,
    )
    clock = SystemClock()
    store = await Store.open(data, options, clock)
    store.catalog.create_group("bench", now_ms=clock.now_ms())
    for s in range(CONCURRENCY):
        store.catalog.create_stream("bench", f"s{s}", now_ms=clock.now_ms())
    batches = events // batch
    counter = iter(range(batches))
    message_bytes = 0

    async def appender(stream: str) -> None:
        nonlocal message_bytes
        for k in counter:
            messages = take(pool, k, batch)
            now = clock.now_ms()
            r = await store.append("bench", stream, InputEvents([now] * batch, messages))
            assert r.accepted == batch
            message_bytes += sum(map(len, messages))

    t0 = time.perf_counter()
    await asyncio.gather(*(appender(f"s{s}") for s in range(CONCURRENCY)))
    elapsed = time.perf_counter() - t0
    unsealed = store.memtable.rows
    await store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "events_per_s": batches * batch / elapsed,
        "mb_per_s": message_bytes / elapsed / 1e6,
        "rss_mb": rss,
        "unsealed": unsealed,
    }


def run_raw(batch: int, events: int, pool: list[str], path: Path) -> float:
    batches = events // batch
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t0 = time.perf_counter()
        for k in range(batches):
            data = "".join(take(pool, k, batch)).encode()
            os.write(fd, data)
            os.fsync(fd)
        return batches * batch / (time.perf_counter() - t0)
    finally:
        os.close(fd)


def child(args: argparse.Namespace) -> None:
    pool = read_pool(Path(args.pool), args.batch)
    result = asyncio.run(run_store(args.policy, args.batch, args.events, pool, Path(args.dir)))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--events", type=int, help="events for fsync=group, batch 10,000")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--policy", default="group", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=10_000, help=argparse.SUPPRESS)
    parser.add_argument("--pool", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        child(args)
        return
    main_events = args.events or (300_000 if args.quick else 5_000_000)
    other_events = min(main_events, 100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="logd-bench-") as tmp:
        pool_path = Path(tmp) / "pool.ndjson"
        write_pool(pool_path, 20_000 if args.quick else 50_000, "mixed")
        raw = {
            b: run_raw(b, other_events, read_pool(pool_path, b), Path(tmp) / f"raw{b}")
            for b in (1_000, 10_000)
        }
        for b, eps in raw.items():
            print(f"raw write+fsync  batch={b:>6}  {eps:>12,.0f} events/s")
        results = {}
        for policy in ("always", "group", "interval"):
            for b in (1_000, 10_000):
                n = main_events if (policy, b) == ("group", 10_000) else other_events
                data = Path(tmp) / f"store-{policy}-{b}"
                cmd = [sys.executable, __file__, "--one", "--policy", policy]
                cmd += ["--batch", str(b), "--events", str(n)]
                cmd += ["--pool", str(pool_path), "--dir", str(data)]
                out = subprocess.run(
                    cmd,
                    check=True,
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                results[(policy, b)] = r
                print(
                    f"store fsync={policy:<8} batch={b:>6} events={n:>9,}  "
                    f"{r['events_per_s']:>10,.0f} events/s  {r['mb_per_s']:>7.1f} MB/s  "
                    f"ratio {r['events_per_s'] / raw[b]:.2f}  peak RSS {r['rss_mb']:.0f} MB  "
                    f"unsealed {r['unsealed']:,}"
                )
                subprocess.run(["rm", "-rf", str(data)], check=True)
        r = results[("group", 10_000)]
        print(
            f"RESULT events_per_s={r['events_per_s']:.0f} mb_per_s={r['mb_per_s']:.1f} "
            f"ratio_vs_raw={r['events_per_s'] / raw[10_000]:.2f} rss_mb={r['rss_mb']:.0f}"
        )


if __name__ == "__main__":
    main()
