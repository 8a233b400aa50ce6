"""Durable cursors and the housekeeper thread that persists them, then deletes WAL files.

A cursor is one small file `cursors/<sha256(name)[:32]>.cursor`::

    magic b"LOGDCUR\\0" | u32 version | u32 flags (bit 0: has a position)
    | u64 file | u64 offset | u32 name length | name (UTF-8) | u32 crc32 of all before

written as temp file, fsync, rename, fsync of the directory, so a crash leaves either the
old or the new cursor, never a torn one. `Cursor.commit` only records the position and
wakes the housekeeper; the housekeeper thread writes every changed cursor, fsyncs the
directory, and only then unlinks the WAL files every cursor has passed (B6: advance and
fsync the cursors, then unlink); a file recovery found corrupt moves to `quarantine/`
instead. A commit lost to a crash replays records again (at-least-once), it never loses
one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol

from logd.durable import fsync_dir
from logd.store.wal.record import Position

log = logging.getLogger("logd.store.wal")

CURSOR_MAGIC: Final = b"LOGDCUR\x00"
CURSOR_VERSION: Final = 1
_HEAD: Final = struct.Struct("<8sIIQQI")
_CRC: Final = struct.Struct("<I")
_SUFFIX: Final = ".cursor"
#: Subdirectory of the WAL directory that receives corrupt files instead of deletion.
QUARANTINE: Final = "quarantine"


def cursor_file_name(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:32] + _SUFFIX


def encode_cursor(name: str, position: Position | None) -> bytes:
    raw = name.encode()
    file, offset = position if position is not None else (0, 0)
    body = _HEAD.pack(
        CURSOR_MAGIC, CURSOR_VERSION, int(position is not None), file, offset, len(raw)
    )
    body += raw
    return body + _CRC.pack(zlib.crc32(body))


def decode_cursor(data: bytes) -> tuple[str, Position | None] | None:
    """The cursor in `data`, or None when it is not an intact cursor file."""
    if len(data) < _HEAD.size + _CRC.size:
        return None
    magic, version, flags, file, offset, n = _HEAD.unpack_from(data)
    if magic != CURSOR_MAGIC or version != CURSOR_VERSION or len(data) != _HEAD.size + n + 4:
        return None
    (crc,) = _CRC.unpack_from(data, len(data) - 4)
    if crc != zlib.crc32(data[:-4]):
        return None
    try:
        name = data[_HEAD.size : _HEAD.size + n].decode()
    except UnicodeDecodeError:
        return None
    return name, (Position(file, offset) if flags & 1 else None)


def load_cursors(directory: Path) -> tuple[dict[str, Position | None], int]:
    """Cursors stored in `directory`, and how many files were corrupt (renamed aside)."""
    cursors: dict[str, Position | None] = {}
    corrupt = 0
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        path = Path(entry.path)
        if entry.name.endswith(".tmp"):
            path.unlink(missing_ok=True)  # an unfinished commit; the old file stands
            continue
        if not entry.name.endswith(_SUFFIX):
            continue
        decoded = decode_cursor(path.read_bytes())
        if decoded is None or cursor_file_name(decoded[0]) != entry.name:
            corrupt += 1
            log.error("cursor file %s is corrupt; set aside as .corrupt", path)
            path.rename(path.with_name(entry.name + ".corrupt"))
            continue
        cursors[decoded[0]] = decoded[1]
    return cursors, corrupt


class CursorOwner(Protocol):
    def _commit_cursor(self, cursor: Cursor, position: Position) -> None: ...
    async def _flush_cursors(self) -> None: ...


class Cursor:
    """A named, durable read position in the WAL."""

    __slots__ = ("_owner", "name", "position")

    def __init__(self, owner: CursorOwner, name: str, position: Position | None) -> None:
        self._owner = owner
        self.name = name
        self.position: Position | None = position
        """The last record this reader finished (None: nothing yet)."""

    def commit(self, position: Position) -> None:
        """Move the cursor to `position` (a record's position, never backwards).

        Returns at once; the housekeeper thread makes it durable before any WAL file it
        protects is deleted, and `close()` waits for it. `await flush()` to wait now.
        """
        self._owner._commit_cursor(self, Position(*position))

    async def flush(self) -> None:
        """Return once every commit made so far is on disk."""
        await self._owner._flush_cursors()

    def __repr__(self) -> str:
        return f"Cursor({self.name!r}, {self.position!r})"


@dataclass(slots=True)
class HousekeepingJob:
    writes: dict[str, bytes | None] = field(default_factory=dict)
    """Cursor file name → content, or None to unlink it."""
    deletions: dict[int, tuple[Path, bool]] = field(default_factory=dict)
    """WAL file number → (path, quarantine instead of unlink)."""
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HousekeepingResult:
    attempted: list[int]
    deleted: list[int]
    error: OSError | None
    waiters: list[asyncio.Future[None]]


class Housekeeper:
    """The thread that writes cursor files and deletes WAL files, in that order."""

    def __init__(
        self,
        wal_directory: Path,
        cursor_directory: Path,
        post: Callable[[HousekeepingResult], None],
    ) -> None:
        self._wal_dir = wal_directory
        self._cursor_dir = cursor_directory
        self._post = post
        self._cond = threading.Condition()
        self._job: HousekeepingJob | None = None
        self._closing = False
        self.cursor_writes = 0
        self.files_deleted = 0
        self._thread = threading.Thread(target=self._run, name="logd-wal-housekeeper", daemon=True)
        self._thread.start()

    def submit(
        self,
        writes: dict[str, bytes | None],
        deletions: dict[int, tuple[Path, bool]],
        waiter: asyncio.Future[None] | None = None,
    ) -> None:
        """Merge work into the pending job (thread-safe; later writes win)."""
        with self._cond:
            job = self._job if self._job is not None else HousekeepingJob()
            job.writes.update(writes)
            job.deletions.update(deletions)
            if waiter is not None:
                job.waiters.append(waiter)
            self._job = job
            self._cond.notify()

    def stop(self) -> None:
        """Finish the pending job, then end the thread (blocking: call from a thread)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._job is None and not self._closing:
                    self._cond.wait()
                job, self._job = self._job, None
            if job is None:
                return
            self._post(self._do(job))

    def _do(self, job: HousekeepingJob) -> HousekeepingResult:
        try:
            if job.writes:
                for file_name, content in job.writes.items():
                    path = self._cursor_dir / file_name
                    if content is None:
                        path.unlink(missing_ok=True)
                    else:
                        self._write_atomically(path, content)
                fsync_dir(self._cursor_dir)
        except OSError as exc:
            log.error("cursor write failed; no WAL file deleted: %s", exc)
            return HousekeepingResult(list(job.deletions), [], exc, job.waiters)
        deleted = []
        for number, (path, quarantine) in sorted(job.deletions.items()):
            try:
                if quarantine:
                    self._quarantine(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.error("could not delete WAL file %s: %s", path, exc)
                continue
            deleted.append(number)
        if deleted:
            with contextlib.suppress(OSError):
                fsync_dir(self._wal_dir)
            self.files_deleted += len(deleted)
        return HousekeepingResult(list(job.deletions), deleted, None, job.waiters)

    def _quarantine(self, path: Path) -> None:
        """Keep a corrupt file's bytes for the operator, out of the WAL's way."""
        target = self._wal_dir / QUARANTINE
        target.mkdir(exist_ok=True)
        os.replace(path, target / path.name)
        fsync_dir(target)
        log.warning("corrupt WAL file %s moved to %s once every cursor had passed it", path, target)

    def _write_atomically(self, path: Path, content: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self.cursor_writes += 1
