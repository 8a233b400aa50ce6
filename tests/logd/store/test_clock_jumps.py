"""R-14: the wall clock jumps +1 h, -1 h and +30 days while events are appended, sealed
and swept (the injectable clock; libfaketime is for the soak). Sequence numbers stay
strictly increasing, ingestion time never goes backwards, the +30 d jump deletes
nothing (the guard pauses the sweep and says so), and a scan over each phase's
event-time range returns every event of that phase."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.model import DAY_MS, HOUR_MS, InputEvents

from .support import NOW, make_group, open_store

#: (label, how the wall clock moves before the phase; monotonic time never jumps)
JUMPS = [("start", 0), ("plus-1h", HOUR_MS), ("minus-1h", -HOUR_MS), ("plus-30d", 30 * DAY_MS)]


async def test_clock_jumps_during_ingest_seal_and_sweep(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(NOW)
    phases: dict[str, tuple[int, int, list[str]]] = {}
    last_seq, last_ingestion = 0, 0
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "g", "s", retention_days=7)
        for label, jump in JUMPS:
            clock.set(clock.now_ms() + jump)  # the wall clock only
            messages: list[str] = []
            stamps: list[int] = []
            for n in range(5):
                clock.advance(1_000)  # real time passing between batches
                at = clock.now_ms()  # clients' clocks jumped too (libfaketime on the host)
                batch = [f"{label} {n} {i}" for i in range(3)]
                result = await store.append("g", "s", InputEvents([at] * 3, batch))
                assert result.rejected is None
                assert result.first_seq == last_seq + 1
                assert result.last_seq == last_seq + 3
                assert result.ingestion_time >= last_ingestion
                last_seq, last_ingestion = result.last_seq, result.ingestion_time
                messages += batch
                stamps.append(at)
            phases[label] = (min(stamps), max(stamps), messages)
            await store.seal_now()
            with caplog.at_level(logging.WARNING, logger="logd.store.retention"):
                report = await store.sweep_now()
            assert report["deleted"] == 0
            assert report["rewritten"] == 0
            if label == "plus-30d":
                assert report["paused"] >= 1
                assert "retention deletion is paused" in caplog.text
        for label, (first, last, messages) in phases.items():
            got = [
                m
                for b in store.scan(["g"], first, last + 1, columns=["message"])
                for m in b.column("message").to_pylist()
            ]
            assert sorted(got) == sorted(messages), label
        total = sum(len(m) for _, _, m in phases.values())
        assert sum(s.rows for s in store.catalog.all_segments()) == total
