"""Cursors: durable across restarts; WAL files go only once every cursor has passed them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logd.store.wal import Position, Wal
from logd.store.wal.cursors import cursor_file_name, decode_cursor, encode_cursor
from logd.store.wal.record import FILE_HEADER_SIZE
from logd.store.wal.recovery import wal_file_name
from tests.logd.store.wal.helpers import small, until


async def fill(wal: Wal, files: int) -> list[Position]:
    """Append 300-byte records until at least `files` files are sealed."""
    positions: list[Position] = []
    while len({p.file for p in positions}) <= files:
        positions.append(await wal.append(os.urandom(300)))
    return positions


def wal_files(directory: Path) -> list[int]:
    return sorted(int(p.name.split(".")[0]) for p in directory.glob("*.wal"))


@given(
    st.text(max_size=600),
    st.none() | st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
)
def test_cursor_file_round_trip(name: str, position: tuple[int, int] | None) -> None:
    pos = Position(*position) if position is not None else None
    data = encode_cursor(name, pos)
    assert decode_cursor(data) == (name, pos)
    for i in range(len(data)):
        damaged = bytearray(data)
        damaged[i] ^= 0x10
        assert decode_cursor(bytes(damaged)) != (name, pos)
    assert len(cursor_file_name(name)) < 64  # long group names still make short file names


async def test_cursors_survive_a_restart(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    positions = [await wal.append(b"r%d" % i) for i in range(10)]
    sealer = wal.cursor("sealer")
    sub = wal.cursor("sub:/aws/group:filter")
    sealer.commit(positions[6])
    sub.commit(positions[2])
    sub.commit(positions[3])
    latest = wal.cursor("late", start="latest")
    await wal.close()
    wal, report = Wal.open(tmp_path, small())
    assert report.cursors == 3
    assert wal.cursors() == {
        "sealer": positions[6],
        "sub:/aws/group:filter": positions[3],
        "late": latest.position,
    }
    assert [p for p, _ in wal.records(wal.cursor("sealer").position)] == positions[7:]
    await wal.close()


async def test_flush_makes_a_commit_durable_now(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    position = await wal.append(b"x")
    cursor = wal.cursor("c")
    cursor.commit(position)
    await cursor.flush()
    data = (tmp_path / "cursors" / cursor_file_name("c")).read_bytes()
    assert decode_cursor(data) == ("c", position)
    await wal.close()


async def test_commits_only_move_forward_and_not_past_the_end(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    a, b = await wal.append(b"a"), await wal.append(b"b")
    cursor = wal.cursor("c")
    cursor.commit(b)
    with pytest.raises(ValueError, match="back"):
        cursor.commit(a)
    with pytest.raises(ValueError, match="past the durable end"):
        cursor.commit(Position(b.file, b.offset + 1))
    wal.remove_cursor("c")
    with pytest.raises(KeyError):
        cursor.commit(b)
    await wal.close()


async def test_a_file_is_deleted_only_after_every_cursor_passed_it(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    a, b = wal.cursor("a"), wal.cursor("b")
    positions = await fill(wal, 4)
    first_files = wal_files(tmp_path)
    assert len(first_files) >= 5
    a.commit(positions[-1])
    await a.flush()
    assert wal_files(tmp_path) == first_files  # b has read nothing
    last_of = {p.file: p for p in positions}
    b.commit(last_of[first_files[1]])  # b finished files 1 and 2
    await b.flush()
    await until(lambda: wal.files() == first_files[2:])  # the loop learns after the unlink
    assert wal_files(tmp_path) == first_files[2:]
    b.commit(Position(last_of[first_files[2]].file, last_of[first_files[2]].offset - 308))
    await b.flush()
    assert wal_files(tmp_path) == first_files[2:]  # one record of file 3 left for b
    wal.remove_cursor("b")  # a alone decides now: everything sealed goes
    await until(lambda: wal.files() == [first_files[-1]])
    assert wal_files(tmp_path) == [first_files[-1]]
    assert wal.bytes_on_disk == (tmp_path / wal_file_name(first_files[-1])).stat().st_size
    await wal.close()
    assert list((tmp_path / "cursors").iterdir()) == [tmp_path / "cursors" / cursor_file_name("a")]


async def test_without_cursors_no_file_with_records_is_deleted(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    await fill(wal, 3)
    files = wal_files(tmp_path)
    await wal.cursor("x").flush()
    wal.remove_cursor("x")
    await wal.close()
    assert wal_files(tmp_path)[: len(files)] == files


async def test_a_recovered_file_goes_once_cursors_have_passed_it(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    cursor = wal.cursor("c")
    positions = await fill(wal, 1)
    cursor.commit(positions[-1])
    await wal.close()
    newest = positions[-1].file
    assert wal_files(tmp_path) == [newest]  # file 1 went during the first run
    wal, _ = Wal.open(tmp_path, small())
    assert wal_files(tmp_path) == [newest, newest + 1]
    await wal.append(b"wake")  # first use of the loop schedules housekeeping
    await until(lambda: wal.files() == [newest + 1])
    assert wal_files(tmp_path) == [newest + 1]
    await wal.close()


async def test_leftovers_and_corrupt_cursor_files_at_open(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    position = await wal.append(b"x")
    wal.cursor("good").commit(position)
    wal.cursor("bad")
    await wal.close()
    cursors = tmp_path / "cursors"
    (cursors / "unfinished.cursor.tmp").write_bytes(b"half")
    bad = cursors / cursor_file_name("bad")
    bad.write_bytes(bad.read_bytes()[:-1])
    wal, report = Wal.open(tmp_path, small())
    assert (report.cursors, report.corrupt_cursors) == (1, 1)
    assert wal.cursors() == {"good": position}
    assert sorted(p.name for p in cursors.iterdir()) == sorted(
        [cursor_file_name("good"), bad.name + ".corrupt"]
    )
    await wal.close()


async def test_lag_counts_record_bytes_behind_the_end(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    cursor = wal.cursor("c")
    assert wal.lag("c") == 0
    positions = await fill(wal, 2)
    record_bytes = sum(
        p.offset - (prev.offset if prev.file == p.file else FILE_HEADER_SIZE)
        for prev, p in zip([Position(0, 0), *positions], positions, strict=False)
    )
    assert wal.lag("c") == record_bytes == len(positions) * 308
    cursor.commit(positions[-3])
    assert wal.lag("c") == 2 * 308
    await wal.close()
