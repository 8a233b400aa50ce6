"""Reading durable records back: file spans from disk, and `WalReader`, the async tail.

`WalReader` yields `(position, payload)` for every record after its cursor: first what is
on disk (read in a worker thread), then each record as soon as the fsync covering it
completes (served from the WAL's in-memory cache of recent records when it can). It
never yields a record before it is durable. The reader's cursor moves only when you
`commit`.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import logging
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from logd.store.wal.cursors import Cursor
from logd.store.wal.record import RECORD_HEADER_SIZE, STOP_END, Position, RecordScanner

log = logging.getLogger("logd.store.wal")

#: One disk read by a reader returns at most this much.
READ_BATCH_BYTES = 4 << 20
READ_BATCH_RECORDS = 8192


@dataclass(frozen=True, slots=True)
class FileSpan:
    """Durable bytes `[start, end)` of WAL file `number`: whole records only."""

    number: int
    path: Path
    start: int
    end: int


def iter_spans(spans: Sequence[FileSpan]) -> Generator[tuple[Position, bytes], None, None]:
    """Records in `spans`, in order. A file deleted meanwhile is skipped (every cursor had
    passed it); bytes that fail their CRC below the durable end end that file's span."""
    for span in spans:
        try:
            f = open(span.path, "rb", buffering=1 << 20)  # noqa: SIM115 -- closed below, also on early exit
        except FileNotFoundError:
            continue
        with f:
            scanner = RecordScanner(f, span.start, span.end)
            number = span.number
            for end, payload in scanner:
                yield Position(number, end), payload
            if scanner.stop != STOP_END:
                log.error(
                    "WAL file %s changed under its durable end at offset %d; rest skipped",
                    span.path,
                    scanner.end,
                )


def read_spans(
    spans: Sequence[FileSpan],
    max_bytes: int = READ_BATCH_BYTES,
    max_records: int = READ_BATCH_RECORDS,
) -> list[tuple[Position, bytes]]:
    """The first records of `spans`, up to about `max_bytes` or `max_records` (blocking)."""
    out: list[tuple[Position, bytes]] = []
    total = 0
    with contextlib.closing(iter_spans(spans)) as records:
        for item in records:
            out.append(item)
            total += len(item[1])
            if total >= max_bytes or len(out) >= max_records:
                break
    return out


class RecentRecords:
    """The latest durable records, in memory, so that live readers skip the disk.

    It holds every durable record after `base`, up to about `cap_bytes`; when it grows
    past that, the oldest half goes and `base` moves up.
    """

    def __init__(self, base: Position, cap_bytes: int) -> None:
        self.base = base
        self._cap = cap_bytes
        self._positions: list[Position] = []
        self._payloads: list[bytes] = []
        self._bytes = 0

    def extend(self, positions: Sequence[Position], payloads: Sequence[bytes], nbytes: int) -> None:
        """Add records that just became durable (the next ones in WAL order)."""
        self._positions.extend(positions)
        self._payloads.extend(payloads)
        self._bytes += nbytes
        if self._bytes > self._cap:
            cut = 0
            while cut < len(self._payloads) and self._bytes > self._cap // 2:
                self._bytes -= RECORD_HEADER_SIZE + len(self._payloads[cut])
                cut += 1
            self.base = self._positions[cut - 1]
            del self._positions[:cut]
            del self._payloads[:cut]

    def after(
        self, position: Position | None, limit: int = READ_BATCH_RECORDS
    ) -> list[tuple[Position, bytes]] | None:
        """Records after `position`, or None when memory does not reach back that far."""
        if position is None or position < self.base:
            return None
        i = bisect.bisect_right(self._positions, position)
        j = min(len(self._positions), i + limit)
        return list(zip(self._positions[i:j], self._payloads[i:j], strict=True))


class ReaderSource(Protocol):
    """What a `WalReader` needs from the WAL."""

    @property
    def closed(self) -> bool: ...
    def _durable_changed(self) -> asyncio.Event: ...
    def _cached_after(self, after: Position | None) -> list[tuple[Position, bytes]] | None: ...
    def _spans_after(self, after: Position | None) -> list[FileSpan]: ...
    def _wake_readers(self) -> None: ...


class WalReader:
    """`async for position, payload in reader: ...; reader.commit(position)`."""

    def __init__(self, source: ReaderSource, cursor: Cursor) -> None:
        self._source = source
        self.cursor = cursor
        self._after: Position | None = cursor.position
        self._buffer: collections.deque[tuple[Position, bytes]] = collections.deque()
        self._closed = False

    @property
    def name(self) -> str:
        return self.cursor.name

    @property
    def position(self) -> Position | None:
        """The last record yielded (committed or not)."""
        return self._after

    def commit(self, position: Position) -> None:
        """The records up to `position` are done with: move the durable cursor there."""
        self.cursor.commit(position)

    def close(self) -> None:
        """Stop iterating (the cursor stays registered)."""
        self._closed = True
        self._source._wake_readers()

    def __aiter__(self) -> WalReader:
        return self

    async def __anext__(self) -> tuple[Position, bytes]:
        source = self._source
        while True:
            if self._buffer:
                item = self._buffer.popleft()
                self._after = item[0]
                return item
            if self._closed or source.closed:
                raise StopAsyncIteration
            changed = source._durable_changed()
            batch = source._cached_after(self._after)
            if batch is None:
                spans = source._spans_after(self._after)
                batch = await asyncio.to_thread(read_spans, spans) if spans else []
            if batch:
                self._buffer.extend(batch)
                continue
            await changed.wait()
