"""`logd agent --config PATH` as a real subprocess: ships to moto's CloudWatch Logs, stops
on SIGTERM with its state saved, refuses a bad config naming the key."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import orjson
import pytest
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[3]


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.update(PYTHONPATH=str(ROOT), AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s")
    return out


@pytest.fixture
def moto_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def stored(url: str, group: str) -> list[str]:
    client = boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip
    try:
        pages = client.get_paginator("filter_log_events").paginate(logGroupName=group)
        return [e["message"] for page in pages for e in page["events"]]
    except client.exceptions.ResourceNotFoundException:
        return []
    finally:
        client.close()


def test_logd_agent_ships_and_stops_on_sigterm_with_state_saved(tmp_path, moto_url):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(f"line {i}\n" for i in range(100)))
    state = tmp_path / "state.json"
    config = tmp_path / "logd.toml"
    config.write_text(
        f'[agent]\nendpoint_url = "{moto_url}"\nstate_file = "{state}"\n'
        "scan_interval_ms = 100\n\n"
        f'[[tail]]\npaths = ["{logs}/*.log"]\nlog_group = "cli"\n\n'
        '[store]\nfsync = "group"\n'  # a daemon table: ignored by `logd agent`
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "logd", "agent", "--config", str(config)], cwd=ROOT, env=env()
    )
    try:
        deadline = time.monotonic() + 60
        while len(stored(moto_url, "cli")) < 100:
            assert proc.poll() is None, "logd agent exited"
            assert time.monotonic() < deadline, "lines were not shipped"
            time.sleep(0.1)
        time.sleep(0.5)  # let the acknowledged emit record its checkpoint
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert sorted(stored(moto_url, "cli")) == sorted(f"line {i}" for i in range(100))
    saved = orjson.loads(state.read_bytes())["checkpoints"]
    assert any(key.startswith("tail:cli:") for key in saved)


def test_logd_agent_refuses_an_unknown_key_naming_it(tmp_path):
    config = tmp_path / "logd.toml"
    config.write_text('[[tail]]\npaths = ["/tmp/*.log"]\nlog_group = "g"\nlog_grup = "x"\n')
    out = subprocess.run(
        [sys.executable, "-m", "logd", "agent", "--config", str(config)],
        cwd=ROOT, env=env(), capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert "tail[0].log_grup: unknown key" in out.stderr
