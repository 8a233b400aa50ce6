"""R-25: rotated files deleted while backpressure holds them. The sink blocks every
emit; a file the agent has open but could not read yet is deleted. After
`deleted_hold_max_ms` its descriptor is released (the space goes back to the file
system), its unread bytes are counted in `lost_bytes_deleted_total`, with one log line;
the file whose emit is waiting is kept, and everything of it is delivered afterwards."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from logd.tail.store_sink import bind_metrics
from logd.telemetry.metrics import DaemonMetrics
from tests.logd.tail.support import Running, assert_exactly_once, wait_for


def open_fds_to(path: Path) -> int:
    """Descriptors of this process still on `path` (deleted files show as "(deleted)")."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.removesuffix(" (deleted)") == str(path):
            count += 1
    return count


async def test_r25_deleted_files_are_released_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    tails = [{"paths": [str(logs / "*.log")], "log_group": "app"}]
    busy, idle = logs / "a.log", logs / "b.log"
    async with Running(
        tmp_path, tails, workers=1, deleted_hold_max_ms=300, scan_interval_ms=50
    ) as r:
        r.log.gate = asyncio.Event()  # the sink is full: every append blocks
        busy.write_text("".join(f"src=a seq={k} {'x' * 100}\n" for k in range(1, 2001)))
        await wait_for(lambda: r.log.blocked == 1, what="the worker blocked on a.log")
        idle.write_text("".join(f"src=b seq={k} {'y' * 100}\n" for k in range(1, 1001)))
        size = idle.stat().st_size
        await wait_for(lambda: open_fds_to(idle) == 1, what="b.log opened")
        with caplog.at_level(logging.ERROR, logger="logd.tail"):
            idle.unlink()  # the rotated file is deleted while the sink is blocked
            await wait_for(lambda: open_fds_to(idle) == 0, what="b.log released")
        assert r.agent.metrics.get("lost_bytes_deleted_total") == size
        metrics = DaemonMetrics()
        bind_metrics(metrics, r.agent, SimpleNamespace(metrics={}))  # type: ignore[arg-type]
        scraped = metrics.registry.expose().splitlines()
        assert f'logd_tail_lost_bytes_total{{reason="deleted"}} {size}' in scraped
        assert 'logd_tail_lost_bytes_total{reason="vanished"} 0' in scraped
        assert f"logd_tail_lost_bytes_deleted_total {size}" in scraped
        metrics.registry.expose()  # a second scrape does not count twice
        assert metrics.tail_lost_bytes.value(reason="deleted") == size
        released = [rec for rec in caplog.records if "deleted file" in rec.getMessage()]
        assert len(released) == 1
        assert r.messages() == []
        r.log.gate.set()
        got = await r.wait_messages(2000)
    assert_exactly_once(got, {"a": 2000})
