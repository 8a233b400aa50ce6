"""A subscription's durable cursor, as the dispatcher's `Feed`.

Wraps the store's `LogReader` (cursor `sub:<group id>:<filter>`): records of other
groups are passed on as `(position, None)` after reading only their header (so the
cursor still moves past them), the subscription's own are decoded into columns.
`commit` never blocks the event loop: it records the newest position and a committer
task writes it (SimpleLog fsyncs its cursor file); `flush` writes the last one.
A commit lost to a crash only replays records (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
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
    def __init__(self, reader: LogReader, group_id: int) -> None:
        self.reader = reader
        self.group_id = group_id
        self._target: Position | None = None
        self._written: Position | None = reader.position
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._writing: asyncio.Future[None] | None = None
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
        self._target = position
        while self._unacked and self._unacked[0][0] <= position:
            self._unacked.popleft()
        self._wake.set()

    def oldest_unacked_ingestion(self) -> int | None:
        """Ingestion time of the oldest event read but not yet acknowledged, if any."""
        return self._unacked[0][1] if self._unacked else None

    @property
    def committed(self) -> Position | None:
        return self._written

    async def run_committer(self) -> None:
        """Write commits as they come (at most one write at a time), until cancelled."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        async with self._write_lock:
            if self._writing is not None:  # a write a cancelled committer left running
                await asyncio.shield(self._writing)
            target = self._target
            if target is not None and target != self._written:
                # shielded: a cancelled caller never leaves an older write racing a newer
                self._writing = asyncio.ensure_future(asyncio.to_thread(self.reader.commit, target))
                await asyncio.shield(self._writing)
                self._writing = None
                self._written = target
