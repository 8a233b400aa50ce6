"""One subscription's delivery loop: read, match, batch per stream, send, advance.

The loop is a TaskGroup: a reader that pulls decoded WAL records into a small bounded
queue, the batcher that matches and groups events per log stream, a timer that closes
batches older than ``batch_max_wait_ms``, and one task per batch in flight.

- A batch closes when it is full (``batch_max_events``, ``batch_max_bytes``), when it
  is ``batch_max_wait_ms`` old, or, with ``batch_send_when_idle``, as soon as the reader
  has caught up with the WAL and the batch could start at once: at a low rate events go
  out within milliseconds, under load batches grow while earlier ones are in flight.
- Up to ``max_in_flight`` batches are delivered at once, never two of one stream: a
  stream's batches start in the order they closed, each after the previous one was
  acknowledged (or dead-lettered). While a delivery waits out a backoff no batch starts,
  and at most ``max_in_flight`` closed batches wait, so a failing sink pauses reading.
- Every closed batch's boundaries are written down before its first attempt
  (`boundaries.py`); after a restart the same batches are cut again.
- The cursor is committed at the newest record none of whose events is still in an
  open, closed or in-flight batch: it never passes an event whose batch, or an earlier
  one, is unacknowledged.
"""

from __future__ import annotations

import asyncio
import bisect
import random
from collections import deque
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from logd.backoff import Backoff
from logd.clock import Clock
from logd.model import EVENT_OVERHEAD_BYTES
from logd.subscriptions.boundaries import BatchBoundaries, Boundary
from logd.subscriptions.deadletter import DeadLetter, DeadLetterStore
from logd.subscriptions.delivery import (
    Classified,
    DispatcherStats,
    Feed,
    Matcher,
    Outcome,
    PendingBatch,
    RecordView,
    SendFn,
)
from logd.subscriptions.options import SubscriptionOptions


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
        boundaries: BatchBoundaries | None = None,
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
        self._boundaries = boundaries
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._backoff = Backoff(options.retry_base_ms / 1000, options.retry_cap_ms / 1000)
        self._queue: asyncio.Queue[tuple[Any, RecordView | None]] = asyncio.Queue(
            options.queue_records
        )
        self._buffers: dict[str, PendingBatch] = {}  # open, one per stream
        self._closed: deque[PendingBatch] = deque()  # closed, not started, in close order
        self._inflight: dict[str, PendingBatch] = {}  # being delivered, one per stream
        self._retrying = 0  # deliveries waiting out a backoff: no new batch starts
        self._room = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._processed: deque[Any] = deque()
        self._committed: Any = None
        self._last_commit = 0.0
        self._pending_commit: Any = None
        # boundaries recorded before a restart: None until read, consumed on first record
        self._loaded: list[Boundary] | None = None if boundaries is not None else []
        self._plans: dict[str, deque[tuple[int, int]]] = {}
        self._skip: dict[str, int] = {}
        self.stats = DispatcherStats()

    async def run(self) -> None:
        """Deliver until cancelled or stopped.

        Cancelled, it flushes nothing (the cursor says it all; `drain` may follow). After
        `stop()` it reads no more, starts no new batch, and returns once the batches in
        flight are acknowledged; `drain` then sends what is left.
        """
        if self._loaded is None and self._boundaries is not None:
            self._loaded = await asyncio.to_thread(self._boundaries.load)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                loops = [
                    tg.create_task(self._read()),
                    tg.create_task(self._timer()),
                    tg.create_task(self._batch()),
                ]
                await self._stopping.wait()
                for task in loops:
                    task.cancel()
                # leaving the group waits for the deliveries in flight
        finally:
            self._tg = None

    def stop(self) -> None:
        """Begin a graceful stop (see `run`)."""
        self._stopping.set()

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
        max_in_flight = self._options.max_in_flight
        while True:
            if self._queue.empty():
                await asyncio.sleep(0)  # let the reader hand over what it already holds
                if self._queue.empty():
                    self._caught_up()
            position, record = await self._queue.get()
            if position is not None:
                if self._loaded:
                    self._plan(self._loaded, position)
                    self._loaded = []
                if record is not None and record.group == self.group:
                    self._add(position, record)
                self._processed.append(position)
            self._close_old()
            self._start()
            while len(self._closed) > max_in_flight:  # bounded: a slow sink pauses reading
                self._room.clear()
                await self._room.wait()
            self._maybe_commit()

    # -- batching ------------------------------------------------------------------------

    def _plan(self, loaded: list[Boundary], first_position: Any) -> None:
        """Use the boundaries recorded before the restart (see `boundaries.py`)."""
        for b in loaded:
            if b.first_position < first_position:  # acknowledged before the commit
                self._skip[b.stream] = max(self._skip.get(b.stream, 0), b.last_seq)
            else:
                self._plans.setdefault(b.stream, deque()).append((b.first_seq, b.last_seq))
        for plans in self._plans.values():
            ordered = sorted(set(plans))
            plans.clear()
            plans.extend(ordered)

    def _add(self, position: Any, record: RecordView) -> None:
        mask = self._matcher(record.messages)
        messages = record.messages
        n = len(messages)
        index: Sequence[int]
        if all(mask):
            index = range(n)
        else:
            index = [i for i, m in enumerate(mask) if m]
            if not index:
                return
        stream = record.stream
        first_seq = record.first_seq
        opts = self._options
        sizes = list(accumulate(len(messages[i].encode()) + EVENT_OVERHEAD_BYTES for i in index))
        lo, hi = 0, len(index)
        skip = self._skip.get(stream)
        if skip is not None:
            lo = bisect.bisect_right(index, skip - first_seq)
            if lo < hi:
                del self._skip[stream]  # passed: later events are new
        while lo < hi:
            seq = first_seq + index[lo]
            buf = self._buffers.get(stream)
            if buf is not None and buf.planned_last is not None and seq > buf.planned_last:
                self._close(stream)
                buf = None
            if buf is None:
                buf = self._open(stream, seq, position)
            before = sizes[lo - 1] if lo else 0
            if buf.planned_last is None:
                end = min(
                    hi,
                    lo + opts.batch_max_events - len(buf),
                    bisect.bisect_right(sizes, before + opts.batch_max_bytes - buf.nbytes, lo, hi),
                )
            else:  # cut exactly as before the restart, whatever the limits are now
                end = bisect.bisect_right(index, buf.planned_last - first_seq, lo, hi)
            if end == lo:
                if len(buf):
                    self._close(stream)
                    continue
                end = lo + 1  # an event larger than batch_max_bytes goes alone
            if isinstance(index, range):
                buf.seqs.extend(range(first_seq + lo, first_seq + end))
                buf.timestamps.extend(record.timestamps[lo:end])
                buf.messages.extend(messages[lo:end])
            else:
                part = index[lo:end]
                buf.seqs.extend(first_seq + i for i in part)
                buf.timestamps.extend(record.timestamps[i] for i in part)
                buf.messages.extend(messages[i] for i in part)
            buf.ingestion_times.extend([record.ingestion_time] * (end - lo))
            buf.nbytes += sizes[end - 1] - before
            buf.last_position = position
            lo = end
            if buf.planned_last is not None:
                if buf.seqs[-1] >= buf.planned_last:
                    self._close(stream)
            elif len(buf) >= opts.batch_max_events or buf.nbytes >= opts.batch_max_bytes:
                self._close(stream)

    def _open(self, stream: str, seq: int, position: Any) -> PendingBatch:
        buf = PendingBatch(self.name, self.group, stream)
        buf.first_position = position
        buf.opened_at = self._clock.monotonic()
        plans = self._plans.get(stream)
        while plans and plans[0][1] < seq:
            plans.popleft()  # its events no longer match (or were skipped)
        if plans:
            first, last = plans[0]
            if first <= seq:
                plans.popleft()
                buf.planned_last = last
            else:  # keep the next recorded batch whole
                buf.planned_last = first - 1
        if plans is not None and not plans:
            del self._plans[stream]
        self._buffers[stream] = buf
        return buf

    def _close(self, stream: str) -> None:
        buf = self._buffers.pop(stream)
        if self._boundaries is not None:
            self._boundaries.record(
                Boundary(
                    stream,
                    buf.seqs[0],
                    buf.seqs[-1],
                    tuple(buf.first_position),
                    tuple(buf.last_position),
                )
            )
        self._closed.append(buf)

    def _close_old(self) -> None:
        now = self._clock.monotonic()
        max_wait = self._options.batch_max_wait_ms / 1000
        for stream, buf in list(self._buffers.items()):
            if now - buf.opened_at >= max_wait:
                self._close(stream)

    def _caught_up(self) -> None:
        """The reader has nothing more for now: send what can go at once."""
        if self._stopping.is_set():
            return
        if self._options.batch_send_when_idle and not self._retrying:
            free = self._options.max_in_flight - len(self._inflight) - len(self._closed)
            for stream, buf in list(self._buffers.items()):
                if free <= 0:
                    break
                if stream in self._inflight or (
                    buf.planned_last is not None and buf.seqs[-1] < buf.planned_last
                ):
                    continue  # grows meanwhile / waits for the rest of its recorded events
                self._close(stream)
                free -= 1
        self._start()
        self._maybe_commit()

    # -- sending -------------------------------------------------------------------------

    def _start(self) -> None:
        """Start closed batches while there is room, one per stream, in close order."""
        if self._retrying or not self._closed or self._tg is None or self._stopping.is_set():
            return
        max_in_flight = self._options.max_in_flight
        waiting: deque[PendingBatch] = deque()
        blocked: set[str] = set()
        while self._closed:
            batch = self._closed.popleft()
            stream = batch.stream
            if (
                len(self._inflight) >= max_in_flight
                or stream in self._inflight
                or (stream in blocked)
            ):
                blocked.add(stream)
                waiting.append(batch)
                continue
            self._inflight[stream] = batch
            self._tg.create_task(self._deliver_in_flight(batch))
        self._closed = waiting

    async def _deliver_in_flight(self, batch: PendingBatch) -> None:
        await self._deliver(batch)
        del self._inflight[batch.stream]  # not on cancellation: drain sends it again
        self._room.set()
        if self._queue.empty():
            self._caught_up()
        else:
            self._start()
            self._maybe_commit()

    async def _deliver(self, batch: PendingBatch) -> None:
        """Send until acknowledged; bisect fatal refusals down to the poison events."""
        if self._boundaries is not None:
            self._boundaries.flush()  # the boundaries are on file before any first attempt
        first_attempt = self._clock.now_ms()
        attempt = 0
        started = self._clock.monotonic()
        while True:
            attempt += 1
            result = await self._send(batch, attempt)
            if result.outcome == Outcome.OK:
                self.stats.delivered_events += len(batch)
                self.stats.delivered_batches += 1
                if not self._retrying:  # another stream's batch may be waiting out a backoff
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
            self._retrying += 1
            try:
                await asyncio.sleep(delay)
            finally:
                self._retrying -= 1

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

    # -- the cursor ----------------------------------------------------------------------

    def _maybe_commit(self, *, force: bool = False) -> None:
        """Commit the newest processed record that no unacknowledged batch depends on."""
        oldest_open = None
        for batches in (self._buffers.values(), self._closed, self._inflight.values()):
            for b in batches:
                if oldest_open is None or b.first_position < oldest_open:
                    oldest_open = b.first_position
        while self._processed and (oldest_open is None or self._processed[0] < oldest_open):
            self._pending_commit = self._processed.popleft()
        if self._pending_commit is None:
            return
        now = self._clock.monotonic()
        if force or now - self._last_commit >= self._options.commit_interval_ms / 1000:
            self._commit_now()

    def _commit_now(self) -> None:
        if self._pending_commit is not None and self._pending_commit != self._committed:
            self._feed.commit(self._pending_commit)
            self._committed = self._pending_commit
            self._last_commit = self._clock.monotonic()
            if self._boundaries is not None:
                self._boundaries.compact(self._committed, self._last_commit)

    async def drain(self) -> None:
        """Close every open batch, deliver it and commit (graceful shutdown).

        Call it once `run()` has returned (after `stop()`) or was cancelled: a batch whose
        send was cancelled is still waiting and is sent again (at-least-once), never
        skipped by the cursor. Batches go one at a time: a stream's in-flight batch first,
        then the closed ones in order.
        """
        for stream in list(self._buffers):
            self._close(stream)
        for batch in [*self._inflight.values(), *self._closed]:
            await self._deliver(batch)
            if self._inflight.get(batch.stream) is batch:
                del self._inflight[batch.stream]
            else:
                self._closed.remove(batch)
        self._maybe_commit(force=True)
        self._commit_now()
        if self._boundaries is not None:
            self._boundaries.close()
