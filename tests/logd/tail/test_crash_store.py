"""R-01 against the REAL store: exactly once across SIGKILL, with rename rotation.

A child process runs the agent into a `Store` on a temporary data directory (sealing
every second, so recovery replays the log past sealed segments) and is killed with
SIGKILL 0.5-2 s after each restart is up, five times, while a writer process appends
numbered lines to 10 files, rotating them by rename every 1.2 s. A last run drains the
files and closes the store cleanly; then the events are read back with `Store.scan` in
sequence-number order and the oracle (expectations §4.2) must say: missing 0,
duplicates 0, order kept per file. The store's recovered checkpoints must also match.
"""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from logd.clock import SystemClock
from logd.store.options import StoreOptions
from logd.store.store import Store
from tests.logd.tail.support import ROOT, assert_exactly_once, child_env, write_config


def start_agent(config: Path, data: Path, ready: Path, *extra: str) -> subprocess.Popen[bytes]:
    ready.unlink(missing_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "tests.logd.tail.store_agent_child", str(config), str(data),
         str(ready), *extra],
        cwd=ROOT, env=child_env(),
    )  # fmt: skip


def wait_ready(proc: subprocess.Popen[bytes], ready: Path) -> None:
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text() == str(proc.pid)):
        assert proc.poll() is None, "the agent child exited"
        assert time.monotonic() < deadline, "the agent child did not come up"
        time.sleep(0.01)


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_r01_exactly_once_into_the_real_store_across_sigkill(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    data, ready = tmp_path / "data", tmp_path / "ready"
    config = write_config(
        tmp_path / "agent.json",
        {"scan_interval_ms": 200, "rotate_wait_ms": 500},
        [{"paths": [str(logs / "app-*.log*")], "log_group": "app", "log_stream": "{filename}"}],
    )
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.logd.tail.writer_child", str(logs), "--files", "10",
         "--rate", "3000", "--seconds", "7", "--rotate", "rename", "--rotate-every", "1.2"],
        cwd=ROOT, env=child_env(),
    )  # fmt: skip
    rng = random.Random(11)
    agent = start_agent(config, data, ready)
    try:
        for _ in range(5):
            wait_ready(agent, ready)
            time.sleep(rng.uniform(0.5, 2.0))
            kill(agent)
            agent = start_agent(config, data, ready)
        assert writer.wait(timeout=60) == 0
        kill(agent)
        agent = start_agent(config, data, ready, "--until-idle")
        assert agent.wait(timeout=60) == 0
    finally:
        kill(agent)
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    expected = orjson.loads((logs / "expected.json").read_bytes())["expected"]
    asyncio.run(verify(data, expected))


async def verify(data: Path, expected: dict[str, int]) -> None:
    async with await Store.open(data, StoreOptions(), SystemClock()) as store:
        rows = [r for b in store.scan(["app"], 0, 2**62) for r in b.to_pylist()]
        rows.sort(key=lambda r: r["seq"])
        assert_exactly_once((r["message"] for r in rows), expected)
        assert "tail:app:started" in store.checkpoints()
        assert store.catalog.get_stream("app", "logd-agent") is None
