"""Live tail: a transient subscription per client, with no durable cursor.

The store calls `LiveTail` for every durable record right after it reaches the memtable
(`Store.add_append_listener`); a hub task matches each record against the open sessions
of its group and queues the matching events per session. A session's queue is bounded
(`live_tail_queue_events`): when a client reads too slowly the oldest events are dropped
and the client is told how many it missed (`{"missed": n}`), then may reconnect with
`after=<last event id>` to fetch them from the store.

History then live, with no gap and no repeat: a session is registered and the store's
scan snapshot is taken in the same synchronous step, so every record is either in the
snapshot or offered to the session, never neither; events are then emitted in sequence
order (per group), each only if its sequence number is above the last one emitted.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from logd import errors
from logd.model import event_id
from logd.store.log import Position
from logd.store.record import AppendRecord
from logd.store.store import Store
from logd.subscriptions.options import SubscriptionOptions
from query import FilterPattern, FilterPatternError, compile_filter_pattern

#: (seq, stream, timestamp, ingestion time, message)
Event = tuple[int, str, int, int, str]
FAR_FUTURE_MS = 2**62


@dataclass(frozen=True, slots=True, kw_only=True)
class TailRequest:
    group: str
    streams: tuple[str, ...] = ()
    stream_prefix: str | None = None
    stream_prefixes: tuple[str, ...] = ()
    """More prefixes (StartLiveTail's logStreamNamePrefixes): a stream matching any is in."""
    pattern: str = ""
    since_ms: int | None = None
    """Replay events with timestamp >= since first; live events older than it are skipped."""
    after_seq: int | None = None
    """Resume: only events with a higher sequence number (the last event id seen)."""
    follow: bool = True
    """False: history only, then the stream ends."""

    def wants_stream(self, stream: str) -> bool:
        if self.streams:
            return stream in self.streams
        if self.stream_prefixes:
            return stream.startswith(self.stream_prefixes)
        return self.stream_prefix is None or stream.startswith(self.stream_prefix)


class TailSession:
    def __init__(self, request: TailRequest, group_id: int, pattern: FilterPattern, cap: int):
        self.request = request
        self.group_id = group_id
        self.pattern = pattern
        self.queue: deque[Event] = deque()
        self.cap = cap
        self.missed = 0
        self.closed = False
        self.wake = asyncio.Event()

    def offer(self, rec: AppendRecord) -> None:
        req = self.request
        if not req.wants_stream(rec.stream):
            return
        timestamps: list[int] = rec.timestamps.to_pylist()
        messages: list[str] = rec.messages.to_pylist()
        mask = self.pattern.match_batch(messages) if self.pattern.text else None
        since = req.since_ms
        for i, message in enumerate(messages):
            if (mask is not None and not mask[i]) or (since is not None and timestamps[i] < since):
                continue
            if len(self.queue) >= self.cap:
                self.queue.popleft()
                self.missed += 1
            self.queue.append(
                (rec.first_seq + i, rec.stream, timestamps[i], rec.ingestion_time, message)
            )
        self.wake.set()

    def poll(self) -> tuple[list[Event], int]:
        """Everything queued right now (possibly nothing) and the misses, without waiting."""
        events, missed = list(self.queue), self.missed
        self.queue.clear()
        self.missed = 0
        return events, missed

    async def take(self) -> tuple[list[Event], int]:
        """Everything queued (waiting for at least one event or a miss), and the misses."""
        while not self.queue and not self.missed and not self.closed:
            self.wake.clear()
            await self.wake.wait()
        events, missed = list(self.queue), self.missed
        self.queue.clear()
        self.missed = 0
        return events, missed


class LiveTail:
    def __init__(self, store: Store, options: SubscriptionOptions) -> None:
        self.store = store
        self.options = options
        self._sessions: set[TailSession] = set()
        self._inbox: deque[tuple[int, AppendRecord]] = deque()
        self._received = 0
        self._registered: dict[TailSession, int] = {}
        self._wake = asyncio.Event()
        self._remove: Any = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._remove = self.store.add_append_listener(self._on_append)
            self._task = asyncio.create_task(self._run(), name="logd-live-tail")

    async def close(self) -> None:
        if self._remove is not None:
            self._remove()
            self._remove = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        for session in self._sessions:  # their streams end: the daemon is stopping
            session.closed = True
            session.wake.set()
        self._sessions.clear()

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    def _on_append(self, rec: AppendRecord, position: Position) -> None:
        index = self._received
        self._received += 1
        if self._sessions:
            self._inbox.append((index, rec))
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._inbox:
                index, rec = self._inbox.popleft()
                for session in list(self._sessions):
                    if session.group_id == rec.group_id and index >= self._registered[session]:
                        session.offer(rec)
                await asyncio.sleep(0)  # many records: let the loop breathe

    def _open(self, request: TailRequest) -> tuple[TailSession, Any]:
        group = self.store.catalog.require_group(request.group)
        if group.log_group_class in ("INFREQUENT_ACCESS", "ESSENTIALS", "DELIVERY"):
            raise errors.InvalidParameterException(
                f"Live tail is not supported for log groups of class {group.log_group_class}."
            )
        try:
            pattern = compile_filter_pattern(request.pattern)
        except FilterPatternError as exc:
            raise errors.InvalidParameterException(f"Invalid filter pattern: {exc}") from exc
        session = TailSession(request, group.id, pattern, self.options.live_tail_queue_events)
        history = None
        if request.since_ms is not None or request.after_seq is not None:
            history = self.store.scan(  # the snapshot is taken now, with the registration
                [request.group],
                request.since_ms or 0,
                FAR_FUTURE_MS,
                streams=list(request.streams) or None,
                stream_prefix=request.stream_prefix,
                columns=["stream", "timestamp", "ingestion_time", "seq", "message"],
            )
        if request.follow:
            self._sessions.add(session)
            self._registered[session] = self._received
        return session, history

    def open(self, request: TailRequest) -> TailStream:
        """Validate, register and snapshot at once (errors are raised here, before any
        output); iterate `lines()` of the result, then `close()` it."""
        session, history = self._open(request)
        return TailStream(self, session, history)

    def _forget(self, session: TailSession) -> None:
        self._sessions.discard(session)
        self._registered.pop(session, None)


class TailStream:
    """One client's tail: history, then live events, as NDJSON-ready dicts."""

    def __init__(self, hub: LiveTail, session: TailSession, history: Any) -> None:
        self._hub = hub
        self.session = session
        self._history = history

    def close(self) -> None:
        self._hub._forget(self.session)

    async def lines(self) -> AsyncGenerator[dict[str, Any], None]:
        request = self.session.request
        session = self.session
        try:
            last = request.after_seq or 0
            if self._history is not None:
                limit = self._hub.options.live_tail_max_history_events
                events, dropped = await asyncio.to_thread(
                    _history, self._history, session.pattern, last, limit
                )
                self._history = None
                if dropped:
                    yield {"missed": dropped}
                for ev in events:
                    yield _wire(request.group, ev)
                if events:
                    last = max(last, events[-1][0])
            while request.follow and not session.closed:
                events, missed = await session.take()
                if missed:
                    yield {"missed": missed}
                for ev in events:
                    if ev[0] > last:
                        last = ev[0]
                        yield _wire(request.group, ev)
        finally:
            self.close()


def _history(
    batches: Any, pattern: FilterPattern, after: int, limit: int
) -> tuple[list[Event], int]:
    """Matching past events above `after`, in sequence order; the newest `limit` of them."""
    tables = [b for b in batches if b.num_rows]
    if not tables:
        return [], 0
    table = pa.Table.from_batches(tables).sort_by("seq")
    seqs: Sequence[int] = table.column("seq").to_pylist()
    messages: list[str] = table.column("message").to_pylist()
    mask = pattern.match_batch(messages) if pattern.text else [True] * len(messages)
    streams = table.column("stream").to_pylist()
    timestamps = table.column("timestamp").to_pylist()
    ingestion = table.column("ingestion_time").to_pylist()
    out = [
        (seqs[i], streams[i], timestamps[i], ingestion[i], messages[i])
        for i in range(len(seqs))
        if mask[i] and seqs[i] > after
    ]
    dropped = max(len(out) - limit, 0)
    return out[dropped:], dropped


def _wire(group: str, ev: Event) -> dict[str, Any]:
    seq, stream, timestamp, ingestion, message = ev
    return {
        "eventId": event_id(seq),
        "logGroupName": group,
        "logStreamName": stream,
        "timestamp": timestamp,
        "ingestionTime": ingestion,
        "message": message,
    }
