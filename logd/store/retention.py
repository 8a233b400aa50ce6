"""Retention: a pure decision (`expired`, `cutoff`) and the clock it trusts.

Expired events are hidden from every read at once: reads filter `timestamp >= cutoff`.
The sweep (in the store's maintenance task) then deletes whole expired segments,
rewrites partially expired ones without their expired rows (so storedBytes is exact
after each sweep) and removes orphan files.

`RetentionClock` guards against wall-clock jumps (R-14): it compares wall time elapsed
with monotonic time elapsed since its last check; a forward jump larger than
`clock_jump_guard_ms` makes it report `paused` and keep answering with the last
trusted wall time plus monotonic time elapsed, so neither reads nor sweeps act on the
jump. Nothing is deleted while paused; a warning is logged at each paused sweep.
"""

from __future__ import annotations

import logging
import threading

from logd.clock import Clock
from logd.model import DAY_MS
from logd.store.catalog import SegmentRecord

log = logging.getLogger("logd.store.retention")


def cutoff(retention_days: int | None, now_ms: int) -> int | None:
    """Events with timestamp < cutoff are expired; None when the group keeps everything."""
    if retention_days is None:
        return None
    return now_ms - retention_days * DAY_MS


def expired(segment: SegmentRecord, retention_days: int | None, now_ms: int) -> bool:
    """Every event of the segment is past retention."""
    limit = cutoff(retention_days, now_ms)
    return limit is not None and segment.max_ts < limit


def partially_expired(segment: SegmentRecord, retention_days: int | None, now_ms: int) -> bool:
    limit = cutoff(retention_days, now_ms)
    return limit is not None and segment.min_ts < limit <= segment.max_ts


class RetentionClock:
    """Wall time for retention decisions, guarded against forward jumps."""

    def __init__(self, clock: Clock, guard_ms: int) -> None:
        self._clock = clock
        self._guard_ms = guard_ms
        self._lock = threading.Lock()
        self._ref_wall = clock.now_ms()
        self._ref_mono = clock.monotonic()
        self.paused = False

    def now_ms(self) -> int:
        wall, mono = self._clock.now_ms(), self._clock.monotonic()
        with self._lock:
            trusted = self._ref_wall + int((mono - self._ref_mono) * 1000)
            if wall - trusted > self._guard_ms:
                if not self.paused:
                    log.warning(
                        "Wall clock jumped forward by %d ms; retention deletion is paused.",
                        wall - trusted,
                    )
                self.paused = True
                return trusted
            self.paused = False
            self._ref_wall, self._ref_mono = wall, mono
            return wall
