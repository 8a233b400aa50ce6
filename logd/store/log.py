"""The store's view of its durable log: a small protocol the WAL fills (Kafka could too).

Everything the store assumes about the write-ahead log is written here; `wallog.WalLog`
implements it over `logd.store.wal.Wal`.

- `append_many(payloads)` makes the payloads durable, in the given order, under the fsync
  policy the log was opened with, and returns their positions (in the same order). It
  raises only `logd.errors.ServiceUnavailableException` for a refused or failed append
  (log full under on_full = "drop", write error, closed): nothing of it is acknowledged.
  Under on_full = "block" it waits for space instead (backpressure).
- Positions are `Position(file, offset)` tuples (where a record ends), totally ordered,
  strictly increasing in append order, never reused.
- `records(after)` (blocking) replays the durable records strictly after `after` (all
  when None), in order, and never yields a record that was not appended.
- `cursor(name)` is a durable named position (the sealer's is "sealer"); the log forgets
  (deletes) records only once every registered cursor has passed them. `drop_cursor`
  unregisters one. Cursors are committed on the event loop.
- `reader(name, start=...)` tails the log over cursor `name`: `async for position,
  payload in reader: ...; reader.commit(position)`.
- `stats()` reports bytes on disk, per-cursor lag and the refused appends (metrics).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from logd.store.wal.record import Position

__all__ = ["DurableLog", "LogCursor", "LogReader", "LogStats", "Position", "Start"]

Start = Literal["earliest", "latest"]


class LogCursor(Protocol):
    name: str

    @property
    def position(self) -> Position | None:
        """The last record this reader finished, or None before the first."""

    def commit(self, position: Position) -> None:
        """Durably remember `position` (on the event loop; written in the background)."""


class LogReader(Protocol):
    """A named, durable tail of the log."""

    @property
    def name(self) -> str: ...

    @property
    def position(self) -> Position | None:
        """The last record yielded."""

    def commit(self, position: Position) -> None: ...

    def close(self) -> None:
        """End the iteration; the cursor stays registered."""

    def __aiter__(self) -> AsyncIterator[tuple[Position, bytes]]: ...


@dataclass(frozen=True, slots=True)
class LogStats:
    bytes_on_disk: int
    cursor_lag_bytes: dict[str, int]
    dropped_appends: int
    """Append calls refused because the log was full."""
    backpressure: bool
    """Appends are waiting for space right now."""
    max_bytes: int


class DurableLog(Protocol):
    async def append_many(self, payloads: Sequence[bytes]) -> list[Position]: ...

    def records(self, after: Position | None = None) -> Iterator[tuple[Position, bytes]]: ...

    def cursor(self, name: str) -> LogCursor: ...

    def reader(self, name: str, *, start: Start = "latest") -> LogReader: ...

    def drop_cursor(self, name: str) -> None: ...

    def stats(self) -> LogStats: ...

    @property
    def backpressure(self) -> bool:
        """Appends are waiting for space right now (cheap: asked per PutLogEvents)."""
        ...

    async def close(self) -> None: ...
