"""Helpers for the query-service tests: a real store, a service on it, a never-ending source."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import duckdb

from logd.model import InputEvents
from logd.queries import QueryService
from logd.store.store import Store
from tests.logd.store.support import NOW, make_group, open_store

__all__ = ["NOW", "EndlessSource", "fill", "open_store", "wait_for"]

#: seconds-aligned base time of the test events
BASE_S = NOW // 1000 - 3600


class EndlessSource:
    """A real DuckDB relation of 10^12 events: a query over it runs until cancelled."""

    def bind(
        self, con: duckdb.DuckDBPyConnection, *, groups: Sequence[str], start_ms: int, end_ms: int
    ) -> str:
        start = int(start_ms)
        con.execute(
            "CREATE VIEW endless AS SELECT 'g' AS \"group\", 's' AS stream, "  # noqa: S608 - only integers are interpolated
            f"{start} + (i % 1000) AS timestamp, {start} AS ingestion_time, "
            "i + 1 AS seq, 'm' || i::VARCHAR AS message FROM range(1000000000000) t(i)"
        )
        return "endless"


async def fill(store: Store) -> None:
    """Groups `app-a` (sealed + memtable events) and `app-b` (memtable), JSON messages."""
    await make_group(store, "app-a", "web-1", "web-2")
    await make_group(store, "app-b", "worker")
    t = BASE_S * 1000
    await store.append(
        "app-a",
        "web-1",
        InputEvents(
            [t, t + 1000, t + 2000],
            [
                '{"level":"INFO","ms":10,"user":"ann"}',
                '{"level":"ERROR","ms":30,"user":"bob"}',
                '{"level":"INFO","ms":20,"user":"ann"}',
            ],
        ),
    )
    assert await store.seal_now() >= 1
    await store.append(
        "app-a",
        "web-2",
        InputEvents([t + 3000, t + 4000], ['{"level":"ERROR","ms":50}', "plain text line"]),
    )
    await store.append("app-b", "worker", InputEvents([t + 1500], ['{"level":"ERROR","ms":5}']))


async def wait_for(service: QueryService, query_id: str, *statuses: str) -> str:
    """Poll until the query has one of `statuses` (a bound, not a timed assertion)."""
    for _ in range(3000):
        got = (await service.get_query_results(query_id)).status
        if got in statuses:
            return got
        await asyncio.sleep(0.01)
    raise AssertionError(f"query {query_id} never reached {statuses}; last {got}")
