"""Compaction merges small segments, keeps every event once, and removes the old files."""

from __future__ import annotations

from pathlib import Path

from logd.clock import ManualClock
from logd.model import DAY_MS
from logd.store.catalog import SegmentRecord
from logd.store.compaction import plan
from logd.store.options import StoreOptions

from .support import NOW, batch, make_group, open_store, rows


def test_plan_picks_runs_of_small_segments_per_group_and_day() -> None:
    opts = StoreOptions(
        compaction_min_segments=3, compaction_small_bytes=100, segment_target_bytes=250
    )

    def s(i: int, gid: int, day: str, size: int) -> SegmentRecord:
        return SegmentRecord(gid, day, f"p{i}", 0, 1, i, i, 1, size, 1, 0, id=i)

    segs = [s(1, 1, "a", 50), s(2, 1, "a", 50), s(3, 1, "a", 50), s(4, 1, "a", 50)]
    segs += [s(5, 1, "b", 50), s(6, 1, "b", 50), s(7, 2, "a", 50), s(8, 1, "a", 500)]
    assert [[x.id for x in run] for run in plan(segs, opts)] == [[1, 2, 3, 4]]
    smaller = StoreOptions(
        compaction_min_segments=3, compaction_small_bytes=100, segment_target_bytes=120
    )
    assert [[x.id for x in run] for run in plan(segs, smaller)] == [[1, 2], [3, 4]]


async def test_compaction_merges_and_reads_stay_exact(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock, compaction_min_segments=3) as store:
        await make_group(store, "g", "s")
        for i in range(5):
            await store.append("g", "s", batch([NOW + i] * 4, f"b{i}"))
            await store.seal_now()
        before = rows(store, ["g"])
        assert len(store.catalog.all_segments()) == 5
        assert await store.compact_now() == 5
        (merged,) = store.catalog.all_segments()
        assert (merged.min_seq, merged.max_seq, merged.rows) == (1, 20, 20)
        assert rows(store, ["g"]) == before
        assert store.catalog.require_group("g").stored_bytes == sum(
            len(str(r["message"])) + 26 for r in before
        )
        await store.sweep_now()  # grace 0: old files go now
        assert store.files.list_files() == [merged.path]


async def test_rewrite_reusing_a_path_awaiting_deletion_keeps_the_file(tmp_path: Path) -> None:
    """Compaction defers deleting its inputs; a retention rewrite of the merged segment that
    drops exactly the first input's rows publishes the second input's name again. The
    deferred deletion must not remove that now-referenced file (it did: events were lost
    and the next open quarantined the segment as "segment file is missing")."""
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock, compaction_min_segments=2) as store:
        await make_group(store, "g", "s", retention_days=1)
        await store.append("g", "s", batch([NOW] * 3, "a"))
        await store.seal_now()
        await store.append("g", "s", batch([NOW + 60_000] * 4, "b"))
        await store.seal_now()
        first, second = sorted(store.catalog.all_segments(), key=lambda s: s.min_seq)
        assert await store.compact_now() == 2
        clock.advance(DAY_MS + 1)  # first batch expired, second one not yet
        report = await store.sweep_now()
        assert report["rewritten"] == 1
        (kept,) = store.catalog.all_segments()
        assert kept.path == second.path
        assert store.files.list_files() == [kept.path]
        assert [r["message"] for r in rows(store, ["g"])] == [f"b-{i}" for i in range(4)]
        assert store.quarantined_segments == 0
        assert first.path not in store.files.list_files()
