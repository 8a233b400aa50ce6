"""Retention: expired events vanish from reads at once, sweeps delete, the clock guard."""

from __future__ import annotations

from pathlib import Path

from logd.clock import ManualClock
from logd.model import DAY_MS, HOUR_MS
from logd.store.catalog import SegmentRecord
from logd.store.retention import RetentionClock, cutoff, expired, partially_expired

from .support import NOW, batch, make_group, open_store, rows


def seg(min_ts: int, max_ts: int) -> SegmentRecord:
    return SegmentRecord(1, "d", "p", min_ts, max_ts, 1, 2, 2, 10, 10, 0)


def test_expired_is_a_pure_decision() -> None:
    now = 10 * DAY_MS
    assert cutoff(None, now) is None
    assert not expired(seg(0, 1), None, now)
    assert expired(seg(0, 7 * DAY_MS - 1), 3, now)
    assert not expired(seg(0, 7 * DAY_MS), 3, now)
    assert partially_expired(seg(0, 7 * DAY_MS), 3, now)
    assert not partially_expired(seg(7 * DAY_MS, 8 * DAY_MS), 3, now)


def test_retention_clock_trusts_monotonic_time_over_a_wall_jump() -> None:
    """R-14: the guard trusts monotonic time over a +30 d wall jump, and lets go after."""
    clock = ManualClock(NOW)
    guarded = RetentionClock(clock, guard_ms=DAY_MS)
    clock.advance(3 * DAY_MS)  # real time passing (wall and monotonic)
    assert guarded.now_ms() == NOW + 3 * DAY_MS
    assert not guarded.paused
    clock.set(NOW + 33 * DAY_MS)  # wall clock jumps 30 days
    assert guarded.now_ms() == NOW + 3 * DAY_MS
    assert guarded.paused
    clock.set(NOW + 3 * DAY_MS + HOUR_MS)  # jumps back: within the guard again
    assert guarded.now_ms() == NOW + 3 * DAY_MS + HOUR_MS
    assert not guarded.paused


async def test_expired_events_vanish_at_once_and_sweep_deletes_them(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s", retention_days=1)
        await store.append("g", "s", batch([NOW - 2 * HOUR_MS], "old"))
        await store.seal_now()
        clock.advance(HOUR_MS)
        await store.append("g", "s", batch([NOW + HOUR_MS], "new"))
        await store.seal_now()
        await store.append("g", "s", batch([NOW + HOUR_MS], "mem"))
        assert len(rows(store, ["g"])) == 3
        clock.advance(DAY_MS - 30 * 60_000)  # "old" is now past 1 day, the rest is not
        assert sorted(r["message"] for r in rows(store, ["g"])) == ["mem-0", "new-0"]
        bytes_before = store.catalog.require_group("g").stored_bytes
        report = await store.sweep_now()
        assert report["deleted"] == 1
        assert report["paused"] == 0
        assert store.catalog.require_group("g").stored_bytes == bytes_before - (5 + 26)
        assert len(store.catalog.all_segments()) == 1
        assert len(store.files.list_files()) == 1
        clock.advance(2 * DAY_MS)
        assert rows(store, ["g"]) == []


async def test_partially_expired_segments_are_rewritten_by_the_sweep(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s", retention_days=1)
        await store.append("g", "s", batch([NOW - HOUR_MS, NOW], "x"))
        await store.seal_now()
        clock.advance(DAY_MS - 30 * 60_000)
        assert [r["message"] for r in rows(store, ["g"])] == ["x-1"]
        report = await store.sweep_now()
        assert report["rewritten"] == 1
        (only,) = store.catalog.all_segments()
        assert only.rows == 1
        assert store.catalog.require_group("g").stored_bytes == 3 + 26
        assert [r["message"] for r in rows(store, ["g"])] == ["x-1"]


async def test_a_forward_clock_jump_pauses_deletion(tmp_path: Path) -> None:
    """R-14: a +30 d jump deletes nothing; deletion resumes when time really passes."""
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s", retention_days=7)
        await store.append("g", "s", batch([NOW], "keep"))
        await store.seal_now()
        clock.set(NOW + 30 * DAY_MS)  # wall clock only: monotonic did not move
        report = await store.sweep_now()
        assert report["paused"] == 1
        assert report["deleted"] == 0
        assert len(store.catalog.all_segments()) == 1
        assert [r["message"] for r in rows(store, ["g"])] == ["keep-0"]
        clock.set(NOW + HOUR_MS)
        clock.advance(8 * DAY_MS)  # now time really passes
        report = await store.sweep_now()
        assert report["deleted"] == 1
        assert rows(store, ["g"]) == []


async def test_raising_retention_does_not_resurrect_deleted_events(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s", retention_days=1)
        await store.append("g", "s", batch([NOW]))
        await store.seal_now()
        clock.advance(2 * DAY_MS)
        await store.sweep_now()
        store.catalog.put_retention("g", 30)
        assert rows(store, ["g"]) == []
