"""R-01: exactly once across SIGKILL, with rename rotation, into the durable log.

A child process runs the agent into a fsynced `DurableLog` (the store's stand-in at the
emit seam) and is killed with SIGKILL every 0.5-2 s, six times, while a writer process
appends numbered lines to 20 files at 5k lines/s in total, rotating them by rename every
2 s. After the last restart drains, the sequence-number oracle must say: missing 0,
duplicates 0, order kept per file.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import orjson

from tests.logd.tail.support import (
    ROOT,
    agent_command,
    assert_exactly_once,
    child_env,
    messages,
    write_config,
)


def start_agent(config, log):
    return subprocess.Popen(agent_command(config, log), cwd=ROOT, env=child_env())


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_r01_exactly_once_across_sigkill_with_rename_rotation(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    config = write_config(
        tmp_path / "agent.json",
        {"scan_interval_ms": 200, "rotate_wait_ms": 500},
        [{"paths": [str(logs / "app-*.log*")], "log_group": "app", "exclude": ["*.gz"]}],
    )
    log = tmp_path / "durable.log"
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.logd.tail.writer_child", str(logs), "--files", "20",
         "--rate", "5000", "--seconds", "8", "--rotate", "rename", "--rotate-every", "2"],
        cwd=ROOT, env=child_env(),
    )  # fmt: skip
    rng = random.Random(7)
    agent = start_agent(config, log)
    try:
        for _ in range(6):
            time.sleep(rng.uniform(0.5, 2.0))
            stop(agent)
            agent = start_agent(config, log)
        assert writer.wait(timeout=60) == 0
        expected = orjson.loads((logs / "expected.json").read_bytes())["expected"]
        total = sum(expected.values())
        deadline = time.monotonic() + 60
        while len(messages(log)) < total and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(agent)
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    assert_exactly_once(messages(log), expected)
    assert os.path.getsize(log) > 0
