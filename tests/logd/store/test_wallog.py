"""The real WAL under the store: file deletion by cursors, a full WAL, metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.errors import ServiceUnavailableException
from logd.store import record
from logd.store.options import StoreOptions
from logd.store.stats import bind_metrics
from logd.store.wallog import WalLog
from logd.telemetry.metrics import DaemonMetrics

from .support import NOW, batch, make_group, open_store, rows

SMALL = {
    "wal_segment_bytes": 4096,
    "wal_max_bytes": 16_384,
    "wal_group_commit_bytes": 2048,
}


def wal_files(path: Path) -> list[str]:
    return sorted(p.name for p in (path / "wal").glob("*.wal"))


async def test_wal_files_go_once_the_sealer_and_every_reader_passed_them(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock, wal_segment_bytes=4096) as store:
        assert isinstance(store.log, WalLog)
        await make_group(store, "g", "s")
        reader = store.reader("sub", start="earliest")
        for i in range(30):
            await store.append("g", "s", batch([NOW] * 50, f"b{i}"))
        before = wal_files(tmp_path)
        assert len(before) > 3
        assert await store.seal_now() == 1500
        await store.sealer_cursor.flush()
        assert wal_files(tmp_path) == before  # the reader still holds them
        last = None
        async for position, payload in reader:
            last = position
            if record.decode(payload).messages.to_pylist()[0] == "b29-0":
                break
        assert last is not None
        reader.commit(last)
        await reader.cursor.flush()
        await asyncio.sleep(0.05)  # the housekeeper deletes after the flush it awaited
        await reader.cursor.flush()
        left = wal_files(tmp_path)
        assert left == before[-1:]  # only the newest file stays
        assert store.stats().cursor_lag_bytes == {"sealer": 0, "sub": 0}
        assert len(rows(store, ["g"])) == 1500


async def test_a_full_wal_under_drop_refuses_appends_with_service_unavailable(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock, wal_on_full="drop", **SMALL) as store:
        await make_group(store, "g", "s")
        store.reader("stuck", start="earliest")  # never reads: holds every file
        accepted = 0
        refused: ServiceUnavailableException | None = None
        for i in range(200):
            try:
                r = await store.append("g", "s", batch([NOW] * 10, f"b{i}"))
            except ServiceUnavailableException as exc:
                refused = exc
                break
            accepted += r.accepted
        assert refused is not None
        assert "full" in refused.message
        stats = store.stats()
        assert stats.dropped_appends_total == 1
        assert stats.dropped_events_total == 10
        assert stats.wal_bytes <= 16_384
        assert len(rows(store, ["g"])) == accepted  # the refused batch is nowhere
        with pytest.raises(ServiceUnavailableException):
            await store.append("g", "s", batch([NOW] * 10, "again"))
        assert store.stats().dropped_appends_total == 2


async def test_a_full_wal_under_block_pauses_appends_until_a_reader_moves(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock, wal_on_full="block", **SMALL) as store:
        await make_group(store, "g", "s")
        reader = store.reader("slow", start="earliest")
        waiting = None
        for i in range(200):
            task = asyncio.create_task(store.append("g", "s", batch([NOW] * 10, f"b{i}")))
            while not task.done() and not store.stats().wal_backpressure:
                await asyncio.sleep(0.005)
            if not task.done():
                waiting = task
                break
            task.result()
        assert waiting is not None, "the WAL never filled up"
        assert store.stats().wal_backpressure
        async for position, _ in reader:  # the slow reader catches up
            reader.commit(position)
            if position >= store.log.wal.end_position:
                break
        result = await asyncio.wait_for(waiting, 30)
        assert result.accepted == 10
        assert store.stats().dropped_appends_total == 0


async def test_store_metrics_are_filled_on_collect(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    metrics = DaemonMetrics()
    async with await open_store(tmp_path, clock) as store:
        bind_metrics(store, metrics)
        await make_group(store, "g", "s")
        await store.append("g", "s", batch([NOW] * 5))
        text = metrics.registry.expose()
        assert "logd_store_memtable_events 5" in text
        assert "logd_segments 0" in text
        assert 'logd_wal_cursor_lag_bytes{cursor="sealer"}' in text
        assert metrics.wal_bytes.value() > 0
        await store.seal_now()
        metrics.registry.expose()
        assert metrics.sealed_events.value() == 5
        assert metrics.memtable_events.value() == 0
        assert metrics.segments.value() == 1
        assert metrics.segment_bytes.value() == store.catalog.all_segments()[0].bytes
        assert metrics.quarantined_segments.value() == 0
        metrics.registry.expose()
        assert metrics.sealed_events.value() == 5  # counters grow only by the difference


def test_wal_options_come_from_store_options_alone() -> None:
    options = StoreOptions(
        fsync="interval",
        fsync_interval_ms=7,
        wal_max_bytes=1 << 20,
        wal_on_full="drop",
        wal_segment_bytes=1 << 16,
        wal_group_commit_bytes=1 << 15,
    )
    options.validate()
    wal = options.wal_options()
    assert (wal.fsync, wal.fsync_interval_ms, wal.max_bytes, wal.on_full) == (
        "interval",
        7,
        1 << 20,
        "drop",
    )
    assert (wal.segment_bytes, wal.group_commit_max_bytes) == (1 << 16, 1 << 15)
    wal.validate()
    with pytest.raises(ValueError, match="wal_max_bytes"):
        StoreOptions(wal_max_bytes=1 << 16, wal_segment_bytes=1 << 16).validate()
    with pytest.raises(ValueError, match="wal_on_full"):
        StoreOptions(wal_on_full="spill").validate()  # type: ignore[arg-type]
