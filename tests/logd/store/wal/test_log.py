"""The Wal facade: the size bound (block and drop), replay, lifecycle."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from logd.store.wal import Position, Wal, WalClosed, WalFull, WalOptions
from tests.logd.store.wal.helpers import SMALL, reopen, small, until

BOUND = small(max_bytes=3 * SMALL)  # three 4 KiB files


async def fill_to_the_bound(wal: Wal) -> list[Position]:
    """Append 1 KiB records while they fit under max_bytes without waiting."""
    positions = []
    while wal.bytes_on_disk + 1032 <= wal.options.max_bytes:
        positions.append(await wal.append(os.urandom(1024)))
    return positions


async def test_block_waits_until_a_cursor_frees_a_file(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, BOUND)
    cursor = wal.cursor("sealer")
    positions = await fill_to_the_bound(wal)
    pending = [asyncio.create_task(wal.append(os.urandom(1024))) for _ in range(4)]
    await until(lambda: wal.backpressure_active)
    assert not any(t.done() for t in pending)
    assert wal.bytes_on_disk <= BOUND.max_bytes
    cursor.commit(positions[-1])  # everything read: sealed files may go
    done = await asyncio.gather(*pending)
    assert not wal.backpressure_active
    assert done == sorted(done)  # blocked appends keep their order
    assert wal.bytes_on_disk <= BOUND.max_bytes
    assert [p for p, _ in wal.records(positions[-1])] == done
    await wal.close()


async def test_drop_raises_wal_full_and_counts(tmp_path: Path) -> None:
    options = small(max_bytes=3 * SMALL, on_full="drop")
    wal, _ = Wal.open(tmp_path, options)
    cursor = wal.cursor("sealer")
    positions = await fill_to_the_bound(wal)
    for _ in range(3):
        with pytest.raises(WalFull):
            await wal.append(os.urandom(1024))
    with pytest.raises(WalFull):
        await wal.append_many([b"a", b"b"] * 100)
    assert (wal.dropped_appends, wal.dropped_records) == (4, 3 + 200)
    cursor.commit(positions[-1])
    await cursor.flush()
    await until(lambda: wal.bytes_on_disk + 1032 <= options.max_bytes)
    position = await wal.append(b"fits again")
    assert position > positions[-1]
    kept = [p for _, p in wal.records()]
    assert kept[-1] == b"fits again"
    assert len(kept) < len(positions)  # the files the cursor passed are gone
    await wal.close()
    assert await reopen(tmp_path, options) == kept


async def test_close_wakes_blocked_appends_with_wal_closed(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, BOUND)
    wal.cursor("sealer")
    await fill_to_the_bound(wal)
    blocked = asyncio.create_task(wal.append(os.urandom(1024)))
    await until(lambda: wal.backpressure_active)
    await wal.close()
    with pytest.raises(WalClosed):
        await blocked


async def test_close_flushes_pending_appends_and_is_idempotent(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, WalOptions(fsync="interval", fsync_interval_ms=50))
    tasks = [asyncio.create_task(wal.append(b"pending %d" % i)) for i in range(50)]
    await asyncio.sleep(0)  # let them queue
    await asyncio.gather(wal.close(), wal.close())
    await wal.close()
    assert all(t.done() and not t.exception() for t in tasks)
    assert wal.closed
    with pytest.raises(WalClosed):
        await wal.append(b"late")
    with pytest.raises(WalClosed):
        wal.cursor("c")
    assert await reopen(tmp_path) == [b"pending %d" % i for i in range(50)]


async def test_async_with_and_records_after(tmp_path: Path) -> None:
    async with Wal.open(tmp_path, small())[0] as wal:
        positions = await wal.append_many([b"a", b"b", b"c"])
        assert wal.end_position == positions[-1]
        assert list(wal.records(positions[0])) == [(positions[1], b"b"), (positions[2], b"c")]
        assert list(wal.records(positions[-1])) == []
        assert [p for _, p in wal.records()] == [b"a", b"b", b"c"]
    assert wal.closed


async def test_recovered_records_come_before_new_ones(tmp_path: Path) -> None:
    async with Wal.open(tmp_path, small())[0] as wal:
        old = await wal.append(b"old")
    wal, report = Wal.open(tmp_path, small())
    async with wal:
        assert report.records == 1
        assert wal.end_position > old
        new = await wal.append(b"new")
        assert new.file == old.file + 1
        assert [p for _, p in wal.records()] == [b"old", b"new"]


def test_options_are_validated(tmp_path: Path) -> None:
    for bad in (
        WalOptions(fsync="sometimes"),  # type: ignore[arg-type]
        WalOptions(on_full="panic"),  # type: ignore[arg-type]
        WalOptions(segment_bytes=1 << 20, max_bytes=1 << 20),
        WalOptions(segment_bytes=100),
        WalOptions(fsync_interval_ms=-1),
    ):
        with pytest.raises(ValueError, match="must"):
            Wal.open(tmp_path, bad)
