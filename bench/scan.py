"""Scan throughput: 5 million stored (sealed) events, one discovered field.

    python3 bench/scan.py [--quick] [--events N]

Ingests realistic JSON events (shared/tools/gen_logs.py, batches of 2,000 within
PutLogEvents' 1 MiB), seals them into Parquet segments, then times
`Store.scan(columns=["f.status"])` over the whole range (row-group pruning does not
apply: every event is read) and a DuckDB count through `StoreSource.bind`. The RESULT
line adds the sealing rate (wall clock, and per CPU-second of this process: the
fairer figure on a shared machine) and the DuckDB rate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.pool import read_pool, take, write_pool

BATCH = 2_000


async def run(events: int, pool: list[str], data: Path) -> None:
    import duckdb

    from logd.clock import SystemClock
    from logd.model import InputEvents
    from logd.store.options import StoreOptions
    from logd.store.store import Store

    clock = SystemClock()
    # The WAL bound is raised so that it never forces an early seal: all events are
    # sealed by the one timed seal_now().
    options = StoreOptions(seal_max_events=10**12, seal_interval_ms=10**12, wal_max_bytes=64 << 30)
    store = await Store.open(data, options, clock)
    store.catalog.create_group("bench", now_ms=clock.now_ms())
    store.catalog.create_stream("bench", "s", now_ms=clock.now_ms())
    t0 = time.perf_counter()
    for k in range(events // BATCH):
        now = clock.now_ms()
        await store.append("bench", "s", InputEvents([now] * BATCH, take(pool, k, BATCH)))
    t_ingest = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), os.times()
    sealed = await store.seal_now()
    t_seal = time.perf_counter() - t0
    c1 = os.times()
    cpu_seal = c1.user - c0.user + c1.system - c0.system
    segments = store.catalog.all_segments()
    print(
        f"ingested {events:,} events in {t_ingest:.1f} s; sealed {sealed:,} in {t_seal:.1f} s "
        f"({sealed / t_seal:,.0f} events/s; {cpu_seal:.1f} CPU-s, "
        f"{sealed / cpu_seal:,.0f} events per CPU-s) into {len(segments)} segments, "
        f"{sum(s.bytes for s in segments) / 1e6:.0f} MB"
    )
    end = clock.now_ms() + 1
    t0 = time.perf_counter()
    n = non_null = 0
    for batch in store.scan(["bench"], 0, end, columns=["f.status"]):
        n += batch.num_rows
        non_null += batch.num_rows - batch.column(0).null_count
    t_scan = time.perf_counter() - t0
    print(f"scan f.status: {n:,} events ({non_null:,} non-null) in {t_scan:.2f} s")
    con = duckdb.connect()
    t0 = time.perf_counter()
    view = store.source().bind(con, groups=["bench"], start_ms=0, end_ms=end)
    (count,) = con.sql(f"SELECT count(*) FROM {view} WHERE message LIKE '%timeout%'").fetchall()[0]  # noqa: S608 - our view name
    t_sql = time.perf_counter() - t0
    print(
        f"DuckDB over StoreSource: {count:,} of {n:,} messages match in {t_sql:.2f} s "
        f"({n / t_sql:,.0f} events/s)"
    )
    con.close()
    await store.close()
    print(
        f"RESULT events_per_s={n / t_scan:.0f} seal_events_per_s={sealed / t_seal:.0f} "
        f"seal_events_per_cpu_s={sealed / cpu_seal:.0f} sql_events_per_s={n / t_sql:.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--events", type=int)
    args = parser.parse_args()
    events = args.events or (500_000 if args.quick else 5_000_000)
    with tempfile.TemporaryDirectory(prefix="logd-bench-") as tmp:
        pool_path = Path(tmp) / "pool.ndjson"
        write_pool(pool_path, 50_000, "json")
        asyncio.run(run(events, read_pool(pool_path, BATCH), Path(tmp) / "data"))


if __name__ == "__main__":
    main()
