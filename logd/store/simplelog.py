"""A small, real durable log behind `DurableLog`: one framed file plus a cursor file.

Format: ``log-<n>.bin`` holds frames ``[u32 length][u32 crc32(payload)][payload]``
(little endian). A position is ``(n, offset of the frame)``. ``cursors.json`` maps cursor
names to positions and is replaced atomically (temp, fsync, rename, fsync directory).

Invariants:
- Recovery keeps the longest valid prefix of the file and truncates the rest (a torn
  tail after a crash); it never yields bytes that were not appended.
- `append_many` returns after the frames are written and, under "always" and "group",
  fsynced ("always": one fsync per payload; "group": one for the call); under
  "interval" a background thread fsyncs every `fsync_interval_ms`.
- When every cursor has passed the last record and the file exceeds `rotate_bytes`,
  the log starts file n+1 and deletes file n; positions keep increasing.

The integrator replaces this by `logd.store.wal` behind the same protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from logd.store.log import Position
from logd.store.options import FsyncPolicy

log = logging.getLogger("logd.store.simplelog")

_FRAME = struct.Struct("<II")
MAX_FRAME = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Recovery:
    records: int
    truncated_bytes: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SimpleCursor:
    def __init__(self, owner: SimpleLog, name: str, position: Position | None) -> None:
        self.name = name
        self._owner = owner
        self._position = position

    @property
    def position(self) -> Position | None:
        return self._position

    def commit(self, position: Position) -> None:
        self._position = (int(position[0]), int(position[1]))
        self._owner._save_cursors()


class SimpleLog:
    """One file, length+crc framed, fsynced per the policy (see module docstring)."""

    def __init__(
        self,
        directory: Path,
        *,
        fsync: FsyncPolicy = "group",
        fsync_interval_ms: int = 5,
        rotate_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._dir = directory
        self._policy = fsync
        self._interval = fsync_interval_ms / 1000
        self._rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self._cursors: dict[str, SimpleCursor] = {}
        self._closed = False
        self._dirty = False
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        directory.mkdir(parents=True, exist_ok=True)
        self.recovery = self._recover()
        self._load_cursors()
        if fsync == "interval":
            self._syncer = threading.Thread(target=self._sync_loop, name="simplelog-fsync")
            self._syncer.daemon = True
            self._syncer.start()

    # -- files ---------------------------------------------------------------
    def _path(self, number: int) -> Path:
        return self._dir / f"log-{number:08d}.bin"

    def _recover(self) -> Recovery:
        numbers = sorted(int(p.name[4:12]) for p in self._dir.glob("log-*.bin"))
        self._number = numbers[-1] if numbers else 1
        for stale in numbers[:-1]:  # left behind by a crash during rotation
            self._path(stale).unlink(missing_ok=True)
        path = self._path(self._number)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        size = os.fstat(self._fd).st_size
        count, end, last = 0, 0, None
        with open(path, "rb", buffering=1 << 20) as f:
            while True:
                frame = self._read_frame(f)
                if frame is None:
                    break
                last = end
                end += _FRAME.size + len(frame)
                count += 1
        if end < size:
            log.warning(
                "Log %s: truncated a damaged tail of %d bytes after %d records.",
                path.name,
                size - end,
                count,
            )
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
        _fsync_dir(self._dir)
        self._end_offset = end
        self._last: Position | None = (self._number, last) if last is not None else None
        return Recovery(count, size - end)

    @staticmethod
    def _read_frame(f: object) -> bytes | None:
        read = f.read  # type: ignore[attr-defined]
        head = read(_FRAME.size)
        if len(head) < _FRAME.size:
            return None
        length, crc = _FRAME.unpack(head)
        if length > MAX_FRAME:
            return None
        payload: bytes = read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            return None
        return payload

    # -- cursors -------------------------------------------------------------
    def _cursor_file(self) -> Path:
        return self._dir / "cursors.json"

    def _load_cursors(self) -> None:
        try:
            data = json.loads(self._cursor_file().read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError):
            log.error("Log cursor file is damaged; every cursor restarts from the beginning.")
            data = {}
        for name, pos in data.items():
            position = (int(pos[0]), int(pos[1])) if pos is not None else None
            self._cursors[name] = SimpleCursor(self, name, position)

    def _save_cursors(self) -> None:
        with self._lock:
            data = {n: list(c.position) if c.position else None for n, c in self._cursors.items()}
            tmp = self._dir / "cursors.json.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self._cursor_file())
            _fsync_dir(self._dir)
            self._maybe_rotate()

    def cursor(self, name: str) -> SimpleCursor:
        with self._lock:
            if name not in self._cursors:
                self._cursors[name] = SimpleCursor(self, name, None)
            return self._cursors[name]

    def drop_cursor(self, name: str) -> None:
        with self._lock:
            existed = self._cursors.pop(name, None) is not None
        if existed:
            self._save_cursors()

    def _maybe_rotate(self) -> None:
        """Caller holds the lock. Start a new file once every cursor passed this one."""
        if self._last is None or self._end_offset < self._rotate_bytes or not self._cursors:
            return
        if any(c.position is None or c.position < self._last for c in self._cursors.values()):
            return
        old = self._path(self._number)
        os.close(self._fd)
        self._number += 1
        self._fd = os.open(self._path(self._number), os.O_RDWR | os.O_CREAT, 0o644)
        _fsync_dir(self._dir)
        old.unlink()
        _fsync_dir(self._dir)
        self._end_offset = 0
        # `_last` stays: it is still the last record ever written.

    # -- append --------------------------------------------------------------
    async def append_many(self, payloads: Sequence[bytes]) -> list[Position]:
        return await asyncio.to_thread(self.append_many_sync, payloads)

    def append_many_sync(self, payloads: Sequence[bytes]) -> list[Position]:
        with self._lock:
            if self._closed:
                raise RuntimeError("log is closed")
            positions: list[Position] = []
            offset = self._end_offset
            frames: list[bytes] = []
            for payload in payloads:
                positions.append((self._number, offset))
                frames.append(_FRAME.pack(len(payload), zlib.crc32(payload)))
                frames.append(payload)
                offset += _FRAME.size + len(payload)
                if self._policy == "always":
                    self._write(frames)
                    os.fsync(self._fd)
                    frames = []
            if frames:
                self._write(frames)
                if self._policy == "group":
                    os.fsync(self._fd)
                else:
                    self._dirty = True
            self._end_offset = offset
            if positions:
                self._last = positions[-1]
            return positions

    def _write(self, frames: list[bytes]) -> None:
        data = memoryview(b"".join(frames))
        while data:
            written = os.pwrite(self._fd, data, self._end_offset)
            self._end_offset += written
            data = data[written:]

    def _sync_loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.sync()

    def sync(self) -> None:
        with self._lock:
            if self._dirty and not self._closed:
                os.fsync(self._fd)
                self._dirty = False

    # -- read ----------------------------------------------------------------
    def end(self) -> Position | None:
        return self._last

    def records(self, after: Position | None = None) -> Iterator[tuple[Position, bytes]]:
        with self._lock:
            number, end = self._number, self._end_offset
        if after is not None and after[0] > number:
            return
        start = 0
        skip_first = after is not None and after[0] == number
        if skip_first and after is not None:
            start = after[1]
        try:
            f = open(self._path(number), "rb", buffering=1 << 20)  # noqa: SIM115 - generator
        except FileNotFoundError:
            return
        with f:
            f.seek(start)
            offset = start
            while offset < end:
                payload = self._read_frame(f)
                if payload is None:
                    return
                position = (number, offset)
                offset += _FRAME.size + len(payload)
                if skip_first:
                    skip_first = False
                    continue
                yield position, payload

    async def close(self) -> None:
        if self._closed:
            return
        self._stop.set()
        if self._syncer is not None:
            await asyncio.to_thread(self._syncer.join)
        with self._lock:
            if self._dirty:
                os.fsync(self._fd)
            self._closed = True
            os.close(self._fd)
