"""The store's view of its durable log: a small protocol the WAL (or Kafka) can fill.

Everything the store assumes about the write-ahead log is written here:

- `append_many(payloads)` makes the payloads durable, in the given order, under the fsync
  policy the log was opened with, and returns their positions (in the same order).
- Positions are `(file_number, offset)` tuples, totally ordered as tuples, strictly
  increasing in append order, never reused.
- `records(after)` replays the durable records strictly after `after` (all when None),
  in order, and never yields a record that was not appended.
- `cursor(name)` is a durable named position (the sealer's is "sealer"); the log may
  forget records every registered cursor has passed. `drop_cursor` unregisters one.
- `end()` is the position of the last durable record (None when empty).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Protocol

Position = tuple[int, int]


class LogCursor(Protocol):
    name: str

    @property
    def position(self) -> Position | None:
        """The last record this reader finished, or None before the first."""

    def commit(self, position: Position) -> None:
        """Durably remember `position`."""


class DurableLog(Protocol):
    async def append_many(self, payloads: Sequence[bytes]) -> list[Position]: ...

    def records(self, after: Position | None = None) -> Iterator[tuple[Position, bytes]]: ...

    def cursor(self, name: str) -> LogCursor: ...

    def drop_cursor(self, name: str) -> None: ...

    def end(self) -> Position | None: ...

    async def close(self) -> None: ...


class LogReader:
    """A named, durable tail of the log: `async for position, payload in reader`.

    Yields every record after the cursor, then waits for new ones (the store calls
    `notify` after each durable append). `commit(position)` advances the cursor.
    """

    def __init__(self, log: DurableLog, cursor: LogCursor, appended: asyncio.Condition) -> None:
        self._log = log
        self._cursor = cursor
        self._appended = appended
        self._last: Position | None = cursor.position
        self._closed = False

    @property
    def name(self) -> str:
        return self._cursor.name

    @property
    def position(self) -> Position | None:
        return self._cursor.position

    def commit(self, position: Position) -> None:
        self._cursor.commit(position)

    def close(self) -> None:
        self._closed = True

    def __aiter__(self) -> AsyncIterator[tuple[Position, bytes]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[Position, bytes]]:
        while not self._closed:
            produced = False
            for position, payload in self._log.records(self._last):
                self._last = position
                produced = True
                yield position, payload
                if self._closed:
                    return
            if not produced:
                async with self._appended:
                    end = self._log.end()
                    if end is None or (self._last is not None and end <= self._last):
                        await self._appended.wait()
