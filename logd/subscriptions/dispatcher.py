"""One subscription's delivery loop: read, match, batch per stream, send, advance.

The loop is three tasks in one TaskGroup: a reader that pulls decoded WAL records into a
small bounded queue (so a slow sink pauses reading, not the daemon), the batcher that
matches and groups events per log stream and sends closed batches one at a time, and a
timer that closes batches older than ``batch_max_wait_ms``. The cursor is committed at the
newest record none of whose events is still waiting in a buffer or in flight.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from logd.backoff import Backoff
from logd.clock import Clock
from logd.model import EVENT_OVERHEAD_BYTES, event_id
from logd.subscriptions.deadletter import DeadLetter, DeadLetterStore
from logd.subscriptions.options import SubscriptionOptions


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
    opened_at: float = 0.0

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


class Dispatcher:
    def __init__(
        self,
        *,
        name: str,
        group: str,
        sink_name: str,
        feed: Feed,
        matcher: Matcher,
        send: SendFn,
        deadletters: DeadLetterStore,
        options: SubscriptionOptions,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.group = group
        self.sink_name = sink_name
        self._feed = feed
        self._matcher = matcher
        self._send = send
        self._dlq = deadletters
        self._options = options
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._backoff = Backoff(options.retry_base_ms / 1000, options.retry_cap_ms / 1000)
        self._queue: asyncio.Queue[tuple[Any, RecordView | None]] = asyncio.Queue(
            options.queue_records
        )
        self._buffers: dict[str, PendingBatch] = {}
        self._processed: deque[Any] = deque()
        self._committed: Any = None
        self._last_commit = 0.0
        self._ready: list[PendingBatch] = []
        self._pending_commit: Any = None
        self.stats = DispatcherStats()

    async def run(self) -> None:
        """Deliver until cancelled. Cancellation flushes nothing: the cursor says it all."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._read())
            tg.create_task(self._timer())
            await self._batch()

    async def _read(self) -> None:
        async for item in self._feed:
            await self._queue.put(item)

    async def _timer(self) -> None:
        wait_s = self._options.batch_max_wait_ms / 1000
        while True:
            await asyncio.sleep(wait_s / 2)
            if not self._queue.qsize():
                await self._queue.put((None, None))  # a tick: lets the batcher close batches

    async def _batch(self) -> None:
        while True:
            position, record = await self._queue.get()
            if position is not None:
                if record is not None and record.group == self.group:
                    self._add(position, record)
                self._processed.append(position)
            await self._flush(force_old=True)
            self._maybe_commit()

    def _add(self, position: Any, record: RecordView) -> None:
        mask = self._matcher(record.messages)
        opts = self._options
        for i, matched in enumerate(mask):
            if not matched:
                continue
            message = record.messages[i]
            size = len(message.encode()) + EVENT_OVERHEAD_BYTES
            buf = self._buffers.get(record.stream)
            if buf is not None and (
                len(buf) >= opts.batch_max_events or buf.nbytes + size > opts.batch_max_bytes
            ):
                self._ready.append(self._buffers.pop(record.stream))
                buf = None
            if buf is None:
                buf = PendingBatch(self.name, record.group, record.stream)
                buf.first_position = position
                buf.opened_at = self._clock.monotonic()
                self._buffers[record.stream] = buf
            buf.seqs.append(record.first_seq + i)
            buf.timestamps.append(record.timestamps[i])
            buf.ingestion_times.append(record.ingestion_time)
            buf.messages.append(message)
            buf.nbytes += size

    async def _flush(self, *, force_old: bool) -> None:
        now = self._clock.monotonic()
        max_wait = self._options.batch_max_wait_ms / 1000
        for stream, buf in list(self._buffers.items()):
            if len(buf) >= self._options.batch_max_events or (
                force_old and now - buf.opened_at >= max_wait
            ):
                self._ready.append(self._buffers.pop(stream))
        while self._ready:  # a batch leaves _ready only once acknowledged or dead-lettered
            await self._deliver(self._ready[0])
            self._ready.pop(0)

    async def _deliver(self, batch: PendingBatch) -> None:
        """Send until acknowledged; bisect fatal refusals down to the poison events."""
        first_attempt = self._clock.now_ms()
        attempt = 0
        started = self._clock.monotonic()
        while True:
            attempt += 1
            result = await self._send(batch, attempt)
            if result.outcome == Outcome.OK:
                self.stats.delivered_events += len(batch)
                self.stats.delivered_batches += 1
                self.stats.state = "RUNNING"
                return
            self.stats.failed_attempts += 1
            self.stats.last_error = result.reason
            if result.outcome == Outcome.FATAL:
                if len(batch) > 1:
                    left, right = batch.halves()
                    await self._deliver(left)
                    await self._deliver(right)
                else:
                    await self._dead_letter(batch, result, attempt, first_attempt)
                return
            opts = self._options
            elapsed_ms = (self._clock.monotonic() - started) * 1000
            if (opts.retry_max_attempts and attempt >= opts.retry_max_attempts) or (
                opts.retry_max_duration_ms and elapsed_ms >= opts.retry_max_duration_ms
            ):
                await self._dead_letter(batch, result, attempt, first_attempt)
                return
            self.stats.retried += 1
            key = result.error_class or "unclassified"
            self.stats.retries_by_class[key] = self.stats.retries_by_class.get(key, 0) + 1
            self.stats.state = "PAUSED_AUTH" if result.pause_s else "RETRYING"
            delay = self._backoff.delay(attempt, result.retry_after, rng=self._rng)
            if result.pause_s:
                delay = max(delay, result.pause_s)
            await asyncio.sleep(delay)

    async def _dead_letter(
        self, batch: PendingBatch, result: Classified, attempts: int, first_attempt: int
    ) -> None:
        letter = DeadLetter(
            subscription=self.name,
            sink=self.sink_name,
            reason=result.reason,
            error_class=result.error_class or result.outcome,
            attempts=attempts,
            first_attempt_at=first_attempt,
            dead_lettered_at=self._clock.now_ms(),
            idempotency_key=batch.idempotency_key,
            log_group=batch.group,
            log_stream=batch.stream,
            events=batch.events_json(),
        )
        await asyncio.to_thread(self._dlq.append, letter)
        self.stats.dead_lettered_events += len(batch)

    def _maybe_commit(self, *, force: bool = False) -> None:
        """Commit the newest processed record that no open buffer still depends on."""
        waiting = [*self._buffers.values(), *self._ready]
        oldest_open = min((b.first_position for b in waiting), default=None)
        target = None
        while self._processed and (oldest_open is None or self._processed[0] < oldest_open):
            target = self._processed.popleft()
        if target is not None:
            self._pending_commit = target
        elif self._pending_commit == self._committed:
            return  # a tick with nothing new; a commit held back by the interval goes below
        now = self._clock.monotonic()
        if force or now - self._last_commit >= self._options.commit_interval_ms / 1000:
            self._commit_now()

    def _commit_now(self) -> None:
        if self._pending_commit is not None and self._pending_commit != self._committed:
            self._feed.commit(self._pending_commit)
            self._committed = self._pending_commit
            self._last_commit = self._clock.monotonic()

    async def drain(self) -> None:
        """Close every open batch, deliver it and commit (graceful shutdown).

        Call it once `run()` has been cancelled: a batch whose send was cancelled is still
        waiting and is sent again (at-least-once), never skipped by the cursor.
        """
        self._ready.extend(self._buffers.values())
        self._buffers.clear()
        await self._flush(force_old=False)
        self._maybe_commit(force=True)
        self._commit_now()
