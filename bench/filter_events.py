"""FilterLogEvents' query path over sealed segments vs a naive scan + orjson loop.

A store in a temp dir gets N realistic events (shared/tools/gen_logs.py --kind mixed,
spread over 7 days, all sealed into Parquet segments). Each workload collects EVERY match
of one pattern the way a client does, page by page (limit 10,000, following the cursor),
through `logd.filterevents.filter_events` with each engine; the naive baseline reads
the same `Store.scan` batches, tests each message in a Python loop (orjson for JSON) and
sorts the matches. events/s = stored events searched / wall time to the last page.

    python3 bench/filter_events.py           # 1,000,000 events
    python3 bench/filter_events.py --quick   # 100,000 events (< 1 minute)

The last line is `RESULT events_per_s=... ratio_vs_naive=...` for the JSON workload with
the default engine (`auto`); extra keys give the term and match-all workloads.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logd.clock import ManualClock  # noqa: E402 - after the path setup
from logd.filterevents import Engine, FilterQuery, PageDatabase, filter_events  # noqa: E402
from logd.model import InputEvents  # noqa: E402
from logd.store.options import StoreOptions  # noqa: E402
from logd.store.store import Store  # noqa: E402

SHARED = Path(os.environ.get("LOGD_SHARED", ROOT.parent.parent / "shared"))
GEN_LOGS = SHARED / "tools" / "gen_logs.py"
if not GEN_LOGS.is_file():
    GEN_LOGS = Path("/work/shared/tools/gen_logs.py")

NOW = 1_700_000_000_000
SPAN_MS = 7 * 86_400_000
BATCH = 3_000  # realistic lines are ~250 bytes: a batch stays under 1 MB


def naive_json(m: str) -> bool:
    try:
        doc = orjson.loads(m)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(doc, dict) or doc.get("level") != "ERROR":
        return False
    latency = doc.get("latency_ms")
    return isinstance(latency, int | float) and not isinstance(latency, bool) and latency > 100


def naive_term(m: str) -> bool:
    return "ERROR" in m and "healthcheck" not in m


def naive_all(m: str) -> bool:
    return True


WORKLOADS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "json": ('{ $.level = "ERROR" && $.latency_ms > 100 }', naive_json),
    "term": ("ERROR -healthcheck", naive_term),
    "all": ("", naive_all),
}
ENGINES: tuple[Engine, ...] = ("auto", "sql", "predicate")


def generate(n: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, str(GEN_LOGS), "--lines", str(n), "--kind", "mixed", "--seed", "5"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line][:n]


async def build(folder: Path, messages: list[str]) -> Store:
    options = StoreOptions(
        seal_interval_ms=3_600_000,
        seal_max_events=10_000_000,
        retention_sweep_interval_ms=3_600_000,
    )
    store = await Store.open(folder, options, ManualClock(NOW))
    store.catalog.create_group("bench", now_ms=NOW)
    store.catalog.create_stream("bench", "s", now_ms=NOW)
    step = SPAN_MS / len(messages)
    for lo in range(0, len(messages), BATCH):
        chunk = messages[lo : lo + BATCH]
        ts = [NOW - SPAN_MS + int((lo + i) * step) for i in range(len(chunk))]
        await store.append("bench", "s", InputEvents(ts, chunk))
    await store.seal_now()
    return store


def through_pages(
    store: Store, pattern: str, engine: Engine, database: PageDatabase
) -> tuple[int, int]:
    query = FilterQuery(group="bench", pattern=pattern)
    cursor, hint = None, None
    found = pages = 0
    while True:
        page = filter_events(
            store,
            query,
            after=cursor,
            limit=10_000,
            engine=engine,
            width_hint=hint,
            database=database,  # as the daemon does
        )
        found += len(page.events)
        pages += 1
        if page.cursor is None:
            return found, pages
        cursor, hint = page.cursor, page.width_hint


def naive(store: Store, test: Callable[[str], bool]) -> int:
    hits = []
    for batch in store.scan(["bench"], 0, 2**62):
        cols = batch.to_pydict()
        for s, t, i, q, m in zip(
            cols["stream"],
            cols["timestamp"],
            cols["ingestion_time"],
            cols["seq"],
            cols["message"],
            strict=True,
        ):
            if test(m):
                hits.append((t, q, s, m, i))
    hits.sort()
    return len(hits)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 1_000_000)
    messages = generate(n)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store = await build(Path(tmp), messages)
        segs = store.catalog.all_segments()
        print(
            f"{len(messages):,} events stored and sealed in {time.perf_counter() - started:.1f}s: "
            f"{len(segs)} segments, memtable {store.memtable.rows} rows"
        )
        figures: dict[str, float] = {}
        database = PageDatabase()
        try:
            for engine in ENGINES:  # warm up: DuckDB loads its JSON extension once
                filter_events(
                    store,
                    FilterQuery(group="bench", pattern="{ $.x = 1 }"),
                    engine=engine,
                    database=database,
                )
            for name, (pattern, test) in WORKLOADS.items():
                base_s, base_hits = timed(lambda test=test: naive(store, test))
                print(f"{name:5} naive scan+loop   {n / base_s:12,.0f} events/s  {base_hits} hits")
                for engine in ENGINES:
                    took, (hits, pages) = timed(
                        lambda pattern=pattern, engine=engine: through_pages(
                            store, pattern, engine, database
                        )
                    )
                    assert hits == base_hits, (name, engine, hits, base_hits)
                    rate = n / took
                    figures[f"{name}_{engine}"] = rate
                    figures[f"{name}_{engine}_ratio"] = rate / (n / base_s)
                    print(
                        f"{name:5} {engine:9} {pages:3} pages {rate:12,.0f} events/s "
                        f"({rate / (n / base_s):.1f}x naive)"
                    )
        finally:
            database.close()
            await store.close()
    print(
        f"RESULT events_per_s={figures['json_auto']:.0f} "
        f"ratio_vs_naive={figures['json_auto_ratio']:.1f} "
        f"term_events_per_s={figures['term_auto']:.0f} "
        f"term_ratio_vs_naive={figures['term_auto_ratio']:.1f} "
        f"all_events_per_s={figures['all_auto']:.0f} "
        f"all_ratio_vs_naive={figures['all_auto_ratio']:.1f} events={n}"
    )


if __name__ == "__main__":
    asyncio.run(main())
