"""Recovery: scan every WAL file once, keep each file's longest valid prefix, count the rest.

Never raises on bad bytes (only on an intact file of another format version, which is no
damage) and never yields a record that was not written: a record is accepted only if its
frame is complete and its CRC matches, and scanning a file stops at the first record
that is not. Memory is O(largest record), whatever the WAL's size.
Files are only read here; damaged bytes stay where they are (evidence) and disappear
with their file once every cursor has passed its valid records.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from logd.store.wal.errors import WalError
from logd.store.wal.record import (
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    STOP_CRC,
    STOP_END,
    RecordScanner,
    check_file_header,
    encode_file_header,
    file_header_version,
)

log = logging.getLogger("logd.store.wal")

_FILE_NAME = re.compile(r"^(\d{16})\.wal$")
_ZERO_CHUNK = 1 << 16


def wal_file_name(number: int) -> str:
    return f"{number:016d}.wal"


def parse_wal_file_name(name: str) -> int | None:
    match = _FILE_NAME.match(name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class FileRecovery:
    """What recovery found in one WAL file."""

    number: int
    path: Path
    size: int
    """Bytes on disk."""
    valid_end: int
    """Offset just past the last valid record (FILE_HEADER_SIZE if none; 0 if the header
    itself is bad)."""
    records: int
    torn_bytes: int
    """Bytes after `valid_end` that look like an unfinished write: a frame running past
    the end of the file, or zeros to the end."""
    corrupt_bytes: int
    """Bytes after `valid_end` that are neither: a checksum mismatch mid-file."""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What `Wal.open` found: counts, never exceptions."""

    files_scanned: int
    records: int
    """Valid records kept, over all files."""
    torn_bytes: int
    corrupt_bytes: int
    damaged_files: tuple[int, ...]
    """Numbers of the files that had torn or corrupt bytes."""
    cursors: int
    """Cursors loaded."""
    corrupt_cursors: int
    """Cursor files that failed their checksum (set aside as `*.corrupt`)."""

    @property
    def skipped_bytes(self) -> int:
        return self.torn_bytes + self.corrupt_bytes


def list_wal_files(directory: Path) -> list[tuple[int, Path]]:
    """WAL files in `directory`, ascending by number."""
    found = []
    for entry in os.scandir(directory):
        number = parse_wal_file_name(entry.name)
        if number is not None and entry.is_file():
            found.append((number, Path(entry.path)))
    found.sort()
    return found


def _all_zero(f: os.PathLike[str] | str, start: int, size: int) -> bool:
    with open(f, "rb") as fh:
        fh.seek(start)
        remaining = size - start
        while remaining > 0:
            chunk = fh.read(min(_ZERO_CHUNK, remaining))
            if not chunk:
                return True
            if chunk.count(0) != len(chunk):
                return False
            remaining -= len(chunk)
    return True


def scan_file(path: Path, number: int) -> FileRecovery:
    """Scan one file; every failure (unreadable file included) becomes a count."""
    try:
        size = path.stat().st_size
        with open(path, "rb", buffering=1 << 20) as f:
            header = f.read(FILE_HEADER_SIZE)
            version = file_header_version(header)
            if version is not None and version != FORMAT_VERSION:
                raise WalError(
                    f"{path} is WAL format version {version}; this logd reads version "
                    f"{FORMAT_VERSION} only (not corruption: nothing was skipped)"
                )
            if not check_file_header(header, number):
                expected = encode_file_header(number)
                unfinished = size <= FILE_HEADER_SIZE and header == expected[: len(header)]
                if unfinished or _all_zero(path, 0, size):
                    return FileRecovery(number, path, size, 0, 0, size, 0)
                return FileRecovery(number, path, size, 0, 0, 0, size)
            scanner = RecordScanner(f, FILE_HEADER_SIZE, size)
            records = 0
            for _ in scanner:
                records += 1
    except OSError as exc:
        log.error("WAL file %s is unreadable; its records are skipped: %s", path, exc)
        return FileRecovery(number, path, 0, 0, 0, 0, 0)
    end = scanner.end
    rest = size - end
    if scanner.stop == STOP_END or rest == 0:
        return FileRecovery(number, path, size, end, records, 0, 0)
    if scanner.stop != STOP_CRC or _all_zero(path, end, size):
        return FileRecovery(number, path, size, end, records, rest, 0)
    return FileRecovery(number, path, size, end, records, 0, rest)


def scan_directory(directory: Path) -> list[FileRecovery]:
    """Scan every WAL file of `directory` in order and log what was skipped."""
    results = [scan_file(path, number) for number, path in list_wal_files(directory)]
    for r in results:
        if r.corrupt_bytes:
            log.error(
                "WAL file %s is corrupt at offset %d: kept %d records, skipped %d bytes",
                r.path,
                r.valid_end,
                r.records,
                r.corrupt_bytes,
            )
        elif r.torn_bytes:
            log.warning(
                "WAL file %s has a torn tail at offset %d: kept %d records, skipped %d bytes",
                r.path,
                r.valid_end,
                r.records,
                r.torn_bytes,
            )
    return results
