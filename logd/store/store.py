"""The store facade: append, checkpoints, scan, source, readers (docs/internals.md).

Write path: `append` validates (ingest.py), assigns sequence numbers and the ingestion
time synchronously on the event loop (so queue order = seq order = log order), queues
the encoded record and waits. One committer task drains the queue: one `append_many`
on the log for everything queued (group commit), then memtable, then the catalog's
stream statistics, then every waiting append returns. Maintenance (seal, compact,
sweep) runs in one background task, one step at a time; the view lock makes each
catalog swap and memtable release atomic for readers.

Append observers (`add_append_observer`) are called on the event loop after a commit is
durable and in the memtable, once per accepted batch, in log order, with
``(group, stream, messages)`` (messages: the batch's Arrow string column). They must be
quick and must not raise; one that raises is logged and the append still succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from logd.clock import Clock
from logd.errors import ResourceNotFoundException, ServiceUnavailableException
from logd.model import InputEvents
from logd.store import ingest, rebuild, record
from logd.store.catalog import Catalog, GroupRecord, SegmentRecord, SQLiteCatalog, StreamUpdate
from logd.store.ingest import RejectedInfo
from logd.store.lock import DataDirLock
from logd.store.log import DurableLog, LogReader, Position, Start
from logd.store.maintenance import Maintenance
from logd.store.memtable import Memtable
from logd.store.options import StoreOptions
from logd.store.retention import RetentionClock, cutoff
from logd.store.scan import Snapshot, StoreSource, scan_batches
from logd.store.segments import SegmentFiles
from logd.store.stats import StoreStats
from logd.store.wallog import WalLog

log = logging.getLogger("logd.store")
#: Shortest interval between two "Refused ... append batches" lines.
_REFUSAL_LOG_INTERVAL_S = 10.0

AppendListener = Callable[[record.AppendRecord, Position], None]
#: ``observer(group, stream, messages)`` after each durable batch (see the docstring).
AppendObserver = Callable[[str, str, pa.StringArray], None]


@dataclass(frozen=True, slots=True)
class AppendResult:
    ingestion_time: int
    accepted: int
    first_seq: int | None
    last_seq: int | None
    rejected: RejectedInfo | None


@dataclass(slots=True)
class _Queued:
    payload: bytes
    events: int
    group_id: int
    stream: str
    first_ts: int
    last_ts: int
    ingestion_time: int
    stored_bytes: int
    checkpoint: tuple[str, bytes] | None
    done: asyncio.Future[Position]


class Store:
    catalog: Catalog

    def __init__(self, data_dir: Path, options: StoreOptions, clock: Clock) -> None:
        options.validate()
        self.data_dir = data_dir
        self.options = options
        self.clock = clock
        self._lock = DataDirLock(data_dir)
        self._view_lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._inflight: list[_Queued] = []
        self._queued = asyncio.Event()
        self._next_seq: dict[int, int] = {}
        self._last_ingest: dict[int, int] = {}
        self._checkpoints: dict[str, bytes] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._spilling: asyncio.Task[None] | None = None
        self._quarantined: set[int] = set()
        self._listeners: list[AppendListener] = []
        self._observers: list[AppendObserver] = []
        self._deleting: set[tuple[int, str]] = set()
        self.filter_puts = asyncio.Lock()
        """Held from the regex-quota check to the catalog write of a metric or
        subscription filter, so two puts cannot both take a group's fifth regex slot."""
        self.dropped_appends = 0
        self._refusal_logged_at: float | None = None  # clock.monotonic() of the last line
        self._refusals_unlogged = 0
        """Append batches refused because the log was full or failed (ServiceUnavailable)."""
        self.dropped_events = 0
        self.sealed_events = 0
        """Events written into segments by the sealer since open."""
        self._closed = False
        self._opened = False
        self.catalog_rebuilt = False
        """This open found the catalog damaged and rebuilt it (logd/store/rebuild.py)."""

    # -- lifecycle -------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        data_dir: Path,
        options: StoreOptions,
        clock: Clock,
        *,
        durable_log: DurableLog | None = None,
        catalog: Catalog | None = None,
    ) -> Store:
        """Lock the data dir, recover the log into the memtable, start background tasks."""
        store = cls(data_dir, options, clock)
        await asyncio.to_thread(store._lock.acquire)
        try:
            await asyncio.to_thread(store._recover, durable_log, catalog)
        except BaseException:
            if hasattr(store, "log"):
                with contextlib.suppress(Exception):
                    await store.log.close()
            store._lock.release()
            raise
        store._opened = True
        store._tasks = [
            asyncio.create_task(store._commit_loop(), name="logd-store-commit"),
            asyncio.create_task(store.maintenance.run(), name="logd-store-maintenance"),
        ]
        return store

    def _recover(self, durable_log: DurableLog | None, catalog: Catalog | None) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        rebuilt: rebuild.Rebuilt | None = None
        if catalog is None:
            catalog, rebuilt = rebuild.open_catalog(self.data_dir, self.clock.now_ms())
        self.catalog = catalog
        self.catalog_rebuilt = rebuilt is not None
        self.log: DurableLog = durable_log or WalLog.open(
            self.data_dir / "wal", self.options.wal_options()
        )
        if rebuilt is not None and isinstance(self.catalog, SQLiteCatalog):
            self.catalog.close()
            self.catalog, from_log = rebuild.add_log_groups(
                self.data_dir / "catalog.sqlite", self.log.records(None), self.clock.now_ms()
            )
            log.error(
                "The catalog was damaged (%s) and was moved to %s. Rebuilt it from %d "
                "segment files (%d unreadable ones quarantined) and the WAL: %d log groups "
                "from segments, %d more from the WAL. Lost: %s.",
                rebuilt.reason,
                rebuilt.moved_to,
                rebuilt.segments,
                rebuilt.unreadable,
                rebuilt.groups,
                from_log,
                rebuild.LOST,
            )
        sealed_max = rebuilt.sealed_max_seq if rebuilt is not None else {}
        self.files = SegmentFiles(self.data_dir, self.options)
        self.files.group_name = self._group_name
        self.memtable = Memtable(
            self.data_dir / "memtable", spill_bytes=self.options.memtable_spill_bytes
        )
        self.retention_clock = RetentionClock(self.clock, self.options.clock_jump_guard_ms)
        self.maintenance = Maintenance(self)
        segments = self.catalog.all_segments()
        on_disk = set(self.files.list_files())
        for seg in segments:
            if seg.path not in on_disk:
                self.quarantine(seg, "segment file is missing")
        known = {s.path for s in segments}
        removed = self.files.gc_orphans(known)
        if removed:
            log.info("Removed %d orphan segment files left by an interrupted write.", removed)
        self._checkpoints = self.catalog.checkpoints()
        sealed = self.sealer_position()
        groups = self.catalog.live_groups()
        self._next_seq = {gid: g.next_seq for gid, g in groups.items()}
        updates: dict[tuple[int, str], StreamUpdate] = {}
        replayed = skipped = 0
        mono = self.clock.monotonic()
        for position, payload in self.log.records(sealed):
            try:
                rec = record.decode(payload)
            except record.RecordError as exc:
                log.error("Skipped an undecodable log record at %s: %s", position, exc)
                continue
            if rec.checkpoint is not None:
                self._checkpoints[rec.checkpoint[0]] = rec.checkpoint[1]
            if rec.group_id not in groups:
                skipped += rec.group_id != 0  # 0: a checkpoint-only record
                self.memtable.mark(position)
                continue
            n = len(rec)
            if n and rec.first_seq + n - 1 <= sealed_max.get(rec.group_id, 0):
                self.memtable.mark(position)  # already in a segment (catalog rebuilt)
                continue
            self.memtable.add(rec, position, mono)
            if self.memtable.needs_spill:
                self.memtable.spill()
            replayed += 1
            self._last_ingest[rec.group_id] = max(
                self._last_ingest.get(rec.group_id, 0), rec.ingestion_time
            )
            if n:
                gid = rec.group_id
                self._next_seq[gid] = max(self._next_seq.get(gid, 1), rec.first_seq + n)
                first, last = rec.timestamps[0].as_py(), rec.timestamps[n - 1].as_py()
                old = updates.get((gid, rec.stream))
                if old is not None:
                    first, last = min(first, old.first_ts), max(last, old.last_ts)
                    ingestion = max(rec.ingestion_time, old.ingestion_time)
                else:
                    ingestion = rec.ingestion_time
                updates[(gid, rec.stream)] = StreamUpdate(gid, rec.stream, first, last, ingestion)
        self.catalog.record_ingest(list(updates.values()), {}, self._checkpoints)
        mem_bytes = self.memtable.group_bytes()
        totals = {gid: mem_bytes.get(gid, 0) for gid in groups}
        for seg in self.catalog.all_segments():
            totals[seg.group_id] = totals.get(seg.group_id, 0) + seg.stored_bytes
        self.catalog.set_stored_bytes({g: v for g, v in totals.items() if g in groups})
        cursor = self.log.cursor("sealer")
        if sealed is not None and (cursor.position is None or cursor.position < sealed):
            cursor.commit(sealed)
        self.sealer_cursor = cursor
        if replayed or skipped:
            log.info("Recovered %d log records (%d of deleted groups).", replayed, skipped)

    def _group_name(self, group_id: int) -> str | None:
        group = self.catalog.get_group_by_id(group_id)
        return None if group is None else group.name

    def sealer_position(self) -> Position | None:
        value = self.catalog.get_state("sealer_position")
        if value is None:
            return None
        pos = json.loads(value)
        return Position(int(pos[0]), int(pos[1]))

    async def close(self) -> None:
        """Idempotent: finish queued appends, stop tasks, close the log, release the lock."""
        if self._closed or not self._opened:
            return
        self._closed = True
        pending = {i.done for i in [*self._inflight, *self._queue]}
        while pending:  # finish what was accepted, unless the log makes appends wait
            _, pending = await asyncio.wait(pending, timeout=0.05)
            if pending and self.log.stats().backpressure:
                break
        await self.maintenance.stop()
        await self.log.close()  # appends still waiting for space fail (ServiceUnavailable)
        left = {i.done for i in [*self._inflight, *self._queue]}
        if left:
            await asyncio.wait(left, timeout=1)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        closing = ServiceUnavailableException("The log store closed; the events were not stored.")
        for item in [*self._inflight, *self._queue]:
            if not item.done.done():
                item.done.set_exception(closing)
        if self._spilling is not None:
            with contextlib.suppress(Exception):
                await self._spilling
        self.memtable.close()
        self.catalog.close()
        self._lock.release()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- write path ------------------------------------------------------------
    async def append(
        self,
        group: str,
        stream: str,
        events: InputEvents,
        *,
        checkpoint: tuple[str, bytes] | None = None,
    ) -> AppendResult:
        """PutLogEvents' rules, sequence numbers, durable before returning."""
        if self._closed:
            raise RuntimeError("store is closed")
        ingest.check_model(group, stream, events)
        g = self.catalog.require_group(group)
        if not self.catalog.stream_exists(g.id, stream) or (g.id, stream) in self._deleting:
            raise ResourceNotFoundException("The specified log stream does not exist.")
        now = self.clock.now_ms()
        plan = ingest.plan(events, now_ms=now, retention_days=g.retention_days)
        ingestion = max(now, self._last_ingest.get(g.id, 0))
        n = plan.accepted
        if n == 0 and checkpoint is None:
            return AppendResult(ingestion, 0, None, None, plan.rejected)
        # From here to the queue append nothing awaits: seq order = queue order = log order.
        first = self._next_seq.get(g.id, g.next_seq)
        self._next_seq[g.id] = first + n
        self._last_ingest[g.id] = ingestion
        timestamps = events.timestamps[plan.lo : plan.hi]
        payload = record.encode(
            group_id=g.id,
            group=group,
            stream=stream,
            ingestion_time=ingestion,
            first_seq=first,
            timestamps=timestamps,
            messages=record.slice_messages(plan.messages, plan.lo, plan.hi),
            checkpoint=checkpoint,
        )
        done: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        self._queue.append(
            _Queued(
                payload,
                n,
                g.id,
                stream,
                timestamps[0] if n else 0,
                timestamps[-1] if n else 0,
                ingestion,
                plan.accepted_bytes,
                checkpoint,
                done,
            )
        )
        self._queued.set()
        await asyncio.shield(done)
        return AppendResult(
            ingestion, n, first if n else None, first + n - 1 if n else None, plan.rejected
        )

    async def append_checkpoint(self, key: str, state: bytes) -> None:
        """Record a source checkpoint that comes with no events (a tail start, dropped
        bytes, a tombstone): durable under the fsync policy, in log order with appends,
        recovered by `checkpoints()`; it needs and creates no group or stream."""
        if self._closed:
            raise RuntimeError("store is closed")
        payload = record.encode(
            group_id=0,
            group="",
            stream="",
            ingestion_time=self.clock.now_ms(),
            first_seq=0,
            timestamps=[],
            messages=record.encode_messages([]),
            checkpoint=(key, state),
        )
        done: asyncio.Future[Position] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(payload, 0, 0, "", 0, 0, 0, 0, (key, state), done))
        self._queued.set()
        await asyncio.shield(done)

    async def _commit_loop(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                items = self._take_group()
                self._inflight = items
                try:
                    await self._commit(items)
                except Exception as exc:
                    log.exception("Committing %d batches failed.", len(items))
                    for item in items:
                        if not item.done.done():
                            item.done.set_exception(exc)
                finally:
                    self._inflight = []

    def _take_group(self) -> list[_Queued]:
        """The oldest queued appends, up to wal_group_commit_bytes (at least one)."""
        budget = self.options.wal_group_commit_bytes
        total, n = 0, 0
        for item in self._queue:
            total += len(item.payload)
            if n and total > budget:
                break
            n += 1
        items, self._queue = self._queue[:n], self._queue[n:]
        return items

    def _log_refusal(self, batches: int, reason: str) -> None:
        """At most one line per `_REFUSAL_LOG_INTERVAL_S`: a full disk or WAL refuses every
        retry of every client (R-09); the next line counts the ones not logged."""
        now = self.clock.monotonic()
        last = self._refusal_logged_at
        if last is not None and now - last < _REFUSAL_LOG_INTERVAL_S:
            self._refusals_unlogged += batches
            return
        held, self._refusals_unlogged = self._refusals_unlogged, 0
        self._refusal_logged_at = now
        log.warning(
            "Refused %d append batches: %s (%d more refused since the previous report)",
            batches,
            reason,
            held,
        )

    async def _commit(self, items: list[_Queued]) -> None:
        try:
            positions = await self.log.append_many([i.payload for i in items])
        except Exception as exc:
            self.dropped_appends += len(items)
            self.dropped_events += sum(i.events for i in items)
            if isinstance(exc, ServiceUnavailableException):
                self._log_refusal(len(items), exc.message)
            else:
                log.error("Log append failed; %d batches were not stored: %s", len(items), exc)
            for item in items:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        mono = self.clock.monotonic()
        updates: dict[tuple[int, str], StreamUpdate] = {}
        stored: dict[int, int] = {}
        checkpoints: dict[str, bytes] = {}
        accepted: list[record.AppendRecord] = []
        for item, position in zip(items, positions, strict=True):
            rec = record.decode(item.payload, trusted=True)
            self.memtable.add(rec, position, mono)
            for listener in self._listeners:
                listener(rec, position)
            if len(rec):
                accepted.append(rec)
            if item.checkpoint is not None:
                checkpoints[item.checkpoint[0]] = item.checkpoint[1]
            if item.stored_bytes:
                key = (item.group_id, item.stream)
                old = updates.get(key)
                first, last = item.first_ts, item.last_ts
                if old is not None:
                    first, last = min(first, old.first_ts), max(last, old.last_ts)
                updates[key] = StreamUpdate(*key, first, last, item.ingestion_time)
                stored[item.group_id] = stored.get(item.group_id, 0) + item.stored_bytes
        self._checkpoints.update(checkpoints)
        try:
            await asyncio.to_thread(
                self.catalog.record_ingest, list(updates.values()), stored, checkpoints
            )
        except Exception as exc:  # recovery recomputes these from the log
            log.warning("Could not record stream statistics: %s", exc)
        self._notify(accepted)
        for item, position in zip(items, positions, strict=True):
            if not item.done.done():
                item.done.set_result(position)
        if self.memtable.needs_spill and (self._spilling is None or self._spilling.done()):
            self._spilling = asyncio.create_task(asyncio.to_thread(self.memtable.spill))
        if self.memtable.rows >= self.options.seal_max_events or self.log_pressure():
            self.maintenance.wake()

    def add_append_observer(self, observer: AppendObserver) -> None:
        """Call `observer(group, stream, messages)` after each durable batch, in log order."""
        self._observers.append(observer)

    def _notify(self, accepted: list[record.AppendRecord]) -> None:
        for observer in self._observers:
            for rec in accepted:
                try:
                    observer(rec.group, rec.stream, rec.messages)
                except Exception:
                    log.exception("An append observer failed; the batch is stored anyway.")

    def log_pressure(self) -> bool:
        """The sealer holds at least half of the log's bound: seal now to free space."""
        stats = self.log.stats()
        return stats.cursor_lag_bytes.get("sealer", 0) * 2 >= stats.max_bytes

    def checkpoints(self) -> dict[str, bytes]:
        """The latest checkpoint per source key, including those recovered on open."""
        return dict(self._checkpoints)

    # -- groups ----------------------------------------------------------------
    async def delete_group(self, name: str) -> GroupRecord:
        """Delete a group: its events vanish from reads at once, its segments are deleted."""

        def run() -> GroupRecord:
            with self._view_lock:
                group, segments = self.catalog.delete_group(name)
            for seg in segments:
                self.files.delete_later(seg.path, self.clock.monotonic())
            return group

        group = await asyncio.to_thread(run)
        self._next_seq.pop(group.id, None)
        return group

    async def delete_stream(self, group: str, stream: str) -> None:
        """DeleteLogStream: the stream's events vanish from every read at once.

        A tombstone hides every event with a sequence number below the group's next one
        (queued appends included); the sweep rewrites segments without them later.
        """
        g = self.catalog.require_group(group)
        if not self.catalog.stream_exists(g.id, stream) or (g.id, stream) in self._deleting:
            raise ResourceNotFoundException("The specified log stream does not exist.")
        # On the loop, with no await before it: no append to this stream gets a seq at or
        # past `below` (append checks `_deleting`).
        below = self._next_seq.get(g.id, g.next_seq)
        self._deleting.add((g.id, stream))

        def run() -> None:
            with self._view_lock:
                self.catalog.delete_stream(group, stream, below_seq=below)

        try:
            await asyncio.to_thread(run)
        finally:
            self._deleting.discard((g.id, stream))

    # -- read path ---------------------------------------------------------------
    def snapshot(self, groups: Sequence[str], start_ms: int, end_ms: int) -> Snapshot:
        now = self.retention_clock.now_ms()
        names: dict[int, str] = {}
        cutoffs: dict[int, int | None] = {}
        for name in groups:
            g = self.catalog.get_group(name)
            if g is not None:
                names[g.id] = g.name
                cutoffs[g.id] = cutoff(g.retention_days, now)
        with self._view_lock:
            segments = self.catalog.list_segments(sorted(names), start_ms, end_ms)
            pieces = self.memtable.snapshot()
            tombs = {g: t for g, t in self.catalog.tombstones().items() if g in names}
        return Snapshot(names, cutoffs, segments, pieces, tombs)

    def scan(
        self,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        columns: Sequence[str] | None = None,
        predicate: pc.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Events of `groups` in [start_ms, end_ms) from segments and memtable, unordered."""
        snap = self.snapshot(groups, start_ms, end_ms)
        return scan_batches(
            snap,
            self.files,
            start_ms,
            end_ms,
            streams=streams,
            stream_prefix=stream_prefix,
            columns=columns,
            predicate=predicate,
            on_damaged=self.quarantine,
        )

    def source(self) -> StoreSource:
        return StoreSource(self.snapshot, self.files, self.quarantine)

    def quarantine(self, segment: SegmentRecord, reason: str) -> None:
        """Move a damaged segment aside, drop it from the catalog, report it (R-21)."""
        with self._view_lock:
            if segment.id in self._quarantined:
                return
            self._quarantined.add(segment.id)
            target = self.files.quarantine(segment)
            self.catalog.quarantine_segment(segment, reason, self.clock.now_ms())
        log.error(
            "Quarantined damaged segment %s (group id %d, %d events): %s; moved to %s.",
            segment.path,
            segment.group_id,
            segment.rows,
            reason,
            target,
        )

    @property
    def quarantined_segments(self) -> int:
        return len(self.catalog.quarantined())

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def appends_wait(self) -> bool:
        """The log is full under wal_on_full = "block": appends wait until a reader (the
        sealer, a subscription) frees space. The HTTP API refuses new batches meanwhile."""
        return self.log.backpressure

    def stats(self) -> StoreStats:
        """Numbers for metrics and operators (cheap; on the event loop)."""
        log_stats = self.log.stats()
        segments, segment_bytes = self.catalog.segment_totals()
        return StoreStats(
            wal_bytes=log_stats.bytes_on_disk,
            wal_max_bytes=log_stats.max_bytes,
            wal_backpressure=log_stats.backpressure,
            cursor_lag_bytes=log_stats.cursor_lag_bytes,
            segments=segments,
            segment_bytes=segment_bytes,
            memtable_events=self.memtable.rows,
            quarantined_segments=self.catalog.quarantined_count(),
            sealed_events_total=self.sealed_events,
            dropped_appends_total=self.dropped_appends,
            dropped_events_total=self.dropped_events,
            deleted_stream_tombstones=sum(len(t) for t in self.catalog.tombstones().values()),
            catalog_rebuilt=self.catalog_rebuilt,
        )

    # -- readers -----------------------------------------------------------------
    def reader(self, name: str, *, start: Start = "latest") -> LogReader:
        """A durable named cursor over the log (subscriptions: "sub:<group>:<filter>").

        An existing cursor keeps its position; `start` applies to a new one. The log
        keeps every record until each cursor (and the sealer) passed it.
        """
        return self.log.reader(name, start=start)

    def drop_reader(self, name: str) -> None:
        self.log.drop_cursor(name)

    def add_append_listener(self, listener: AppendListener) -> Callable[[], None]:
        """Call `listener(record, position)` for each durable record, right after it
        reaches the memtable (so a scan started on the same loop tick sees exactly the
        records the listener has not been given: live tail's seam). It must not block or
        raise. Returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # -- maintenance on demand (tests, operators) ---------------------------------
    async def seal_now(self) -> int:
        return await self.maintenance.seal()

    async def compact_now(self) -> int:
        return await self.maintenance.compact()

    async def sweep_now(self) -> dict[str, int]:
        return await self.maintenance.sweep()
