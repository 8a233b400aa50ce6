"""The store's background work, one step at a time: seal, compact, sweep.

One task runs `run()`: every tick it seals when the memtable is big or old enough,
compacts after a seal, and sweeps every `retention_sweep_interval_ms` (monotonic).
The same steps are callable on demand; an asyncio lock keeps them serial, so no two
of them ever write segments or swap catalog rows at the same time (which is also why
the orphan collection in a sweep cannot remove a file being written).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import pyarrow.compute as pc

from logd.store import compaction, sealer
from logd.store.catalog import NewSegment, SegmentRecord
from logd.store.retention import cutoff, expired, partially_expired
from logd.store.segments import SegmentDamaged
from logd.store.tombstones import hidden
from logd.threads import BackgroundExecutor

if TYPE_CHECKING:
    from logd.store.store import Store

log = logging.getLogger("logd.store.maintenance")
P = ParamSpec("P")
T = TypeVar("T")


class Maintenance:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_sweep = store.clock.monotonic()
        # Sealing and compaction: CPU-heavy, and nothing waits on them but memory.
        self._pool = BackgroundExecutor("logd-seal", store.options.background_nice)

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        async with self._lock:
            self._pool.shutdown(wait=False)

    async def _in_background(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def run(self) -> None:
        s = self._store
        tick = s.options.maintenance_tick_ms / 1000
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick)
            self._wake.clear()
            if self._stopping:
                return
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Store maintenance step failed; it is retried on the next tick.")

    async def _step(self) -> None:
        s = self._store
        mem = s.memtable
        now = s.clock.monotonic()
        old = mem.oldest_monotonic
        due = old is not None and (now - old) * 1000 >= s.options.seal_interval_ms
        pressed = s.log_pressure()
        if (mem.rows >= s.options.seal_max_events or due or pressed) and await self.seal():
            await self.compact()
        if (now - self._last_sweep) * 1000 >= s.options.retention_sweep_interval_ms:
            await self.sweep()

    # -- seal --------------------------------------------------------------------
    async def seal(self) -> int:
        """Seal every unsealed event; returns how many."""
        s = self._store
        async with self._lock:
            frozen = s.memtable.freeze()
            if frozen.last_position is None:
                return 0
            position = frozen.last_position
            if position == s.sealer_position():
                return 0
            groups = s.catalog.live_groups()
            now = s.retention_clock.now_ms()
            retention = {gid: g.retention_days for gid, g in groups.items()}
            cutoffs = {gid: cutoff(days, now) for gid, days in retention.items()}
            result = await self._in_background(
                sealer.seal, frozen, retention, cutoffs, s.files, s.options, s.catalog.tombstones()
            )

            def commit() -> None:
                with s._view_lock:
                    _, dead = s.catalog.add_segments(
                        result.segments,
                        state={"sealer_position": json.dumps(list(position))},
                        next_seqs=result.next_seqs,
                        stored_delta=result.stored_delta,
                    )
                    s.memtable.release(frozen)
                for seg in dead:
                    s.files.delete(seg.path)

            await asyncio.to_thread(commit)
            # After the catalog (which recovery trusts): the WAL may now delete the
            # files the sealer held. Cursors are committed on the event loop.
            s.sealer_cursor.commit(position)
            s.sealed_events += sum(seg.rows for seg in result.segments)
            return frozen.rows

    # -- compaction --------------------------------------------------------------
    async def compact(self) -> int:
        """Merge small segments; returns how many segments were replaced."""
        s = self._store
        replaced = 0
        async with self._lock:
            runs = compaction.plan(await asyncio.to_thread(s.catalog.all_segments), s.options)
            for run in runs:
                if await self._rewrite(run):
                    replaced += len(run)
        return replaced

    async def _rewrite(self, old: list[SegmentRecord]) -> bool:
        """Replace `old` (one group and day) by its retained rows; caller holds the lock."""
        s = self._store
        group = s.catalog.get_group_by_id(old[0].group_id)
        if group is None:
            return False
        limit = cutoff(group.retention_days, s.retention_clock.now_ms())
        tomb = s.catalog.tombstones().get(group.id)
        try:
            new = await self._in_background(compaction.merge, old, limit, s.files, s.options, tomb)
        except SegmentDamaged as exc:
            bad = [seg for seg in old if seg.path not in s.files.verified]
            for seg in bad or old[:1]:
                s.quarantine(seg, str(exc))
            return False
        return await asyncio.to_thread(self._swap, old, new)

    def _swap(self, old: list[SegmentRecord], new: list[NewSegment]) -> bool:
        s = self._store
        delta = sum(n.stored_bytes for n in new) - sum(o.stored_bytes for o in old)
        new_paths = {n.path for n in new}
        with s._view_lock:
            added = s.catalog.replace_segments(old, new, delta)
        if added is None:
            old_paths = {o.path for o in old}
            for path in new_paths - old_paths:
                s.files.delete(path)
            return False
        for seg in old:
            if seg.path not in new_paths:
                s.files.delete_later(seg.path, s.clock.monotonic())
        return True

    # -- retention sweep ---------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """Delete expired segments, rewrite partly expired ones, remove orphans."""
        s = self._store
        report = {"deleted": 0, "rewritten": 0, "orphans": 0, "paused": 0, "tombstones": 0}
        async with self._lock:
            self._last_sweep = s.clock.monotonic()
            now = s.retention_clock.now_ms()
            if s.retention_clock.paused:
                log.warning(
                    "Retention sweep skipped deletion: the wall clock jumped forward by more "
                    "than clock_jump_guard_ms (%d ms).",
                    s.options.clock_jump_guard_ms,
                )
                report["paused"] = 1
            else:
                segments = await asyncio.to_thread(s.catalog.all_segments)
                groups = s.catalog.live_groups()
                dead, partial = [], []
                for seg in segments:
                    group = groups.get(seg.group_id)
                    if group is None:
                        continue
                    if expired(seg, group.retention_days, now):
                        dead.append(seg)
                    elif partially_expired(seg, group.retention_days, now):
                        partial.append(seg)
                if dead:

                    def drop() -> None:
                        with s._view_lock:
                            s.catalog.delete_segments(dead)
                        for seg in dead:
                            s.files.delete_later(seg.path, s.clock.monotonic())

                    await asyncio.to_thread(drop)
                    report["deleted"] = len(dead)
                for seg in partial:
                    if await self._rewrite([seg]):
                        report["rewritten"] += 1

            report["tombstones"] = await self._drop_deleted_streams()

            def collect() -> int:
                known = {seg.path for seg in s.catalog.all_segments()}
                s.files.collect(s.clock.monotonic(), keep=known)
                return s.files.gc_orphans(known)

            report["orphans"] = await asyncio.to_thread(collect)
        return report

    async def _drop_deleted_streams(self) -> int:
        """Rewrite segments still holding events of deleted streams, then forget the
        tombstones nothing is left under; returns how many were forgotten. Caller holds
        the lock."""
        s = self._store
        cleared = 0
        for gid, tomb in s.catalog.tombstones().items():
            group = s.catalog.get_group_by_id(gid)
            if group is None:
                continue
            top = max(tomb.values())
            clean = True
            for seg in await asyncio.to_thread(s.catalog.all_segments):
                if seg.group_id != gid or seg.min_seq >= top:
                    continue
                try:
                    holds = await asyncio.to_thread(self._holds_hidden, seg, tomb)
                except SegmentDamaged as exc:
                    s.quarantine(seg, str(exc))
                    continue
                if holds and not await self._rewrite([seg]):
                    clean = False
            # Every event with seq < top is sealed once the group's sealed counter is past it.
            if clean and group.next_seq >= top:
                for stream, below in tomb.items():
                    await asyncio.to_thread(s.catalog.clear_tombstone, gid, stream, below)
                    cleared += 1
        return cleared

    def _holds_hidden(self, seg: SegmentRecord, tomb: dict[str, int]) -> bool:
        table = self._store.files.read_table(seg, ["stream", "seq"])
        return bool(pc.any(hidden(table["stream"], table["seq"], tomb)).as_py())
