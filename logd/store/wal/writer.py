"""The writer thread: group commit.

Appends queue `AppendRequest`s (thread-safe). The one writer thread takes everything
queued since its last fsync (`group`, up to `group_commit_max_bytes`), frames it, writes
it with one `write` call and one `fdatasync`, then posts a `CommitResult` that the event
loop uses to resolve every waiting future. `always` takes one request per fsync;
`interval` waits until `fsync_interval_ms` after the previous fsync before taking.

Only this thread writes WAL files. A file is rolled once the next record would pass
`segment_bytes`: the old file is fsynced and closed, the new one is created with its
header and the directory is fsynced before any record in it is acknowledged. A failed
write or fsync fails the requests it covered and "poisons" the file: the next commit
starts a new file, so nothing is ever appended after bytes of unknown state.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from logd.durable import fsync_dir
from logd.store.wal.options import WalOptions
from logd.store.wal.record import (
    FILE_HEADER_SIZE,
    RECORD_HEADER_SIZE,
    Position,
    encode_file_header,
    frame_into,
)
from logd.store.wal.recovery import wal_file_name

log = logging.getLogger("logd.store.wal")

_fsync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)
#: Shortest interval between two "WAL write failed" lines (R-09: ENOSPC at most every 10 s).
_ERROR_LOG_INTERVAL_S = 10.0


@dataclass(slots=True)
class AppendRequest:
    payloads: Sequence[bytes]
    nbytes: int
    """Framed size of all payloads."""
    future: asyncio.Future[list[Position]]


@dataclass(slots=True)
class CommitResult:
    """What one commit made durable; handed to the event loop."""

    done: list[tuple[AppendRequest, list[Position]]] = field(default_factory=list)
    failed: list[AppendRequest] = field(default_factory=list)
    error: BaseException | None = None
    durable_ends: dict[int, int] = field(default_factory=dict)
    """File number → offset up to which it is now fsynced."""
    sizes: dict[int, int] = field(default_factory=dict)
    """File number → bytes it now holds on disk (written, fsynced or not)."""
    new_files: list[int] = field(default_factory=list)
    sealed: list[int] = field(default_factory=list)
    """Files that will never be written again."""


class WalWriter:
    """Owns the active WAL file and the thread that writes it."""

    def __init__(
        self,
        directory: Path,
        first_file: int,
        options: WalOptions,
        post: Callable[[CommitResult], None],
    ) -> None:
        self._dir = directory
        self._options = options
        self._post = post
        self._cond = threading.Condition()
        self._queue: collections.deque[AppendRequest] = collections.deque()
        self._closing = False
        self._fd: int | None = None
        self._number = first_file - 1
        self._offset = 0
        self._last_sync = 0.0
        self.fsyncs = 0
        """Data fsyncs issued (tests and metrics read it)."""
        self.fsync_seconds = 0.0
        """Time spent in data fsyncs, summed (for wal_fsync_seconds)."""
        self.dir_fsyncs = 0
        self.writes = 0
        """write() system calls issued."""
        self.commits = 0
        self._error_logged_at: float | None = None  # monotonic time of the last error line
        self._errors_unlogged = 0
        self.synced = Position(first_file, 0)
        """The latest position covered by a completed fsync."""
        start = CommitResult()
        self._open_next(start)
        self._sync(start)
        self._thread = threading.Thread(target=self._run, name="logd-wal-writer", daemon=True)
        self._thread.start()

    @property
    def active_file(self) -> int:
        return self._number

    def submit(self, request: AppendRequest) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the WAL writer is closed")
            self._queue.append(request)
            self._cond.notify()

    def stop(self) -> None:
        """Commit everything queued, close the file, end the thread (blocking)."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        interval = self._options.fsync_interval_ms / 1000
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    break
                if self._options.fsync == "interval":
                    deadline = self._last_sync + interval
                    while not self._closing and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                batch = self._take()
            result = CommitResult()
            try:
                self._commit(batch, result)
            except Exception as exc:  # a bug must fail the appends, not hang them
                if not isinstance(exc, OSError):
                    log.exception("WAL writer failed unexpectedly")
                self._fail(batch, result, exc)
            self._post(result)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _take(self) -> list[AppendRequest]:
        queue = self._queue
        if self._options.fsync == "always":
            return [queue.popleft()]
        cap = self._options.group_commit_max_bytes
        batch = [queue.popleft()]
        total = batch[0].nbytes
        while queue and total + queue[0].nbytes <= cap:
            request = queue.popleft()
            total += request.nbytes
            batch.append(request)
        return batch

    def _commit(self, batch: list[AppendRequest], result: CommitResult) -> None:
        if self._fd is None:
            self._open_next(result)
        segment = self._options.segment_bytes
        parts: list[bytes] = []
        for request in batch:
            positions: list[Position] = []
            if self._offset + request.nbytes <= segment:
                offset = self._offset
                number = self._number
                for payload in request.payloads:
                    offset += RECORD_HEADER_SIZE + len(payload)
                    positions.append(Position(number, offset))
                frame_into(parts, request.payloads)
                self._offset = offset
            else:
                for payload in request.payloads:
                    size = RECORD_HEADER_SIZE + len(payload)
                    if self._offset + size > segment and self._offset > FILE_HEADER_SIZE:
                        self._write(parts, result)
                        self._sync(result)
                        self._roll(result)
                    frame_into(parts, (payload,))
                    self._offset += size
                    positions.append(Position(self._number, self._offset))
            result.done.append((request, positions))
        self._write(parts, result)
        self._sync(result)
        self.commits += 1

    def _write(self, parts: list[bytes], result: CommitResult) -> None:
        if not parts:
            return
        fd = self._require_fd()
        data = b"".join(parts)
        parts.clear()
        view = memoryview(data)
        start = self._offset - len(data)
        written = 0
        try:
            while written < len(data):
                written += os.write(fd, view[written:])
                self.writes += 1
        finally:
            result.sizes[self._number] = start + written

    def _sync(self, result: CommitResult) -> None:
        started = time.monotonic()
        _fsync(self._require_fd())
        self._last_sync = time.monotonic()
        self.fsync_seconds += self._last_sync - started
        self.fsyncs += 1
        self.synced = Position(self._number, self._offset)
        result.durable_ends[self._number] = self._offset
        result.sizes[self._number] = self._offset

    def _require_fd(self) -> int:
        if self._fd is None:
            raise RuntimeError("the WAL writer has no open file")
        return self._fd

    def _roll(self, result: CommitResult) -> None:
        self._close_file(result)
        self._open_next(result)

    def _close_file(self, result: CommitResult) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)
        result.sealed.append(self._number)

    def _open_next(self, result: CommitResult) -> None:
        number = self._number + 1
        path = self._dir / wal_file_name(number)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fd = fd
        self._number = number
        self._offset = 0
        result.new_files.append(number)
        result.sizes[number] = 0
        header = encode_file_header(number)
        written = 0
        while written < len(header):
            written += os.write(fd, header[written:])
        self._offset = FILE_HEADER_SIZE
        result.sizes[number] = FILE_HEADER_SIZE
        fsync_dir(self._dir)
        self.dir_fsyncs += 1

    def _log_failure(self, appends: int, exc: BaseException) -> None:
        """One error line per `_ERROR_LOG_INTERVAL_S`: a full disk fails every retry of
        every client, and each would otherwise log (the lines say how many were held)."""
        now = time.monotonic()
        last = self._error_logged_at
        if last is not None and now - last < _ERROR_LOG_INTERVAL_S:
            self._errors_unlogged += 1
            return
        held, self._errors_unlogged = self._errors_unlogged, 0
        self._error_logged_at = now
        log.error(
            "WAL write failed; %d appends not acknowledged: %s (%d more failed commits since "
            "the previous report)",
            appends,
            exc,
            held,
        )

    def _fail(self, batch: list[AppendRequest], result: CommitResult, exc: BaseException) -> None:
        """Keep what an fsync covered, fail the rest, and never write this file again."""
        self._log_failure(len(batch), exc)
        done = result.done
        result.done = []
        finished = {id(request) for request, _ in done}
        for request, positions in done:
            last = positions[-1] if positions else None
            if last is None or last.offset <= result.durable_ends.get(last.file, -1):
                result.done.append((request, positions))
            else:
                result.failed.append(request)
        result.failed.extend(r for r in batch if id(r) not in finished)
        result.error = exc
        if self._fd is not None:
            self._close_file(result)
