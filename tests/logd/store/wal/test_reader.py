"""WalReader: history from disk, then live records once durable; resumes from its cursor."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from logd.store.wal import Position, Wal, WalReader
from tests.logd.store.wal.helpers import small, until


async def take(reader: WalReader, n: int, wal: Wal) -> list[tuple[Position, bytes]]:
    """The next `n` records, checking that each was durable when it was yielded."""
    out = []
    async for position, payload in reader:
        assert position <= wal.writer.synced
        assert position <= wal.end_position
        out.append((position, payload))
        if len(out) == n:
            break
    return out


@pytest.mark.parametrize("cache", [8 << 20, 0], ids=["cached", "from-disk"])
async def test_a_reader_sees_records_live(tmp_path: Path, cache: int) -> None:
    wal, _ = Wal.open(tmp_path, small(reader_cache_bytes=cache, max_bytes=1 << 20))
    reader = wal.reader("sub", start="latest")
    consumer = asyncio.create_task(take(reader, 270, wal))
    positions: list[Position] = []
    for i in range(30):  # thirty rounds of concurrent appends, some batched
        batch = [os.urandom(i * 5 % 200) for _ in range(9)]
        singles = asyncio.gather(*(wal.append(p) for p in batch[4:]))
        many, one_by_one = await asyncio.gather(wal.append_many(batch[:4]), singles)
        positions += [*many, *one_by_one]
        await asyncio.sleep(0)
    seen = await consumer
    assert [p for p, _ in seen] == sorted(positions) == [p for p, _ in wal.records()]
    assert [p for _, p in seen] == [p for _, p in wal.records()]
    await wal.close()


async def test_earliest_reads_history_latest_skips_it(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small(max_bytes=1 << 20))
    old = await wal.append_many([b"old %d" % i for i in range(50)])
    early = wal.reader("early", start="earliest")
    late = wal.reader("late", start="latest")
    new = await wal.append(b"new")
    assert [p for p, _ in await take(early, 51, wal)] == [*old, new]
    assert await take(late, 1, wal) == [(new, b"new")]
    await wal.close()


async def test_a_reader_resumes_after_a_restart(tmp_path: Path) -> None:
    options = small(max_bytes=1 << 20)
    wal, _ = Wal.open(tmp_path, options)
    written = [os.urandom(100) for _ in range(100)]
    await wal.append_many(written)
    reader = wal.reader("sub", start="earliest")
    first = await take(reader, 40, wal)
    reader.commit(first[-1][0])
    await take(reader, 10, wal)  # read but not committed: delivered again
    await wal.close()

    wal, report = Wal.open(tmp_path, options)
    assert report.cursors == 1
    reader = wal.reader("sub", start="latest")  # existing cursor: start is ignored
    assert reader.position == first[-1][0]
    more = await wal.append(b"after restart")
    rest = await take(reader, 61, wal)
    assert [p for _, p in first + rest] == [*written, b"after restart"]
    assert rest[-1][0] == more
    await wal.close()


async def test_readers_stop_when_the_wal_closes(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    reader = wal.reader("sub")
    other = wal.reader("other")

    async def drain(r: WalReader) -> list[bytes]:
        return [payload async for _, payload in r]

    tasks = [asyncio.create_task(drain(r)) for r in (reader, other)]
    one = await wal.append(b"one")
    await until(lambda: reader.position == one == other.position)
    other.close()
    assert await tasks[1] == [b"one"]
    await wal.close()
    assert await tasks[0] == [b"one"]


async def test_a_lagging_reader_reads_rolled_files_from_disk(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small(max_bytes=1 << 20, reader_cache_bytes=4096))
    fast = wal.reader("fast", start="earliest")
    slow = wal.reader("slow", start="earliest")
    written = [os.urandom(300) for _ in range(60)]  # ~5 files, beyond the cache
    for p in written:
        await wal.append(p)
    got = await take(fast, 60, wal)
    fast.commit(got[-1][0])
    assert len(wal.files()) > 3  # slow holds them
    slow_got = await take(slow, 60, wal)
    assert [p for _, p in slow_got] == written
    slow.commit(slow_got[-1][0])
    await until(lambda: len(wal.files()) == 1)
    await wal.close()
