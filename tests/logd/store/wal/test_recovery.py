"""Recovery (R-03): every torn or corrupted tail yields exactly the intact prefix, counted."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logd.store.wal import Position, Wal, WalError
from logd.store.wal.reader import FileSpan, iter_spans
from logd.store.wal.record import (
    FILE_HEADER_SIZE,
    RECORD_HEADER_SIZE,
    encode_file_header,
    encode_record,
)
from logd.store.wal.recovery import scan_directory, scan_file, wal_file_name
from tests.logd.store.wal.helpers import reopen, small

PAYLOADS = [b"p%02d" % i * (i * 3 % 7) for i in range(12)]  # 0..24 bytes, some empty


def ends_of(payloads: list[bytes]) -> list[int]:
    ends, offset = [], FILE_HEADER_SIZE
    for p in payloads:
        offset += RECORD_HEADER_SIZE + len(p)
        ends.append(offset)
    return ends


async def build(directory: Path, payloads: list[bytes]) -> bytes:
    """A closed WAL whose file 1 holds `payloads`; returns that file's bytes."""
    wal, _ = Wal.open(directory, small())
    for p in payloads:
        await wal.append(p)
    await wal.close()
    return (directory / wal_file_name(1)).read_bytes()


def write_case(directory: Path, content: bytes) -> None:
    directory.mkdir()
    (directory / wal_file_name(1)).write_bytes(content)


async def recover_case(directory: Path, content: bytes, expect: int, skipped: int) -> None:
    """Restart on `content` as file 1: exactly `expect` records, `skipped` bytes counted,
    and a new append lands in a new file after them."""
    write_case(directory, content)
    wal, report = Wal.open(directory, small())
    try:
        got = [p for _, p in wal.records()]
        assert got == PAYLOADS[:expect]
        assert report.records == expect
        assert report.files_scanned == 1
        assert report.skipped_bytes == skipped
        assert report.damaged_files == ((1,) if skipped else ())
        position = await wal.append(b"after")
        assert position.file == 2
    finally:
        await wal.close()
    assert await reopen(directory) == [*PAYLOADS[:expect], b"after"]


async def test_truncation_at_every_offset_of_the_last_three_records(tmp_path: Path) -> None:
    original = await build(tmp_path / "original", PAYLOADS)
    ends = ends_of(PAYLOADS)
    assert len(original) == ends[-1]
    for cut in range(ends[-4], ends[-1] + 1):
        expect = sum(1 for end in ends if end <= cut)
        torn = cut - ends[expect - 1]
        await recover_case(tmp_path / f"cut{cut}", original[:cut], expect, torn)


async def test_a_flipped_byte_at_every_offset_of_the_last_three_records(tmp_path: Path) -> None:
    original = await build(tmp_path / "original", PAYLOADS)
    ends = ends_of(PAYLOADS)
    for offset in range(ends[-4], ends[-1]):
        damaged = bytearray(original)
        damaged[offset] ^= 0xFF
        expect = sum(1 for end in ends if end <= offset)
        skipped = len(original) - ends[expect - 1]
        await recover_case(tmp_path / f"flip{offset}", bytes(damaged), expect, skipped)


async def test_a_damaged_file_header_skips_the_whole_file(tmp_path: Path) -> None:
    original = await build(tmp_path / "original", PAYLOADS)
    for offset in range(FILE_HEADER_SIZE):
        damaged = bytearray(original)
        damaged[offset] ^= 0x55
        await recover_case(tmp_path / f"header{offset}", bytes(damaged), 0, len(original))


async def test_a_zero_filled_tail_is_torn_not_a_record(tmp_path: Path) -> None:
    original = await build(tmp_path / "original", PAYLOADS)
    directory = tmp_path / "zeros"
    directory.mkdir()
    (directory / wal_file_name(1)).write_bytes(original + bytes(4096))
    wal, report = Wal.open(directory, small())
    await wal.close()
    assert report.records == len(PAYLOADS)
    assert (report.torn_bytes, report.corrupt_bytes) == (4096, 0)
    # A record whose tail was zeroed (the length landed, the payload did not) is dropped.
    damaged = bytearray(original)
    n = len(PAYLOADS[-1])
    damaged[-n:] = bytes(n)
    await recover_case(tmp_path / "zeroed-tail", bytes(damaged), 11, RECORD_HEADER_SIZE + n)


async def test_an_unfinished_new_file_is_torn(tmp_path: Path) -> None:
    original = await build(tmp_path / "w", PAYLOADS)
    (tmp_path / "w" / wal_file_name(2)).write_bytes(encode_file_header(2)[:10])
    (tmp_path / "w" / wal_file_name(3)).write_bytes(b"")
    wal, report = Wal.open(tmp_path / "w", small())
    assert [p for _, p in wal.records()] == PAYLOADS
    assert report.files_scanned == 3
    assert (report.torn_bytes, report.corrupt_bytes) == (10, 0)
    assert (await wal.append(b"x")).file == 4
    await wal.close()
    assert len(original) == ends_of(PAYLOADS)[-1]


async def test_mid_file_corruption_keeps_the_prefix_and_later_files(tmp_path: Path) -> None:
    directory = tmp_path / "w"
    wal, _ = Wal.open(directory, small())
    written = [os.urandom(300) for _ in range(40)]  # ~12 KiB: four 4 KiB files
    positions = [await wal.append(p) for p in written]
    await wal.close()
    files = sorted({p.file for p in positions})
    assert len(files) >= 3
    middle = files[1]
    in_middle = [i for i, p in enumerate(positions) if p.file == middle]
    victim = in_middle[len(in_middle) // 2]
    path = directory / wal_file_name(middle)
    damaged = bytearray(path.read_bytes())
    damaged[positions[victim].offset - 5] ^= 0x01  # inside that record's payload
    path.write_bytes(bytes(damaged))
    wal, report = Wal.open(directory, small())
    got = [p for _, p in wal.records()]
    await wal.close()
    lost = [i for i in in_middle if i >= victim]
    assert got == [p for i, p in enumerate(written) if i not in lost]
    assert report.damaged_files == (middle,)
    assert report.corrupt_bytes == len(damaged) - positions[victim - 1].offset
    assert report.records == len(written) - len(lost)
    # Once a cursor has passed it, the damaged file is quarantined, the others deleted.
    wal, _ = Wal.open(directory, small())
    cursor = wal.cursor("sealer")
    cursor.commit(wal.end_position)
    await cursor.flush()
    await wal.close()
    assert list((directory / "quarantine").iterdir()) == [directory / "quarantine" / path.name]
    assert (directory / "quarantine" / path.name).read_bytes() == bytes(damaged)
    assert [p.name for p in directory.glob("*.wal")] == [wal_file_name(wal.files()[-1])]


def test_a_file_of_another_format_version_is_refused_not_skipped(tmp_path: Path) -> None:
    head = struct.pack("<8sIQ", b"LOGDWAL\x00", 2, 1)
    (tmp_path / wal_file_name(1)).write_bytes(head + struct.pack("<I", zlib.crc32(head)))
    with pytest.raises(WalError, match="version 2"):
        Wal.open(tmp_path, small())
    assert (tmp_path / wal_file_name(1)).exists()


async def test_an_empty_directory_recovers_to_nothing(tmp_path: Path) -> None:
    wal, report = Wal.open(tmp_path / "new", small())
    assert (report.files_scanned, report.records, report.skipped_bytes) == (0, 0, 0)
    assert list(wal.records()) == []
    assert wal.end_position == Position(1, FILE_HEADER_SIZE)
    await wal.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=4),
    cut=st.integers(0, 10_000),
    garbage=st.binary(max_size=64),
)  # garbage after a cut is a record only by a 2**-32 CRC accident
def test_random_damage_yields_an_exact_prefix(
    tmp_path: Path, edits: list[tuple[int, int]], cut: int, garbage: bytes
) -> None:
    """XOR random bytes, truncate, append garbage: scanning never raises and the records
    are exactly the ones before the first damaged byte."""
    payloads = [bytes([i]) * (i * 7 % 60) for i in range(60)]
    data = bytearray(encode_file_header(1))
    for p in payloads:
        data += encode_record(p)
    intact = len(data)
    first_damage = intact
    for offset, mask in dict(edits).items():  # one mask per offset: two would cancel
        if offset < len(data):
            data[offset] ^= mask
            first_damage = min(first_damage, offset)
    cut = min(cut, len(data))
    del data[cut:]
    first_damage = min(first_damage, cut)
    data += garbage
    path = tmp_path / wal_file_name(1)
    path.write_bytes(bytes(data))
    result = scan_file(path, 1)
    got = [p for _, p in iter_spans([FileSpan(1, path, FILE_HEADER_SIZE, result.valid_end)])]
    ends = ends_of(payloads)
    expect = (
        sum(1 for end in ends if end <= first_damage) if first_damage >= FILE_HEADER_SIZE else 0
    )
    assert got == payloads[:expect]
    assert result.records == expect
    assert result.valid_end + result.torn_bytes + result.corrupt_bytes == len(data)
    assert scan_directory(tmp_path)[0] == result
