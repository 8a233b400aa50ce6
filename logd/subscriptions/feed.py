"""A subscription's durable cursor, as the dispatcher's `Feed`.

Wraps the store's `LogReader` (cursor `sub:<group id>:<filter>`): records of other
groups are passed on as `(position, None)` after reading only their header (so the
cursor still moves past them), the subscription's own are decoded into columns.
A `select` test (the filter's `fieldSelectionCriteria`, per log stream) turns the
records of unselected streams into `(position, None)` as well.
`commit` returns at once (the WAL's housekeeper makes cursors durable); `flush` waits
until every commit so far is on disk. A commit lost to a crash only replays records
(at-least-once).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logd.store import record
from logd.store.log import LogReader, Position


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    """One append batch of the subscription's group (`RecordView`)."""

    group: str
    stream: str
    first_seq: int
    ingestion_time: int
    timestamps: Sequence[int]
    messages: Sequence[str]


class StoreFeed:
    def __init__(
        self, reader: LogReader, group_id: int, select: Callable[[str], bool] | None = None
    ) -> None:
        self.reader = reader
        self.group_id = group_id
        self.select = select
        self._committed: Position | None = None
        # (position, ingestion time) of own records yielded and not yet committed: lag
        self._unacked: deque[tuple[Position, int]] = deque()

    def __aiter__(self) -> AsyncIterator[tuple[Any, DecodedRecord | None]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[tuple[Any, DecodedRecord | None]]:
        async for position, payload in self.reader:
            if record.peek_group_id(payload) != self.group_id:
                yield position, None
                continue
            rec = record.decode(payload, trusted=True)
            if self.select is not None and not self.select(rec.stream):
                yield position, None
                continue
            self._unacked.append((position, rec.ingestion_time))
            yield (
                position,
                DecodedRecord(
                    rec.group,
                    rec.stream,
                    rec.first_seq,
                    rec.ingestion_time,
                    rec.timestamps.to_pylist(),
                    rec.messages.to_pylist(),
                ),
            )

    def commit(self, position: Any) -> None:
        self.reader.commit(position)
        self._committed = position
        while self._unacked and self._unacked[0][0] <= position:
            self._unacked.popleft()

    def oldest_unacked_ingestion(self) -> int | None:
        """Ingestion time of the oldest event read but not yet acknowledged, if any."""
        return self._unacked[0][1] if self._unacked else None

    @property
    def committed(self) -> Position | None:
        return self._committed

    async def flush(self) -> None:
        """Wait until the commits so far are durable."""
        cursor = getattr(self.reader, "cursor", None)
        if cursor is not None and self._committed is not None:
            await cursor.flush()
