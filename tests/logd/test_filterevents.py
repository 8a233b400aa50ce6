"""FilterLogEvents' query over a real store: order, cursors, bounds, both engines."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest

from logd.clock import ManualClock
from logd.errors import InvalidParameterException, ResourceNotFoundException
from logd.filterevents import FilterQuery, PageDatabase, filter_events
from logd.model import InputEvents, seq_of_event_id
from logd.store.store import Store

from .store.support import NOW, make_group, open_store

ENGINES = ("sql", "predicate")


def page_through(store, query, limit, engine, *, between=None, database=None):
    """Every event of the query, page by page; `between(page_number)` runs between pages."""
    out, cursor, pages, hint = [], None, 0, None
    while True:
        page = filter_events(
            store,
            query,
            after=cursor,
            limit=limit,
            engine=engine,
            width_hint=hint,
            database=database,
        )
        assert len(page.events) <= limit
        out += page.events
        pages += 1
        if page.cursor is None:
            return out, pages
        assert page.events, "a page with a cursor but nothing in it never ends"
        last = page.events[-1]
        assert page.cursor == (last["timestamp"], seq_of_event_id(last["eventId"]))
        cursor, hint = page.cursor, page.width_hint
        if between is not None:
            between(pages)


async def fill(store: Store) -> list[tuple[int, int, str, str]]:
    """100,000 events in two streams, half matching `ERROR`; the first 60,000 sealed.

    Timestamps repeat (ties broken by seq) and the memtable's events interleave in time
    with the sealed ones, so a page boundary falls across segments and memtable.
    """
    await make_group(store, "g", "a", "b")
    expected = []
    seq = 0
    for chunk in range(10):
        if chunk == 6:
            assert await store.seal_now() > 0
        stream = "ab"[chunk % 2]
        base = NOW - 10 * 3_600_000 + (chunk % 6) * 1_000
        ts = [base + i // 4 for i in range(10_000)]
        msgs = [f"{'ERROR' if i % 2 == 0 else 'INFO'} chunk={chunk} i={i}" for i in range(10_000)]
        result = await store.append("g", stream, InputEvents(ts, msgs))
        assert result.accepted == 10_000
        for t, m in zip(ts, msgs, strict=True):
            seq += 1
            if m.startswith("ERROR"):
                expected.append((t, seq, stream, m))
    expected.sort()
    return expected


@pytest.mark.parametrize("engine", ENGINES)
async def test_50k_matches_across_pages_no_loss_no_repeat(tmp_path: Path, engine: str) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        expected = await fill(store)
        assert len(expected) == 50_000
        assert store.catalog.all_segments(), "part of the data must be sealed"
        assert store.memtable.rows > 0, "part of the data must still be in the memtable"
        query = FilterQuery(group="g", pattern="ERROR")
        limit = 1_000 if engine == "sql" else 5_000
        got, pages = page_through(store, query, limit, engine)
        assert pages == 50_000 // limit  # the last full page already says "done"
        assert len({e["eventId"] for e in got}) == len(got) == 50_000
        keys = [(e["timestamp"], seq_of_event_id(e["eventId"])) for e in got]
        assert keys == [(t, s) for t, s, _, _ in expected]
        assert [(e["logStreamName"], e["message"]) for e in got[:3]] == [
            (s, m) for _, _, s, m in expected[:3]
        ]
        assert all(e["ingestionTime"] == NOW for e in got[:10])


async def test_engines_agree_and_sealing_between_pages_changes_nothing(tmp_path: Path) -> None:
    rng = random.Random(7)
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s1", "s2", "t1")
        for k in range(6):
            stream = ("s1", "s2", "t1")[k % 3]
            ts = sorted(NOW - rng.randrange(0, 50_000) for _ in range(2_000))
            msgs = [
                orjson.dumps(
                    {"level": rng.choice(["ERROR", "INFO"]), "latency": rng.randrange(900)}
                ).decode()
                if rng.random() < 0.7
                else f"plain {rng.randrange(100)}"
                for _ in ts
            ]
            await store.append("g", stream, InputEvents(ts, msgs))
            if k == 2:
                await store.seal_now()
        queries = [
            FilterQuery(group="g", pattern='{ $.level = "ERROR" && $.latency > 300 }'),
            FilterQuery(group="g", pattern="plain", stream_prefix="s"),
            FilterQuery(
                group="g", streams=("t1", "nope"), start_ms=NOW - 20_000, end_ms=NOW - 10_000
            ),
            FilterQuery(group="g", pattern="", ascending=False),
        ]
        for query in queries:
            sql, _ = page_through(store, query, 333, "sql")
            pred, _ = page_through(store, query, 333, "predicate")
            assert sql == pred
            assert sql, query
            order = [(e["timestamp"], e["eventId"]) for e in sql]
            assert order == sorted(order, reverse=not query.ascending)
        ranged = page_through(store, queries[2], 10_000, "sql")[0]
        assert {e["logStreamName"] for e in ranged} == {"t1"}
        assert min(e["timestamp"] for e in ranged) >= NOW - 20_000
        assert max(e["timestamp"] for e in ranged) <= NOW - 10_000
        # sealing the memtable between pages neither repeats nor loses an event
        whole = page_through(store, queries[0], 10_000, "sql")[0]
        await store.append("g", "s1", InputEvents([NOW - 60_000], ['{"level": "ERROR"}']))
        pages = []
        cursor = None
        while True:
            page = filter_events(store, queries[0], after=cursor, limit=97)
            pages += page.events
            if page.cursor is None:
                break
            cursor = page.cursor
            if len(pages) // 97 == 3:
                assert await store.seal_now() > 0
        assert pages == whole


async def test_end_time_is_inclusive_and_new_events_after_the_cursor_appear(
    tmp_path: Path,
) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s")
        await store.append("g", "s", InputEvents([NOW - 3, NOW - 2, NOW - 1], ["x1", "x2", "x3"]))
        query = FilterQuery(group="g", start_ms=NOW - 3, end_ms=NOW - 2)
        assert [e["message"] for e in filter_events(store, query).events] == ["x1", "x2"]
        first = filter_events(store, FilterQuery(group="g"), limit=2)
        assert [e["message"] for e in first.events] == ["x1", "x2"]
        assert first.cursor is not None
        await store.seal_now()
        # after the cursor in (timestamp, seq): counted; before it: not part of the rest
        await store.append("g", "s", InputEvents([NOW - 3, NOW - 2, NOW], ["old", "tie", "new"]))
        rest = filter_events(store, FilterQuery(group="g"), after=first.cursor)
        assert [e["message"] for e in rest.events] == ["tie", "x3", "new"]
        assert rest.cursor is None


@pytest.mark.parametrize("engine", ENGINES)
async def test_pages_stop_at_one_megabyte(tmp_path: Path, engine: str) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s")
        big = ["y" * 100_000 + str(i) for i in range(30)]
        for lo in range(0, 30, 9):  # PutLogEvents takes at most 1 MB a batch
            ts = [NOW - 30 + i for i in range(lo, min(lo + 9, 30))]
            await store.append("g", "s", InputEvents(ts, big[lo : lo + 9]))
        got, pages = page_through(store, FilterQuery(group="g"), 10_000, engine)
        assert [e["message"] for e in got] == big
        assert pages == 3  # 10 events of ~100 KB fit in 1 MB
        page = filter_events(store, FilterQuery(group="g"), engine=engine)
        assert sum(len(e["message"]) + 26 for e in page.events) <= 1_048_576


async def test_errors_and_empty_results(tmp_path: Path) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s")
        with pytest.raises(ResourceNotFoundException):
            filter_events(store, FilterQuery(group="missing"))
        with pytest.raises(InvalidParameterException, match="filter pattern"):
            filter_events(store, FilterQuery(group="g", pattern="{ $.a = "))
        page = filter_events(store, FilterQuery(group="g", pattern="'; DROP TABLE x; --"))
        assert page.events == []
        assert page.cursor is None
        await store.append("g", "s", InputEvents([NOW], ["it's $1 %s ' \" quoted"]))
        hit = filter_events(store, FilterQuery(group="g", pattern='"it\'s $1"'))
        assert [e["message"] for e in hit.events] == ["it's $1 %s ' \" quoted"]
        assert filter_events(store, FilterQuery(group="g", streams=())).events == []
        assert (
            filter_events(store, FilterQuery(group="g", start_ms=NOW + 1, end_ms=NOW)).events == []
        )
        digest = FilterQuery(group="g").digest()
        assert digest == FilterQuery(group="g").digest()
        assert digest != FilterQuery(group="g", pattern="x").digest()


async def test_pages_from_a_shared_database_are_the_same(tmp_path: Path) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s")
        msgs = [f'{{"level": "{"ERROR" if i % 3 else "INFO"}", "n": {i}}}' for i in range(900)]
        await store.append("g", "s", InputEvents([NOW - 900 + i for i in range(900)], msgs))
        await store.seal_now()
        await store.append("g", "s", InputEvents([NOW] * 10, msgs[:10]))
        database = PageDatabase()
        try:
            for pattern in ('{ $.level = "ERROR" && $.n > 100 }', "INFO", ""):
                query = FilterQuery(group="g", pattern=pattern)
                alone = page_through(store, query, 50, "sql")
                shared = page_through(store, query, 50, "sql", database=database)
                assert shared == alone
                assert alone[1] > 2
        finally:
            database.close()
