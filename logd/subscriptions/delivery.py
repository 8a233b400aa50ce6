"""What a subscription's delivery loop works with: the records it reads (`Feed`,
`RecordView`), the batch it builds per log stream (`PendingBatch`), how a send went
(`Outcome`, `Classified`) and its counters (`DispatcherStats`). The loop itself is
`dispatcher.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from logd.model import EVENT_OVERHEAD_BYTES, event_id


class RecordView(Protocol):
    """What the dispatcher needs of one decoded WAL record (one append batch)."""

    @property
    def group(self) -> str: ...
    @property
    def stream(self) -> str: ...
    @property
    def first_seq(self) -> int: ...
    @property
    def ingestion_time(self) -> int: ...
    @property
    def timestamps(self) -> Sequence[int]: ...
    @property
    def messages(self) -> Sequence[str]: ...


class Feed(Protocol):
    """A durable cursor over the WAL, yielding (position, record or None for non-events)."""

    def __aiter__(self) -> AsyncIterator[tuple[Any, RecordView | None]]: ...
    def commit(self, position: Any) -> None: ...


Matcher = Callable[[Sequence[str]], Sequence[bool]]


class Outcome:
    """How one send attempt ended, as the dispatcher sees it."""

    OK = "ok"
    RETRY = "retry"
    FATAL = "fatal"


@dataclass(slots=True)
class Classified:
    outcome: str
    reason: str = ""
    error_class: str = ""
    retry_after: float | None = None
    pause_s: float | None = None


SendFn = Callable[["PendingBatch", int], Awaitable[Classified]]
"""Deliver a batch (attempt number given) and say how it went; never raises."""


@dataclass(slots=True)
class PendingBatch:
    """Events of one (subscription, group, stream), in WAL order, not yet acknowledged."""

    subscription: str
    group: str
    stream: str
    seqs: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    ingestion_times: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    nbytes: int = 0
    first_position: Any = None
    last_position: Any = None
    opened_at: float = 0.0
    planned_last: int | None = None
    """The recorded last event of this batch when it is cut again after a restart."""

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def idempotency_key(self) -> str:
        text = f"logd/v1|{self.subscription}|{self.group}|{self.stream}|"
        text += f"{self.seqs[0]}|{self.seqs[-1]}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def halves(self) -> tuple[PendingBatch, PendingBatch]:
        mid = len(self) // 2
        return self._slice(0, mid), self._slice(mid, len(self))

    def _slice(self, lo: int, hi: int) -> PendingBatch:
        part = PendingBatch(self.subscription, self.group, self.stream)
        part.seqs = self.seqs[lo:hi]
        part.timestamps = self.timestamps[lo:hi]
        part.ingestion_times = self.ingestion_times[lo:hi]
        part.messages = self.messages[lo:hi]
        part.nbytes = sum(len(m.encode()) + EVENT_OVERHEAD_BYTES for m in part.messages)
        part.first_position = self.first_position
        part.last_position = self.last_position
        part.opened_at = self.opened_at
        return part

    def events_json(self) -> list[dict[str, Any]]:
        return [
            {"id": event_id(s), "timestamp": t, "ingestionTime": it, "message": m}
            for s, t, it, m in zip(
                self.seqs, self.timestamps, self.ingestion_times, self.messages, strict=True
            )
        ]


@dataclass(slots=True)
class DispatcherStats:
    delivered_events: int = 0
    delivered_batches: int = 0
    retried: int = 0
    failed_attempts: int = 0
    dead_lettered_events: int = 0
    state: str = "RUNNING"
    last_error: str = ""
    retries_by_class: dict[str, int] = field(default_factory=dict)
