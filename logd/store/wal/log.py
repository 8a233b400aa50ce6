"""`Wal`: the facade tying recovery, the writer thread, cursors, readers and the size bound.

All bookkeeping lives on the event loop: the writer and housekeeper threads post their
results with `loop.call_soon_threadsafe`, and the loop updates the view of files, the
durable end, the reader cache and the byte accounting, then resolves futures. The loop
itself never touches a file descriptor, except in the synchronous `open` and `records`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from logd.store.wal.cursors import (
    Cursor,
    Housekeeper,
    HousekeepingResult,
    cursor_file_name,
    encode_cursor,
    load_cursors,
)
from logd.store.wal.errors import WalClosed, WalFull, WalWriteError
from logd.store.wal.options import WalOptions
from logd.store.wal.reader import FileSpan, RecentRecords, WalReader, iter_spans
from logd.store.wal.record import FILE_HEADER_SIZE, RECORD_HEADER_SIZE, Position
from logd.store.wal.recovery import RecoveryReport, scan_directory, wal_file_name
from logd.store.wal.writer import AppendRequest, CommitResult, WalWriter

log = logging.getLogger("logd.store.wal")

Start = Literal["earliest", "latest"]


@dataclass(slots=True)
class _File:
    number: int
    path: Path
    end: int
    """Durable end of its valid records (FILE_HEADER_SIZE or less: no records)."""
    size: int
    """Bytes on disk."""
    sealed: bool
    corrupt: bool = False
    """Recovery found corrupt bytes: the file is quarantined instead of deleted."""


class Wal:
    """The write-ahead log: durable ordered records with named cursors."""

    def __init__(self, directory: Path, options: WalOptions, files: list[_File]) -> None:
        """Use `Wal.open`."""
        self.directory = directory
        self.options = options
        self._files: dict[int, _File] = {f.number: f for f in files}
        self._disk_bytes = sum(f.size for f in files)
        self._reserved = 0
        self._end = Position(files[-1].number, files[-1].end) if files else Position(1, 0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._close_done: asyncio.Future[None] | None = None
        self._cursors: dict[str, Cursor] = {}
        self._dirty: set[str] = set()
        self._removed: set[str] = set()
        self._deleting: set[int] = set()
        self._durable_event = asyncio.Event()
        self._space_event = asyncio.Event()
        self._admission = asyncio.Lock()
        self._blocked = 0
        self._recent = RecentRecords(self._end, options.reader_cache_bytes)
        self.dropped_appends = 0
        """Appends refused with WalFull (on_full = "drop")."""
        self.dropped_records = 0
        """Records in those appends."""
        self.writer: WalWriter
        self.housekeeper: Housekeeper

    @classmethod
    def open(
        cls, directory: Path | str, options: WalOptions | None = None
    ) -> tuple[Wal, RecoveryReport]:
        """Recover `directory` (created if missing) and start writing to a new file.

        Blocking: call it before serving, or through `asyncio.to_thread`.
        """
        options = options if options is not None else WalOptions()
        options.validate()
        directory = Path(directory)
        cursor_dir = directory / "cursors"
        cursor_dir.mkdir(parents=True, exist_ok=True)
        scans = scan_directory(directory)
        stored, corrupt_cursors = load_cursors(cursor_dir)
        numbers = [s.number for s in scans] + [p.file for p in stored.values() if p is not None]
        first_new = max(numbers, default=0) + 1
        files = [
            _File(s.number, s.path, s.valid_end, s.size, True, s.corrupt_bytes > 0) for s in scans
        ]
        wal = cls(directory, options, files)
        wal.writer = WalWriter(directory, first_new, options, wal._post_commit)
        header = FILE_HEADER_SIZE
        active = _File(first_new, directory / wal_file_name(first_new), header, header, False)
        wal._files[first_new] = active
        wal._disk_bytes += header
        wal._end = wal._recent.base = Position(first_new, header)
        wal.housekeeper = Housekeeper(directory, cursor_dir, wal._post_housekeeping)
        for name, position in stored.items():
            wal._cursors[name] = Cursor(wal, name, position)
        damaged = tuple(s.number for s in scans if s.torn_bytes or s.corrupt_bytes)
        report = RecoveryReport(
            files_scanned=len(scans),
            records=sum(s.records for s in scans),
            torn_bytes=sum(s.torn_bytes for s in scans),
            corrupt_bytes=sum(s.corrupt_bytes for s in scans),
            damaged_files=damaged,
            cursors=len(stored),
            corrupt_cursors=corrupt_cursors,
        )
        log.info(
            "WAL recovered: %d records in %d files, %d bytes skipped; writing file %d",
            report.records,
            report.files_scanned,
            report.skipped_bytes,
            first_new,
        )
        return wal, report

    # -- state --------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def end_position(self) -> Position:
        """Position of the last durable record (or of the active file's start)."""
        return self._end

    @property
    def bytes_on_disk(self) -> int:
        return self._disk_bytes

    @property
    def backpressure_active(self) -> bool:
        """True while appends wait for space (on_full = "block")."""
        return self._blocked > 0

    def lag(self, name: str) -> int:
        """Record bytes (framing included) between cursor `name` and the durable end."""
        position = self._cursors[name].position
        total = 0
        for f in self._files.values():
            if position is None or f.number > position.file:
                total += max(0, f.end - FILE_HEADER_SIZE)
            elif f.number == position.file:
                total += max(0, f.end - position.offset)
        return total

    def files(self) -> list[int]:
        """Numbers of the WAL files on disk, oldest first."""
        return list(self._files)

    # -- reading ------------------------------------------------------------------------

    def records(self, after: Position | None = None) -> Iterator[tuple[Position, bytes]]:
        """Durable records after `after` (all if None), in order, read from disk.

        Blocking: for recovery and catch-up in a worker thread. The durable end is taken
        when called; use a `reader` to follow new records. A file that every cursor has
        passed may be deleted meanwhile; its records are then skipped.
        """
        return iter_spans(self._spans_after(after))

    def reader(self, name: str, *, start: Start = "latest") -> WalReader:
        """An async tail over cursor `name`, created at `start` if it does not exist yet."""
        self._check_open()
        cursor = self._cursors.get(name) or self.cursor(name, start=start)
        return WalReader(self, cursor)

    # -- appending ----------------------------------------------------------------------

    async def append(self, payload: bytes) -> Position:
        """Append one record; return its position once it is durable."""
        return (await self.append_many((payload,)))[0]

    async def append_many(self, payloads: Sequence[bytes]) -> list[Position]:
        """Append records that become durable together (one write, one fsync)."""
        self._check_open()
        loop = self._bind_loop()
        payloads = tuple(payloads)  # a one-shot iterable must not be consumed twice
        if not payloads:
            return []
        limit = self.options.max_record_bytes
        nbytes = 0
        for payload in payloads:
            if len(payload) > limit:
                raise ValueError(f"a WAL record holds at most {limit} bytes, not {len(payload)}")
            nbytes += RECORD_HEADER_SIZE + len(payload)
        if nbytes > self.options.max_bytes - self.options.segment_bytes:
            raise ValueError(f"{nbytes} bytes can never fit under max_bytes with a segment open")
        await self._admit(nbytes, len(payloads))
        future: asyncio.Future[list[Position]] = loop.create_future()
        self.writer.submit(AppendRequest(payloads, nbytes, future))
        return await future

    async def _admit(self, nbytes: int, records: int) -> None:
        bound = self.options.max_bytes
        if not self._blocked and self._disk_bytes + self._reserved + nbytes <= bound:
            self._reserved += nbytes
            return
        if self.options.on_full == "drop":
            self.dropped_appends += 1
            self.dropped_records += records
            raise WalFull(f"the WAL holds {self._disk_bytes} bytes of max_bytes {bound}")
        self._blocked += 1
        try:
            async with self._admission:
                while self._disk_bytes + self._reserved + nbytes > bound:
                    self._check_open()
                    await self._space_event.wait()
                self._check_open()
                self._reserved += nbytes
        finally:
            self._blocked -= 1

    # -- cursors ------------------------------------------------------------------------

    def cursor(self, name: str, *, start: Start = "earliest") -> Cursor:
        """The durable cursor `name`; a new one starts before the oldest record or at the
        durable end."""
        self._check_open()
        cursor = self._cursors.get(name)
        if cursor is None:
            cursor = Cursor(self, name, None if start == "earliest" else self._end)
            self._cursors[name] = cursor
            self._removed.discard(name)
            self._dirty.add(name)
            self._schedule_housekeeping()
        return cursor

    def cursors(self) -> dict[str, Position | None]:
        return {name: c.position for name, c in self._cursors.items()}

    def remove_cursor(self, name: str) -> None:
        """Forget cursor `name` (its file is removed; WAL files it held may go)."""
        self._check_open()
        if self._cursors.pop(name, None) is not None:
            self._dirty.discard(name)
            self._removed.add(name)
            self._schedule_housekeeping()

    def _commit_cursor(self, cursor: Cursor, position: Position) -> None:
        self._check_open()
        if self._cursors.get(cursor.name) is not cursor:
            raise KeyError(f"cursor {cursor.name!r} was removed")
        if position > self._end:
            raise ValueError(f"{position} is past the durable end {self._end}")
        if cursor.position is not None and position < cursor.position:
            raise ValueError(f"cursor {cursor.name!r} cannot move back to {position}")
        if position == cursor.position:
            return
        cursor.position = position
        self._dirty.add(cursor.name)
        self._schedule_housekeeping()

    async def _flush_cursors(self) -> None:
        self._check_open()
        future: asyncio.Future[None] = self._bind_loop().create_future()
        self._schedule_housekeeping(future)
        await future

    def _schedule_housekeeping(self, waiter: asyncio.Future[None] | None = None) -> None:
        if self._loop is None:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop yet to post results to: binding the loop schedules
            self._bind_loop()  # schedules what is pending
            if waiter is None:
                return
        writes: dict[str, bytes | None] = {cursor_file_name(n): None for n in self._removed}
        for name in self._dirty:
            writes[cursor_file_name(name)] = encode_cursor(name, self._cursors[name].position)
        self._removed.clear()
        self._dirty.clear()
        deletions = self._deletable()
        self._deleting.update(deletions)
        if writes or deletions or waiter is not None:
            self.housekeeper.submit(writes, deletions, waiter)

    def _deletable(self) -> dict[int, tuple[Path, bool]]:
        """Sealed files every cursor has passed (files without records need no cursor).

        The newest file always stays, so file numbers never repeat after a restart.
        """
        low: Position | None = None
        positions = [c.position for c in self._cursors.values()]
        if positions and all(p is not None for p in positions):
            low = min(p for p in positions if p is not None)
        newest = next(reversed(self._files))
        out: dict[int, tuple[Path, bool]] = {}
        for f in self._files.values():
            if not f.sealed or f.number == newest or f.number in self._deleting:
                continue
            if f.end <= FILE_HEADER_SIZE or (low is not None and low >= (f.number, f.end)):
                out[f.number] = (f.path, f.corrupt)
        return out

    # -- results from the threads (run on the loop) -----------------------------------

    def _post_commit(self, result: CommitResult) -> None:
        self._post(self._on_commit, result)

    def _post_housekeeping(self, result: HousekeepingResult) -> None:
        self._post(self._on_housekeeping, result)

    def _post(self, callback: Callable[[Any], None], result: object) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(callback, result)
        except RuntimeError:
            log.warning("WAL result dropped: its event loop is closed")

    def _on_commit(self, result: CommitResult) -> None:
        files = self._files
        for number in result.new_files:
            files.setdefault(
                number,
                _File(number, self.directory / wal_file_name(number), FILE_HEADER_SIZE, 0, False),
            )
        for number, size in result.sizes.items():
            f = files[number]
            self._disk_bytes += size - f.size
            f.size = size
        for number, end in result.durable_ends.items():
            f = files[number]
            f.end = max(f.end, end)
        for number in result.sealed:
            files[number].sealed = True
        newest = files[next(reversed(files))]
        self._end = max(self._end, Position(newest.number, max(newest.end, FILE_HEADER_SIZE)))
        for request, positions in result.done:
            self._reserved -= request.nbytes
            self._recent.extend(positions, request.payloads, request.nbytes)
        for request, positions in result.done:
            if not request.future.done():
                request.future.set_result(positions)
        if result.failed:
            self._space_freed()
        for request in result.failed:
            self._reserved -= request.nbytes
            if not request.future.done():
                error = WalWriteError(f"WAL write failed: {result.error}")
                error.__cause__ = result.error
                request.future.set_exception(error)
        self._wake_readers()
        if result.sealed:
            self._schedule_housekeeping()

    def _on_housekeeping(self, result: HousekeepingResult) -> None:
        self._deleting.difference_update(result.attempted)
        for number in result.deleted:
            f = self._files.pop(number, None)
            if f is not None:
                self._disk_bytes -= f.size
        if result.error is not None:
            self._dirty.update(self._cursors)  # rewrite them all on the next occasion
        for waiter in result.waiters:
            if not waiter.done():
                if result.error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(WalWriteError(f"cursor write failed: {result.error}"))
        if result.deleted:
            self._space_freed()

    def _space_freed(self) -> None:
        event, self._space_event = self._space_event, asyncio.Event()
        event.set()

    # -- the reader protocol ------------------------------------------------------------

    def _durable_changed(self) -> asyncio.Event:
        return self._durable_event

    def _wake_readers(self) -> None:
        event, self._durable_event = self._durable_event, asyncio.Event()
        event.set()

    def _cached_after(self, after: Position | None) -> list[tuple[Position, bytes]] | None:
        return self._recent.after(after)

    def _spans_after(self, after: Position | None) -> list[FileSpan]:
        spans = []
        for f in list(self._files.values()):
            if after is not None and f.number < after.file:
                continue
            start = FILE_HEADER_SIZE
            if after is not None and f.number == after.file:
                start = max(start, after.offset)
            if f.end > start:
                spans.append(FileSpan(f.number, f.path, start, f.end))
        return spans

    # -- lifecycle ----------------------------------------------------------------------

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._schedule_housekeeping()  # cursors made before, files recovery sealed
        elif self._loop is not loop:
            raise RuntimeError("a Wal is used from the event loop that first used it")
        return loop

    def _check_open(self) -> None:
        if self._closed:
            raise WalClosed("the WAL is closed")

    async def close(self) -> None:
        """Flush and fsync pending appends and cursors, stop the threads. Idempotent."""
        loop = self._bind_loop()
        if self._close_done is not None:
            await asyncio.shield(self._close_done)
            return
        self._close_done = loop.create_future()
        self._closed = True
        try:
            self._space_freed()  # blocked appends raise WalClosed
            await asyncio.to_thread(self.writer.stop)
            flushed: asyncio.Future[None] = loop.create_future()
            self._schedule_housekeeping(flushed)
            try:
                await flushed
            except WalWriteError as exc:
                log.error("cursors not saved at close: %s", exc)
            await asyncio.to_thread(self.housekeeper.stop)
        finally:
            self._wake_readers()
            self._close_done.set_result(None)

    async def __aenter__(self) -> Wal:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
