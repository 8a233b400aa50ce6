"""The file sink: batches appended to files under a root, rotated by size and time.

Layout: `root/<path>`, where `path` is a template over `{group}`, `{stream}`, `{date}`
and `{hour}` (UTC, of the batch's first event, so a redelivered batch lands in the same
file). Substituted names are sanitised: `%` → `%25`, `/` → `%2F`, NUL → `%00`, and a
name that is `.`, `..` or empty is escaped too, so no log group or stream can leave the
root. Contents: `ndjson` rendering appends one line per event (§4.3); `cloudwatch`
appends one decoded JSON envelope per line.

Invariants:

- A batch is written whole with one append, never split across files; a rotation
  happens only between batches. A failed write is truncated back, so a file never keeps
  half a batch; a torn final line found when a file is reopened (crash mid-write) is
  truncated before appending.
- Rotation renames `<file>` to `<file>.<n>` (n = 1, 2, … ; higher is newer) atomically,
  then starts a new `<file>`; it happens before a write that would take the file past
  `max_file_bytes`, or once the file has been open `rotate_every_s` seconds (the window
  starts when logd opens the file).
- fsync: `batch` (default) syncs each file written before `send` returns; `interval`
  syncs at the first write `fsync_interval_ms` after the previous sync and at close;
  `never` leaves it to the OS. Directories are synced after creating and renaming files
  unless `never`.
- All file work runs in a thread (`asyncio.to_thread`), never on the event loop.

Errors: a full disk or quota (`ENOSPC`, `EDQUOT`) and refused permissions (`EACCES`,
`EPERM`, `EROFS`) concern the destination, so they are retryable with a long
`retry_after`; a name too long for the file system (`ENAMETOOLONG`) is fatal for the
batch, as is a path that would leave the root.
"""

from __future__ import annotations

import asyncio
import errno
import os
import string
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sinks.base import (
    FatalError,
    RetryableError,
    Sink,
    SinkContext,
    SinkOptions,
    SinkOptionsError,
)
from sinks.batch import Batch

_FIELDS = {"group", "stream", "date", "hour"}
_FULL = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOptions(SinkOptions):
    """`[sinks.<name>]` with `type = "file"`."""

    root: str
    """Directory every file lives under (created if missing)."""
    path: str = "{group}/{stream}.ndjson"
    """File path under `root`; templates `{group}`, `{stream}`, `{date}`, `{hour}`."""
    rendering: Literal["cloudwatch", "ndjson"] = "ndjson"
    """`ndjson`: a line per event; `cloudwatch`: a decoded envelope per line."""
    max_file_bytes: int = 64 * 1024 * 1024
    """Rotate before a file would grow past this many bytes; 0 = never by size."""
    rotate_every_s: int = 0
    """Rotate a file open this many seconds; 0 = never by time."""
    fsync: Literal["batch", "interval", "never"] = "batch"
    """When data reaches the disk: before each ack, every interval, or when the OS likes."""
    fsync_interval_ms: int = 1000
    """Interval for `fsync = "interval"`."""
    file_mode: int = 0o640
    """Permissions of new files."""
    max_open_files: int = 64
    """Files kept open at once; the least recently written is closed first."""

    def validate(self) -> None:
        if not self.root:
            raise SinkOptionsError.at("root", "must not be empty")
        if Path(self.path).is_absolute() or ".." in Path(self.path).parts:
            raise SinkOptionsError.at("path", "must be relative and must not contain '..'")
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(self.path) if name}
        except ValueError as exc:
            raise SinkOptionsError.at("path", f"bad template: {exc}") from exc
        unknown = used - _FIELDS
        if unknown:
            allowed = ", ".join("{" + f + "}" for f in sorted(_FIELDS))
            raise SinkOptionsError.at(
                "path", f"unknown template field {sorted(unknown)[0]!r}; allowed: {allowed}"
            )
        for key in ("max_file_bytes", "rotate_every_s", "fsync_interval_ms"):
            if getattr(self, key) < 0:
                raise SinkOptionsError.at(key, "must not be negative")
        if self.max_open_files < 1:
            raise SinkOptionsError.at("max_open_files", "must be at least 1")


def sanitise(name: str) -> str:
    """A log group or stream name as one safe path component."""
    if name in ("", ".", ".."):
        return name.replace(".", "%2E") or "%00"
    return name.replace("%", "%25").replace("/", "%2F").replace("\0", "%00")


class _Open:
    __slots__ = ("fd", "opened_at", "path", "rotations", "size")

    def __init__(self, path: Path, fd: int, size: int, opened_at: float, rotations: int):
        self.path = path
        self.fd = fd
        self.size = size
        self.opened_at = opened_at
        self.rotations = rotations


class FileSink(Sink[FileOptions]):
    """Appends each batch to a file under `root`."""

    options_class = FileOptions

    def __init__(self, options: FileOptions, context: SinkContext) -> None:
        super().__init__(options, context)
        self._root = Path(options.root).resolve()
        self._files: OrderedDict[Path, _Open] = OrderedDict()
        self._dirty: set[Path] = set()
        self._last_sync = 0.0

    async def start(self) -> None:
        try:
            await asyncio.to_thread(self._root.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise _map_os_error(exc, self._root) from exc

    async def send(self, batch: Batch) -> None:
        target = self.target(batch)
        if self.options.rendering == "cloudwatch":
            data = batch.to_cloudwatch_json() + b"\n"
        else:
            data = batch.to_ndjson()
        try:
            await asyncio.to_thread(self._append, target, data, self.context.now())
        except OSError as exc:
            raise _map_os_error(exc, target) from exc

    async def close(self) -> None:
        if self._files:
            await asyncio.to_thread(self._close_all)

    def target(self, batch: Batch) -> Path:
        """The file `batch` goes to; FatalError if it would leave the root."""
        when = time.gmtime(batch.timestamps[0] / 1000)
        rel = self.options.path.format(
            group=sanitise(batch.group),
            stream=sanitise(batch.stream),
            date=time.strftime("%Y-%m-%d", when),
            hour=time.strftime("%H", when),
        )
        path = Path(os.path.normpath(self._root / rel))
        if not path.is_relative_to(self._root) or path == self._root:
            raise FatalError(f"file sink path {rel!r} leaves the root {self._root}")
        return path

    # -- in the worker thread -----------------------------------------------------------

    def _append(self, path: Path, data: bytes, now: float) -> None:
        f = self._open(path, now)
        o = self.options
        too_big = o.max_file_bytes and f.size + len(data) > o.max_file_bytes
        too_old = o.rotate_every_s and now - f.opened_at >= o.rotate_every_s
        if f.size > 0 and (too_big or too_old):
            f = self._rotate(f, now)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(f.fd, view) :]
        except OSError:
            os.ftruncate(f.fd, f.size)  # never keep half a batch
            raise
        f.size += len(data)
        if o.fsync == "batch":
            os.fsync(f.fd)
        elif o.fsync == "interval":
            self._dirty.add(path)
            if (now - self._last_sync) * 1000 >= o.fsync_interval_ms:
                self._sync_dirty(now)

    def _sync_dirty(self, now: float) -> None:
        for path in self._dirty:
            f = self._files.get(path)
            if f is not None:
                os.fsync(f.fd)
        self._dirty.clear()
        self._last_sync = now

    def _open(self, path: Path, now: float) -> _Open:
        f = self._files.get(path)
        if f is not None:
            self._files.move_to_end(path)
            return f
        while len(self._files) >= self.options.max_open_files:
            _, oldest = self._files.popitem(last=False)
            self._release(oldest)
        created = not path.exists()
        if created:
            path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, self.options.file_mode)
        try:
            before = os.fstat(fd).st_size
            size = _drop_torn_tail(fd)
            if size != before:
                self.context.logger.warning(
                    "Truncated a torn final line left by an interrupted write.",
                    extra={"path": str(path), "size": size},
                )
            if created:
                self._sync_dir(path.parent)
        except BaseException:
            os.close(fd)
            raise
        rotations = max((_rotation_number(path, p) for p in path.parent.iterdir()), default=0)
        f = _Open(path, fd, size, now, rotations)
        self._files[path] = f
        return f

    def _rotate(self, f: _Open, now: float) -> _Open:
        self._files.pop(f.path, None)
        self._release(f)
        f.rotations += 1
        os.rename(f.path, f.path.with_name(f"{f.path.name}.{f.rotations}"))
        self._sync_dir(f.path.parent)
        new = self._open(f.path, now)
        new.rotations = f.rotations
        return new

    def _release(self, f: _Open) -> None:
        try:
            if self.options.fsync != "never" and f.size:
                os.fsync(f.fd)
        finally:
            os.close(f.fd)
            self._dirty.discard(f.path)

    def _sync_dir(self, directory: Path) -> None:
        if self.options.fsync == "never":
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _close_all(self) -> None:
        files, self._files = self._files, OrderedDict()
        errors: list[OSError] = []
        for f in files.values():
            try:
                self._release(f)
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


def _rotation_number(path: Path, candidate: Path) -> int:
    prefix = path.name + "."
    if candidate.name.startswith(prefix) and candidate.name[len(prefix) :].isdigit():
        return int(candidate.name[len(prefix) :])
    return 0


def _drop_torn_tail(fd: int) -> int:
    """Truncate anything after the last newline; return the resulting size."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            os.ftruncate(fd, start + cut + 1)
            return start + cut + 1
        end = start
    os.ftruncate(fd, 0)
    return 0


def _map_os_error(exc: OSError, path: Path) -> Exception:
    where = f"{exc.strerror or exc} ({path})"
    if exc.errno in _FULL:
        return RetryableError(f"file sink: disk full: {where}", retry_after=30.0)
    if exc.errno in _DENIED:
        return RetryableError(f"file sink: access refused: {where}", retry_after=60.0)
    if exc.errno == errno.ENAMETOOLONG:
        return FatalError(f"file sink: name too long for the file system: {where}")
    return RetryableError(f"file sink: {where}")
