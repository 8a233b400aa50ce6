"""R-18 descriptor budget with thousands of files (in process, and in a child under
`ulimit -n 1024` with the user's inotify instances used up), R-19 poll mode, A12
backpressure."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import orjson
import pytest

from tests.logd.tail.support import (
    ROOT,
    Running,
    assert_exactly_once,
    child_env,
    messages,
    wait_for,
    write_config,
)


async def test_r18_many_files_under_a_small_descriptor_budget(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    n = 1500
    for i in range(n):
        (logs / f"f{i}.log").write_text(f"src=f{i} seq=1 first\n")
    tails = [{"paths": [str(logs / "**" / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails, max_open_files=64) as r:
        peak = 0

        def done(want):
            nonlocal peak
            peak = max(peak, r.agent.gauges()["files_open"])
            return len(r.messages()) >= want

        await wait_for(lambda: done(n), limit_s=60, what="first lines")
        for i in range(0, n, 3):  # a third of them grow while parked
            with (logs / f"f{i}.log").open("a") as fh:
                fh.write(f"src=f{i} seq=2 second\n")
        want = n + len(range(0, n, 3))
        await wait_for(lambda: done(want), limit_s=60, what="second lines")
        got = r.messages()
    assert peak <= 64
    assert_exactly_once(got, {f"f{i}": 2 if i % 3 == 0 else 1 for i in range(n)})


async def test_r19_poll_mode_alone_ingests_everything(tmp_path):
    logs = tmp_path / "logs" / "deep" / "er"
    logs.mkdir(parents=True)
    tails = [{"paths": [str(tmp_path / "logs" / "**" / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails, watch_mode="poll", scan_interval_ms=200) as r:
        assert r.agent.gauges()["dirs_watched"] == 0
        for i in range(20):
            (logs / f"n{i}.log").write_text("".join(f"src=n{i} seq={k} x\n" for k in range(1, 11)))
        got = await r.wait_messages(200)
    assert_exactly_once(got, {f"n{i}": 10 for i in range(20)})


async def test_a12_backpressure_pauses_reading_then_delivers_everything(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    tails = [{"paths": [str(logs / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails, workers=2) as r:
        r.log.gate = asyncio.Event()  # the sink is full: every append blocks
        for i in range(6):
            (logs / f"b{i}.log").write_text(
                "".join(f"src=b{i} seq={k} {'x' * 200}\n" for k in range(1, 20001))
            )
        await wait_for(lambda: r.log.blocked == 2, what="both workers blocked")
        await asyncio.sleep(0.3)
        assert r.log.blocked == 2  # no more than `workers` emits wait; reading paused
        assert r.messages() == []
        r.log.gate.set()
        got = await r.wait_messages(6 * 20000, limit_s=60)
    assert_exactly_once(got, {f"b{i}": 20000 for i in range(6)})


def _inotify_instances_limit():
    try:
        return int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return None


@pytest.mark.parametrize(
    ("inotify", "budget"),
    [("available", 900), ("exhausted", 900), ("available", 4096)],
    ids=["budget-below-limit", "inotify-exhausted", "budget-above-limit"],
)
async def test_r18_thousands_of_files_under_ulimit_1024(tmp_path, inotify, budget):
    """R-18 with the real process limits: the agent runs in a child whose RLIMIT_NOFILE
    is 1024 (`ulimit -n 1024`), following 5,000 files with `max_open_files` below it
    (900, leaving room for the process's other descriptors).
    inotify-exhausted: the child first uses up the user's inotify instances, as on a host
    at `max_user_instances`; the agent falls back to polling and still reads everything.
    budget-above-limit: `max_open_files` = 4096, so EMFILE comes first; the agent lowers
    its budget and parks files instead of keeping every file open and stalling."""
    if inotify == "exhausted":
        limit = _inotify_instances_limit()
        if limit is None or limit > 1024:
            pytest.skip(f"fs.inotify.max_user_instances is {limit}: too large to use up in a test")
    logs = tmp_path / "logs"
    logs.mkdir()
    config = write_config(
        tmp_path / "agent.json",
        {"max_open_files": budget, "scan_interval_ms": 500},  # 5,000 stats a scan
        [{"paths": [str(logs / "**" / "*.log")], "log_group": "app"}],
    )
    log, ready, report = tmp_path / "durable.log", tmp_path / "ready", tmp_path / "report.json"
    command = [
        sys.executable, "-m", "tests.logd.tail.limits_child", str(config), str(log),
        str(ready), str(report), "--nofile", "1024",
    ]  # fmt: skip
    if inotify == "exhausted":
        command.append("--exhaust-inotify")
    child = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, env=child_env(), stderr=asyncio.subprocess.PIPE
    )
    stderr = asyncio.create_task(child.stderr.read())
    try:
        await wait_for(lambda: ready.exists() or stderr.done(), what="ready")
        assert child.returncode is None, (await stderr).decode()
        n, per_dir = 5000, 100
        for i in range(n):  # found by discovery scans, through inotify or polling alone
            d = logs / f"d{i // per_dir}"
            d.mkdir(exist_ok=True)
            (d / f"f{i}.log").write_text(f"src=f{i} seq=1 first\nsrc=f{i} seq=2 first\n")
        await wait_for(lambda: len(messages(log)) >= 2 * n, limit_s=120, what="first lines")
        grown = range(0, n, 3)  # a third grow, most of them parked (closed) meanwhile
        for i in grown:
            with (logs / f"d{i // per_dir}" / f"f{i}.log").open("a") as fh:
                fh.write(f"src=f{i} seq=3 later\n")
        want = 2 * n + len(grown)
        await wait_for(lambda: len(messages(log)) >= want, limit_s=120, what="later lines")
        await asyncio.sleep(0.5)  # a re-read or duplicate would arrive meanwhile
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
        await child.wait()
    err = (await stderr).decode()
    assert child.returncode == 0, err
    got = messages(log)
    assert_exactly_once(got, {f"f{i}": 3 if i % 3 == 0 else 2 for i in range(n)})
    rep = orjson.loads(report.read_bytes())
    metrics = rep["metrics"]
    assert rep["nofile"] == 1024
    assert rep["peak_files_open"] <= budget
    assert rep["peak_fds"] < 1024
    assert metrics.get("files_parked_total", 0) > 0  # the budget was at work
    # No open failed for want of a descriptor, none was read twice for it (above).
    assert "Cannot open a tailed file" not in err
    if budget < 1024:
        assert "fd_budget_lowered_total" not in metrics
    else:
        assert metrics.get("fd_budget_lowered_total", 0) >= 1
        assert "Out of file descriptors below max_open_files" in err
    assert metrics.get("read_errors_total", 0) == 0
    assert rep["gauges"]["files_unreadable"] == 0
    assert metrics.get("lost_bytes_vanished_total", 0) == 0
    if inotify == "exhausted":
        assert rep["inotify_held"] > 0
        assert "inotify unavailable, polling only" in err
        assert metrics.get("watch_errors_total") == 1
        assert rep["gauges"]["dirs_watched"] == 0
    else:
        assert "inotify unavailable" not in err
        assert rep["gauges"]["dirs_watched"] > 0
