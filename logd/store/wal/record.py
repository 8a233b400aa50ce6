"""WAL framing: the file header and `[u32 length][u32 crc32][payload]` records.

Pure functions over bytes plus one streaming scanner; no policy. The format is stated in
the package docstring (`logd/store/wal/__init__.py`); this module is its only encoder and
decoder.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Final, NamedTuple

FILE_MAGIC: Final = b"LOGDWAL\x00"
FORMAT_VERSION: Final = 1
# magic, version, file number, crc32 of the 20 bytes before it.
_FILE_HEADER: Final = struct.Struct("<8sIQI")
FILE_HEADER_SIZE: Final = _FILE_HEADER.size  # 24
_RECORD_HEADER: Final = struct.Struct("<II")
_LENGTH: Final = struct.Struct("<I")
RECORD_HEADER_SIZE: Final = _RECORD_HEADER.size  # 8
#: The format's hard limit on one payload (the u32 length field).
MAX_PAYLOAD_BYTES: Final = 0xFFFF_FFFF


class Position(NamedTuple):
    """Where a record ends: its file number and the offset just past its last byte.

    Positions are totally ordered as tuples. A record's position is also where the next
    record in that file starts, so "records after p" means records that start at or past
    `p.offset` in `p.file`, then every record of later files.
    """

    file: int
    offset: int


def record_crc(payload: bytes, length: int | None = None) -> int:
    """zlib.crc32 (IEEE) over the little-endian u32 length, then the payload."""
    n = len(payload) if length is None else length
    return zlib.crc32(payload, zlib.crc32(_LENGTH.pack(n)))


def record_size(payload: bytes) -> int:
    """Bytes one payload takes on disk, framing included."""
    return RECORD_HEADER_SIZE + len(payload)


def encode_record(payload: bytes) -> bytes:
    """One framed record."""
    return _RECORD_HEADER.pack(len(payload), record_crc(payload)) + payload


def frame_into(parts: list[bytes], payloads: Sequence[bytes]) -> int:
    """Append header and payload of each record to `parts`; return the bytes added.

    The caller joins `parts` once and writes it with one system call.
    """
    pack = _RECORD_HEADER.pack
    crc32 = zlib.crc32
    length = _LENGTH.pack
    total = 0
    for payload in payloads:
        n = len(payload)
        parts.append(pack(n, crc32(payload, crc32(length(n)))))
        parts.append(payload)
        total += RECORD_HEADER_SIZE + n
    return total


def encode_file_header(file_number: int) -> bytes:
    head = _FILE_HEADER.pack(FILE_MAGIC, FORMAT_VERSION, file_number, 0)[:-4]
    return head + struct.pack("<I", zlib.crc32(head))


def file_header_version(data: bytes) -> int | None:
    """The format version of an intact header (magic and CRC good), else None."""
    if len(data) < FILE_HEADER_SIZE:
        return None
    magic, version, _, crc = _FILE_HEADER.unpack_from(data)
    if magic != FILE_MAGIC or crc != zlib.crc32(data[: FILE_HEADER_SIZE - 4]):
        return None
    return int(version)


def check_file_header(data: bytes, file_number: int) -> bool:
    """True when `data` is the intact header of WAL file `file_number`."""
    if len(data) < FILE_HEADER_SIZE:
        return False
    magic, version, number, crc = _FILE_HEADER.unpack_from(data)
    return bool(
        magic == FILE_MAGIC
        and version == FORMAT_VERSION
        and number == file_number
        and crc == zlib.crc32(data[: FILE_HEADER_SIZE - 4])
    )


#: Why a scan stopped (`RecordScanner.stop`).
STOP_END: Final = "end"  # reached the limit exactly: everything was valid
STOP_SHORT: Final = "short"  # a header or payload runs past the limit (incomplete write)
STOP_CRC: Final = "crc"  # a complete record whose checksum does not match


class RecordScanner:
    """Streams records from `f`, from `start` up to `limit` bytes into the file.

    Memory is O(largest record): it never reads a payload before checking that the
    claimed length fits before `limit`. After iteration, `end` is the offset just past
    the last valid record and `stop` says why the scan ended. The scanner yields nothing
    after the first invalid record: callers keep the longest valid prefix.
    """

    __slots__ = ("_f", "end", "limit", "stop")

    def __init__(self, f: BinaryIO, start: int, limit: int) -> None:
        self._f = f
        self.end = start
        self.limit = limit
        self.stop = STOP_END

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        f = self._f
        f.seek(self.end)
        unpack = _RECORD_HEADER.unpack
        crc32 = zlib.crc32
        length_of = _LENGTH.pack
        limit = self.limit
        offset = self.end
        while offset < limit:
            if limit - offset < RECORD_HEADER_SIZE:
                self.stop = STOP_SHORT
                return
            header = f.read(RECORD_HEADER_SIZE)
            if len(header) < RECORD_HEADER_SIZE:
                self.stop = STOP_SHORT
                return
            n, crc = unpack(header)
            end = offset + RECORD_HEADER_SIZE + n
            if end > limit:
                self.stop = STOP_SHORT
                return
            payload = f.read(n)
            if len(payload) < n:
                self.stop = STOP_SHORT
                return
            if crc32(payload, crc32(length_of(n))) != crc:
                self.stop = STOP_CRC
                return
            offset = end
            self.end = end
            yield end, payload
        self.stop = STOP_END
