"""Query service throughput: N concurrent StartQuery calls over sealed + memtable events.

    python3 bench/queries.py [--quick] [--events N] [--queries Q] [--running R]

Ingests realistic JSON events (shared/tools/gen_logs.py), seals most of them, then
starts Q `stats count(*) by level` queries at once through `QueryService` (R workers)
and waits for all: queries per second and the slowest query's wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # before bench/query.py

from support.pool import read_pool, take, write_pool

BATCH = 2_000
QUERY = "filter ispresent(level) | stats count(*) as n, avg(duration_ms) as ms by level"


async def run(events: int, queries: int, running: int, pool: list[str], data: Path) -> None:
    from logd.clock import SystemClock
    from logd.model import InputEvents
    from logd.queries import QueryOptions, QueryService
    from logd.store.options import StoreOptions
    from logd.store.store import Store

    clock = SystemClock()
    store = await Store.open(data, StoreOptions(seal_interval_ms=10**12), clock)
    store.catalog.create_group("bench", now_ms=clock.now_ms())
    store.catalog.create_stream("bench", "s", now_ms=clock.now_ms())
    for k in range(events // BATCH):
        if k == (events // BATCH) * 9 // 10:
            await store.seal_now()  # 90 % sealed, the rest in the memtable
        now = clock.now_ms()
        await store.append("bench", "s", InputEvents([now] * BATCH, take(pool, k, BATCH)))
    svc = QueryService(store, QueryOptions(max_running=running, max_active=queries), clock)
    await svc.start()
    start_s, end_s = clock.now_ms() // 1000 - 3600, clock.now_ms() // 1000 + 60
    t0 = time.perf_counter()
    ids = [
        await svc.start_query(QUERY, groups=["bench"], start_time=start_s, end_time=end_s)
        for _ in range(queries)
    ]
    while True:
        statuses = [(await svc.get_query_results(i)).status for i in ids]
        if all(s not in ("Scheduled", "Running") for s in statuses):
            break
        await asyncio.sleep(0.01)
    wall = time.perf_counter() - t0
    done = statuses.count("Complete")
    scanned = (await svc.get_query_results(ids[0])).statistics["recordsScanned"]
    print(
        f"{done}/{queries} queries Complete over {scanned:,.0f} events each in {wall:.2f} s "
        f"with {running} workers ({scanned * done / wall:,.0f} events/s)"
    )
    await svc.close()
    await store.close()
    print(f"RESULT queries_per_s={done / wall:.2f} events_per_s={scanned * done / wall:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run, under a minute")
    parser.add_argument("--events", type=int)
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--running", type=int, default=4)
    args = parser.parse_args()
    events = args.events or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory(prefix="logd-bench-") as tmp:
        pool_path = Path(tmp) / "pool.ndjson"
        write_pool(pool_path, 20_000, "json")
        pool = read_pool(pool_path, BATCH)
        asyncio.run(run(events, args.queries, args.running, pool, Path(tmp) / "data"))


if __name__ == "__main__":
    main()
