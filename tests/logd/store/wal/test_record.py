"""Framing: records and file headers round-trip; damage is always detected."""

from __future__ import annotations

import io
import zlib

from hypothesis import given
from hypothesis import strategies as st

from logd.store.wal.record import (
    FILE_HEADER_SIZE,
    RECORD_HEADER_SIZE,
    STOP_CRC,
    STOP_END,
    STOP_SHORT,
    RecordScanner,
    check_file_header,
    encode_file_header,
    encode_record,
    frame_into,
    record_crc,
)

payload_lists = st.lists(st.binary(max_size=300), max_size=30)


def scan(data: bytes, start: int = 0) -> tuple[list[tuple[int, bytes]], RecordScanner]:
    scanner = RecordScanner(io.BytesIO(data), start, len(data))
    return list(scanner), scanner


@given(payload_lists)
def test_records_round_trip(payloads: list[bytes]) -> None:
    parts: list[bytes] = []
    size = frame_into(parts, payloads)
    data = b"".join(parts)
    assert size == len(data) == sum(RECORD_HEADER_SIZE + len(p) for p in payloads)
    assert data == b"".join(encode_record(p) for p in payloads)
    records, scanner = scan(data)
    assert [p for _, p in records] == payloads
    ends, offset = [], 0
    for p in payloads:
        offset += RECORD_HEADER_SIZE + len(p)
        ends.append(offset)
    assert [end for end, _ in records] == ends
    assert scanner.stop == STOP_END
    assert scanner.end == len(data)


@given(st.binary(max_size=200), st.data())
def test_any_flipped_bit_is_detected(payload: bytes, data: st.DataObject) -> None:
    record = bytearray(encode_record(payload))
    bit = data.draw(st.integers(0, len(record) * 8 - 1))
    record[bit // 8] ^= 1 << (bit % 8)
    records, scanner = scan(bytes(record))
    assert records == []
    assert scanner.stop in (STOP_CRC, STOP_SHORT)
    assert scanner.end == 0


@given(payload_lists, st.data())
def test_a_truncated_stream_yields_exactly_the_complete_records(
    payloads: list[bytes], data: st.DataObject
) -> None:
    stream = b"".join(encode_record(p) for p in payloads)
    cut = data.draw(st.integers(0, len(stream)))
    records, scanner = scan(stream[:cut])
    complete = [end for end, _ in scan(stream)[0] if end <= cut]
    assert [end for end, _ in records] == complete
    assert scanner.end == (complete[-1] if complete else 0)
    assert scanner.stop == (STOP_END if scanner.end == cut else STOP_SHORT)


def test_zeros_are_never_a_record() -> None:
    assert record_crc(b"") == zlib.crc32(b"\0\0\0\0") != 0
    records, scanner = scan(bytes(64))
    assert records == []
    assert scanner.stop == STOP_CRC


def test_an_empty_payload_is_a_record() -> None:
    records, _ = scan(encode_record(b"") + encode_record(b"x"))
    assert [p for _, p in records] == [b"", b"x"]


def test_scanning_from_an_offset_and_to_a_limit() -> None:
    stream = b"".join(encode_record(p) for p in (b"a", b"bb", b"ccc"))
    first = RECORD_HEADER_SIZE + 1
    scanner = RecordScanner(io.BytesIO(stream), first, first + RECORD_HEADER_SIZE + 2)
    assert [p for _, p in scanner] == [b"bb"]
    assert scanner.stop == STOP_END


@given(st.integers(0, 2**64 - 1))
def test_file_header_round_trip(number: int) -> None:
    header = encode_file_header(number)
    assert len(header) == FILE_HEADER_SIZE
    assert check_file_header(header, number)
    assert not check_file_header(header, (number + 1) % 2**64)
    assert not check_file_header(header[:-1], number)
    for i in range(FILE_HEADER_SIZE):
        damaged = bytearray(header)
        damaged[i] ^= 0x01
        assert not check_file_header(bytes(damaged), number)
