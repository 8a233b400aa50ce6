"""Batch boundaries: which events each batch holds, written down before its first attempt.

Layout: ``<root>/<sha256(cursor)[:16]>-<sha256(pattern)[:8]>.jsonl``, one JSON array
per line and per closed batch::

    [stream, first_seq, last_seq, first_position, last_position]

where the positions are the feed positions (WAL `Position` as a list) of the records
holding the batch's first and last event. The file is named after the subscription's
cursor and its filter pattern: a changed pattern starts a new file (the old one is
removed), since its boundaries would describe other events.

Invariants and what they buy:

1. A batch's line is handed to the kernel (`os.write`, no fsync) before the batch's
   first `send`. It survives a kill of the daemon, not necessarily a power loss.
2. After a restart the dispatcher reads the file once. A batch whose first record lies
   behind the cursor was acknowledged (or dead-lettered) before that commit, so its
   events still in the replayed records are skipped; every other batch is cut again
   with exactly the recorded first and last event, so a batch that was in flight at
   the crash goes out again with the same events and the same `batch.id`: a duplicate
   a consumer can recognise by the key alone.
3. A line is dropped (on rewrite, temp file then rename) once the cursor has passed the
   record of the batch's last event, using a commit at least `COMPACT_DELAY_S` old: the
   WAL's housekeeper made that one durable long before, so a restart never replays a
   record whose boundaries are gone. The file stays about as long as the batches in
   flight.
4. A lost or damaged file costs only invariant 2: the batches after the cursor are cut
   afresh; event ids still de-duplicate. Unreadable lines are skipped.

Blocking file I/O, but small: one `write` per flush, a rewrite every `COMPACT_LINES`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("logd.subscriptions")

#: Lines written between two rewrites that drop the boundaries the cursor has passed.
COMPACT_LINES = 4096
#: Age of the commit a rewrite cuts at (the cursor files lag commits by milliseconds).
COMPACT_DELAY_S = 5.0


@dataclass(frozen=True, slots=True)
class Boundary:
    """One closed batch: a stream's matched events `first_seq..last_seq`, inclusive."""

    stream: str
    first_seq: int
    last_seq: int
    first_position: tuple[int, ...]
    last_position: tuple[int, ...]

    def to_line(self) -> bytes:
        row = [
            self.stream,
            self.first_seq,
            self.last_seq,
            list(self.first_position),
            list(self.last_position),
        ]
        return orjson.dumps(row) + b"\n"

    @classmethod
    def from_line(cls, raw: bytes) -> Boundary:
        stream, first, last, first_pos, last_pos = orjson.loads(raw)
        if not (
            isinstance(stream, str)
            and isinstance(first, int)
            and isinstance(last, int)
            and first <= last
        ):
            raise ValueError("not a batch boundary")
        return cls(stream, first, last, _position(first_pos), _position(last_pos))


def _position(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise ValueError("not a position")
    return tuple(value)


def file_prefix(cursor: str) -> str:
    return hashlib.sha256(cursor.encode()).hexdigest()[:16]


class BatchBoundaries:
    """The boundaries file of one subscription (see the module docstring)."""

    def __init__(self, root: Path, cursor: str, pattern: str) -> None:
        self.root = root
        self.prefix = file_prefix(cursor)
        tag = hashlib.sha256(pattern.encode()).hexdigest()[:8]
        self.path = root / f"{self.prefix}-{tag}.jsonl"
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._live: list[Boundary] = []
        self._lines = 0
        self._cut: tuple[tuple[int, ...], float] | None = None  # (commit, when it was seen)

    def load(self) -> list[Boundary]:
        """The boundaries on file (and remove files of this cursor's older patterns)."""
        for other in self.root.glob(f"{self.prefix}-*.jsonl"):
            if other != self.path:
                with contextlib.suppress(FileNotFoundError):
                    other.unlink()
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out: list[Boundary] = []
        bad = 0
        for raw in data.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                continue  # torn last line: its batch never went out
            try:
                out.append(Boundary.from_line(raw))
            except (ValueError, TypeError):
                bad += 1
        if bad:
            log.warning(
                "Skipped %d unreadable lines of the batch boundaries file %s.", bad, self.path
            )
        self._live = list(out)
        self._lines = len(out)
        return out

    def record(self, boundary: Boundary) -> None:
        """Note a closed batch; `flush` writes it."""
        self._pending.append(boundary.to_line())
        self._live.append(boundary)

    def flush(self) -> None:
        """Write every noted boundary (one `write`); call before the batches' first send."""
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._lines += len(self._pending)
        self._pending.clear()
        fd = self._open()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    def _open(self) -> int:
        if self._fd is None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        return self._fd

    def compact(self, committed: Any, now: float) -> None:
        """Drop the boundaries the cursor has passed, once enough lines have piled up.

        `committed` is the cursor's latest commit, `now` a monotonic time in seconds; the
        cut is made at an earlier commit, one at least `COMPACT_DELAY_S` old.
        """
        if self._lines < COMPACT_LINES:
            return
        if self._cut is None:
            self._cut = (tuple(committed), now)
            return
        cut, seen = self._cut
        if now - seen < COMPACT_DELAY_S:
            return
        self._cut = (tuple(committed), now)
        self.flush()
        self._live = [b for b in self._live if b.last_position > cut]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(b.to_line() for b in self._live))
        self.close()
        tmp.replace(self.path)
        self._lines = len(self._live)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def remove(self) -> None:
        """Forget the subscription's boundaries (its filter was deleted)."""
        self.close()
        self._pending.clear()
        self._live.clear()
        remove_files(self.root, self.prefix)


def remove_files(root: Path, prefix: str) -> None:
    for path in root.glob(f"{prefix}-*"):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
