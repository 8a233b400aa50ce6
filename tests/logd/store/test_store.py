"""The facade: append, read-your-writes, sealing, recovery, checkpoints, readers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.errors import InvalidParameterException, ResourceNotFoundException
from logd.model import InputEvents
from logd.store import record
from logd.store.schema import EVENT_SCHEMA

from .support import NOW, batch, make_group, open_store, realistic, rows


async def test_read_your_writes_and_sequence_numbers(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "a", "b")
        r1 = await store.append("g", "a", batch([NOW - 5, NOW - 5, NOW]))
        assert (r1.accepted, r1.first_seq, r1.last_seq, r1.ingestion_time) == (3, 1, 3, NOW)
        got = rows(store, ["g"])
        assert [r["seq"] for r in got] == [1, 2, 3]
        assert got[0] == {
            "group": "g",
            "stream": "a",
            "timestamp": NOW - 5,
            "ingestion_time": NOW,
            "seq": 1,
            "message": "m-0",
        }
        r2 = await store.append("g", "b", batch([NOW]))
        assert r2.first_seq == 4
        for b in store.scan(["g"], 0, NOW + 1):
            assert b.schema == EVENT_SCHEMA


async def test_concurrent_appends_get_distinct_increasing_seqs(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        results = await asyncio.gather(
            *(store.append("g", "s", batch([NOW] * 10, f"t{i}")) for i in range(20))
        )
        seqs = sorted(s for r in results for s in range(r.first_seq, r.last_seq + 1))
        assert seqs == list(range(1, 201))
        assert len(rows(store, ["g"])) == 200


async def test_unknown_group_or_stream_and_invalid_batches(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        with pytest.raises(ResourceNotFoundException, match="log group does not exist"):
            await store.append("nope", "s", batch([NOW]))
        await make_group(store, "g", "s")
        with pytest.raises(ResourceNotFoundException, match="log stream does not exist"):
            await store.append("g", "nope", batch([NOW]))
        with pytest.raises(InvalidParameterException, match="chronological"):
            await store.append("g", "s", batch([NOW, NOW - 1]))
        assert rows(store, ["g"]) == []


async def test_rejected_events_are_reported_and_not_stored(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        r = await store.append("g", "s", batch([NOW - 15 * 86_400_000, NOW, NOW + 3 * 3_600_000]))
        assert r.accepted == 1
        assert (r.first_seq, r.last_seq) == (1, 1)
        assert r.rejected is not None
        assert (r.rejected.too_old_end, r.rejected.too_new_start) == (1, 2)
        assert [x["message"] for x in rows(store, ["g"])] == ["m-1"]
        stream = store.catalog.get_stream("g", "s")
        assert stream is not None
        assert (stream.first_event_ts, stream.last_event_ts) == (NOW, NOW)
        assert store.catalog.require_group("g").stored_bytes == len("m-1") + 26


async def test_ingestion_time_never_goes_backwards(tmp_path: Path) -> None:
    """R-14: a -1 h wall jump keeps ingestion time and sequence numbers moving forward."""
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        first = await store.append("g", "s", batch([NOW]))
        clock.set(NOW - 3_600_000)
        second = await store.append("g", "s", batch([NOW - 3_600_000]))
        assert second.ingestion_time == first.ingestion_time
        assert second.first_seq == 2


async def test_sealed_events_read_back_identical(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    lines = realistic(3_000, "mixed")
    async with await open_store(tmp_path, clock, seal_max_events=10**9) as store:
        await make_group(store, "g", "s1", "s2")
        for i in range(0, len(lines), 500):
            chunk = lines[i : i + 500]
            await store.append(
                "g", f"s{i // 500 % 2 + 1}", InputEvents([NOW - 1000 + i] * len(chunk), chunk)
            )
        before = rows(store, ["g"])
        assert await store.seal_now() == 3_000
        assert store.memtable.rows == 0
        after = rows(store, ["g"])
        assert after == before
        assert [r["message"] for r in after] == lines
        segs = store.catalog.all_segments()
        assert segs
        assert all(s.path.startswith(f"group={s.group_id}/day=") for s in segs)
        total = sum(len(m.encode()) + 26 for m in lines)
        assert store.catalog.require_group("g").stored_bytes == total
        assert sum(s.stored_bytes for s in segs) == total


async def test_discovered_typed_columns(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    messages = [
        '{"status": 200, "http": {"method": "GET"}, "lat": 1.5, "ok": true, "mix": 1}',
        '{"status": 503, "http": {"method": "POST"}, "lat": 2, "ok": false, "mix": "x"}',
        "plain text line",
    ]
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        await store.append("g", "s", InputEvents([NOW] * 3, messages))
        await store.seal_now()
        cols = ["seq", "f.status", "f.http.method", "f.lat", "f.ok", "f.mix"]
        got = rows(store, ["g"], columns=cols)
        assert got == [
            {
                "seq": 1,
                "f.status": 200,
                "f.http.method": "GET",
                "f.lat": 1.5,
                "f.ok": True,
                "f.mix": "1",
            },
            {
                "seq": 2,
                "f.status": 503,
                "f.http.method": "POST",
                "f.lat": 2.0,
                "f.ok": False,
                "f.mix": "x",
            },
            {
                "seq": 3,
                "f.status": None,
                "f.http.method": None,
                "f.lat": None,
                "f.ok": None,
                "f.mix": None,
            },
        ]
        table = store.files.read_table(store.catalog.all_segments()[0])
        assert str(table.schema.field("f.status").type) == "int64"
        assert str(table.schema.field("f.mix").type) == "string"
        # Scans that do not ask for discovered fields never see them.
        assert set(rows(store, ["g"])[0]) == set(EVENT_SCHEMA.names)


async def test_discovered_fields_are_capped_per_segment(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    messages = ["{" + ", ".join(f'"k{i}": {i}' for i in range(50)) + "}"] * 3
    async with await open_store(tmp_path, clock, discovered_fields_max=7) as store:
        await make_group(store, "g", "s")
        await store.append("g", "s", InputEvents([NOW] * 3, messages))
        await store.seal_now()
        table = store.files.read_table(store.catalog.all_segments()[0])
        assert len([c for c in table.column_names if c.startswith("f.")]) == 7


async def test_recovery_replays_unsealed_events_and_continues_seqs(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    store = await open_store(tmp_path, clock)
    await make_group(store, "g", "s")
    await store.append("g", "s", batch([NOW] * 3, "a"))
    await store.seal_now()
    await store.append("g", "s", batch([NOW] * 2, "b"), checkpoint=("file:1", b"offset=10"))
    await store.append(
        "g",
        "s",
        InputEvents([NOW + 9 * 3_600_000], ["too new"]),
        checkpoint=("file:1", b"offset=20"),
    )
    before = rows(store, ["g"])
    await store.close()
    await store.close()  # idempotent
    again = await open_store(tmp_path, clock)
    assert rows(again, ["g"]) == before
    assert again.checkpoints() == {"file:1": b"offset=20"}
    r = await again.append("g", "s", batch([NOW]))
    assert r.first_seq == 6
    assert again.catalog.require_group("g").stored_bytes == sum(
        len(str(x["message"])) + 26 for x in rows(again, ["g"])
    )
    await again.close()


async def test_deleting_a_group_hides_its_events_at_once(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        await make_group(store, "other", "s")
        await store.append("g", "s", batch([NOW] * 2))
        await store.seal_now()
        await store.append("g", "s", batch([NOW]))
        await store.append("other", "s", batch([NOW]))
        await store.delete_group("g")
        assert rows(store, ["g"]) == []
        await make_group(store, "g", "s")  # same name, new group
        assert rows(store, ["g"]) == []
        assert len(rows(store, ["other"])) == 1
        await store.seal_now()
        await store.sweep_now()
        assert all(s.group_id != 1 for s in store.catalog.all_segments())
        assert not any(p.startswith("group=1/") for p in store.files.list_files())
    again = await open_store(tmp_path, clock)
    assert rows(again, ["g"]) == []
    assert len(rows(again, ["other"])) == 1
    await again.close()


async def test_scan_filters_streams_prefix_columns_and_predicate(tmp_path: Path) -> None:
    import pyarrow.compute as pc

    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "app-1", "app-2", "db")
        for stream in ("app-1", "app-2", "db"):
            await store.append("g", stream, batch([NOW - 10, NOW], stream))
        await store.seal_now()
        await store.append("g", "app-1", batch([NOW], "late"))
        assert len(rows(store, ["g"], streams=["db"])) == 2
        assert len(rows(store, ["g"], stream_prefix="app-")) == 5
        got = rows(store, ["g"], columns=["seq", "message"], predicate=pc.field("timestamp") == NOW)
        assert sorted(r["message"] for r in got) == ["app-1-1", "app-2-1", "db-1", "late-0"]
        window = []
        for b in store.scan(["g"], NOW - 10, NOW):
            window += b.column("timestamp").to_pylist()
        assert window == [NOW - 10] * 3


async def test_store_source_binds_segments_and_memtable_in_duckdb(tmp_path: Path) -> None:
    import duckdb

    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        await make_group(store, "h", "s")
        await store.append("g", "s", batch([NOW - 10, NOW]))
        await store.seal_now()
        await store.append("g", "s", batch([NOW + 1]))
        await store.append("h", "s", batch([NOW]))
        con = duckdb.connect()
        view = store.source().bind(con, groups=["g"], start_ms=NOW - 10, end_ms=NOW + 2)
        got = con.sql(f'SELECT "group", seq, timestamp FROM {view} ORDER BY seq').fetchall()  # noqa: S608 - view names come from the store
        assert got == [("g", 1, NOW - 10), ("g", 2, NOW), ("g", 3, NOW + 1)]
        empty = store.source().bind(con, groups=["missing"], start_ms=0, end_ms=NOW)
        assert con.sql(f"SELECT count(*) FROM {empty}").fetchall() == [(0,)]  # noqa: S608 - view names come from the store
        con.close()


async def test_reader_tails_the_log_with_a_durable_cursor(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s")
        await store.append("g", "s", batch([NOW], "before"))
        reader = store.reader("sub:g:f", start="latest")
        seen: list[str] = []

        async def consume() -> None:
            async for position, payload in reader:
                seen.extend(record.decode(payload).messages.to_pylist())
                reader.commit(position)
                if len(seen) == 3:
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
        await store.append("g", "s", batch([NOW], "a"))
        await store.append("g", "s", batch([NOW, NOW], "b"))
        await asyncio.wait_for(task, 5)
        assert seen == ["a-0", "b-0", "b-1"]
        early = store.reader("other", start="earliest")
        first = [record.decode(p).messages.to_pylist() async for _, p in _take(early, 1)]
        assert first == [["before-0"]]
        store.drop_reader("other")


async def _take(reader, n):
    count = 0
    async for item in reader:
        yield item
        count += 1
        if count == n:
            return
