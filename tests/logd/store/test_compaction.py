"""Compaction merges small segments, keeps every event once, and removes the old files."""

from __future__ import annotations

from pathlib import Path

from logd.clock import ManualClock
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
