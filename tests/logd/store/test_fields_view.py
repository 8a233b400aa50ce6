"""Sealing order and typed fields, the DuckDB view's `f.` columns, DeleteLogStream."""

from __future__ import annotations

from pathlib import Path

import duckdb

from logd.clock import ManualClock
from logd.errors import ResourceNotFoundException
from logd.model import DAY_MS, InputEvents
from logd.store.fields import discover

from .support import NOW, batch, make_group, open_store, rows


def test_discovery_never_yields_clashing_columns() -> None:
    messages = ['{"a": 1, "A": 2, "b": {"c": 1}}', '{"b": "flat", "a": 3}', '{"b": {"c": 2}}']
    fields = discover(messages, max_fields=10, max_depth=4)
    lowered = [p.lower() for p in fields]
    assert len(lowered) == len(set(lowered))
    assert not ({"b", "b.c"} <= set(fields))
    assert fields["a"] == "bigint"


async def test_sealed_segments_are_sorted_and_split_by_day(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "a", "b")
        await store.append("g", "a", batch([NOW - 10, NOW], "late"))
        await store.append("g", "b", batch([NOW - DAY_MS, NOW - 20], "early"))
        assert await store.seal_now() == 4
        segs = sorted(store.catalog.all_segments(), key=lambda s: s.min_ts)
        assert len(segs) == 2
        assert (segs[0].rows, segs[1].rows) == (1, 3)
        table = store.files.read_table(segs[1])
        assert table.column("timestamp").to_pylist() == [NOW - 20, NOW - 10, NOW]
        assert table.column("seq").to_pylist() == [4, 1, 2]


async def test_the_view_exposes_discovered_fields_across_segments_and_memtable(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        await store.append(
            "g", "s", InputEvents([NOW] * 2, ['{"status": 200, "n": 1}', '{"status": 503}'])
        )
        await store.seal_now()
        await store.append(
            "g", "s", InputEvents([NOW] * 2, ['{"status": "x", "user": "u1"}', "plain"])
        )
        await store.seal_now()
        await store.append("g", "s", InputEvents([NOW], ['{"status": 7, "user": "u2"}']))
        source = store.source()
        fields = source.fields(["g"])
        assert fields == {"f.n": "BIGINT", "f.status": "VARCHAR", "f.user": "VARCHAR"}
        con = duckdb.connect()
        view = source.bind(con, groups=["g"], start_ms=0, end_ms=NOW + 1)
        names = [d[0] for d in con.sql(f"SELECT * FROM {view} LIMIT 0").description]  # noqa: S608 - view names come from the store
        assert names == [
            "group", "stream", "timestamp", "ingestion_time", "seq", "message", *fields
        ]  # fmt: skip
        got = con.sql(f'SELECT seq, "f.status", "f.user", "f.n" FROM {view} ORDER BY seq')  # noqa: S608 - view names come from the store
        assert got.fetchall() == [
            (1, "200", None, 1),
            (2, "503", None, None),
            (3, "x", "u1", None),
            (4, None, None, None),
            (5, "7", "u2", None),
        ]
        con.close()


async def test_deleted_stream_vanishes_from_every_read_at_once(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "a", "b")
        await store.append("g", "a", batch([NOW] * 3, "old-a"))
        await store.append("g", "b", batch([NOW] * 2, "b"))
        await store.seal_now()
        await store.append("g", "a", batch([NOW], "unsealed-a"))
        await store.delete_stream("g", "a")
        assert {r["message"] for r in rows(store, ["g"])} == {"b-0", "b-1"}
        con = duckdb.connect()
        view = store.source().bind(con, groups=["g"], start_ms=0, end_ms=NOW + 1)
        assert con.sql(f"SELECT count(*) FROM {view}").fetchall() == [(2,)]  # noqa: S608 - view names come from the store
        con.close()
        try:
            await store.append("g", "a", batch([NOW], "x"))
        except ResourceNotFoundException:
            pass
        else:
            raise AssertionError("appending to a deleted stream must fail")
        store.catalog.create_stream("g", "a", now_ms=NOW)  # same name, new stream
        await store.append("g", "a", batch([NOW], "new-a"))
        assert sorted(r["message"] for r in rows(store, ["g"])) == ["b-0", "b-1", "new-a-0"]
        await store.seal_now()
        assert store.stats().deleted_stream_tombstones == 1
        report = await store.sweep_now()
        assert report["tombstones"] == 1
        assert store.stats().deleted_stream_tombstones == 0
        stored = []
        for seg in store.catalog.all_segments():
            stored += store.files.read_table(seg).column("message").to_pylist()
        assert sorted(stored) == ["b-0", "b-1", "new-a-0"]
        total = sum(len(m) + 26 for m in stored)
        assert store.catalog.require_group("g").stored_bytes == total
    again = await open_store(tmp_path, clock)
    assert sorted(r["message"] for r in rows(again, ["g"])) == ["b-0", "b-1", "new-a-0"]
    await again.close()


async def test_a_tombstone_survives_a_restart_before_the_sweep(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    store = await open_store(tmp_path, clock)
    await make_group(store, "g", "a", "b")
    await store.append("g", "a", batch([NOW] * 2, "a"))
    await store.append("g", "b", batch([NOW], "b"))
    await store.delete_stream("g", "a")
    await store.close()
    again = await open_store(tmp_path, clock)
    assert [r["message"] for r in rows(again, ["g"])] == ["b-0"]
    await again.seal_now()
    assert [r["message"] for r in rows(again, ["g"])] == ["b-0"]
    await again.close()


async def test_a_message_that_only_looks_like_json_gets_null_fields_and_is_kept(
    tmp_path: Path,
) -> None:
    messages = [
        '{"n": 1, "who": "a"}',
        '{"n": 2, "who": "b"',  # cut short
        '{"n": oops}',
        "{",
        '{"n": {"deep": 1}, "who": ["x"]}',  # a bigint path holding an object
        '{"n": 3, "who": "c"}',
        "plain text",
    ]
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s")
        await store.append("g", "s", InputEvents([NOW] * len(messages), messages))
        await store.seal_now()
        source = store.source()
        con = duckdb.connect()
        view = source.bind(con, groups=["g"], start_ms=0, end_ms=NOW + 1)
        got = con.sql(f'SELECT message, "f.n", "f.who" FROM {view} ORDER BY seq').fetchall()  # noqa: S608 - view names come from the store
        con.close()
    assert [m for m, _, _ in got] == messages
    assert [(n, who) for _, n, who in got] == [
        (1, "a"),
        (None, None),
        (None, None),
        (None, None),
        (None, '["x"]'),
        (3, "c"),
        (None, None),
    ]
