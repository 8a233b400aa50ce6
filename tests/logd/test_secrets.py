"""S-06: secrets come from the environment or a file and never reach the daemon's log or
check-config's output; a missing one stops the start; the data directory and the state
files logd creates in it are its own (0700 / 0600)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import ROOT, Daemon

API_SECRET = "api-secret-7f3a9c"
HOOK_SECRET = "hook-secret-51be02"
CONFIG = """\
[api]
auth = "sigv4"

[[api.keys]]
access_key_id = "AK"
secret_env = "LOGD_TEST_API_SECRET"

[sinks.hook]
type = "webhook"
url = "http://127.0.0.1:9/never"
allow_insecure = true
signing_secrets_env = ["LOGD_TEST_HOOK_SECRET"]
"""
ENV = {"LOGD_TEST_API_SECRET": API_SECRET, "LOGD_TEST_HOOK_SECRET": HOOK_SECRET}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_stay_out_of_logs_and_state_is_private(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG, env=ENV)
    with daemon:
        good = daemon.client(("AK", API_SECRET))
        good.create_log_group(logGroupName="g")
        bad = daemon.client(("AK", "wrong"))
        with pytest.raises(bad.exceptions.ClientError):
            bad.describe_log_groups()
        good.close()
        bad.close()
    text = "\n".join(str(line) for line in daemon.lines)
    assert daemon.lines
    assert API_SECRET not in text
    assert HOOK_SECRET not in text
    assert mode(daemon.data_dir) == 0o700
    made = [daemon.data_dir / "LOCK", *(daemon.data_dir / "wal").rglob("*")]
    files = [p for p in made if p.is_file()]
    assert any(p.suffix == ".wal" for p in files)
    assert {p.name: mode(p) & 0o077 for p in files} == {p.name: 0 for p in files}


def test_check_config_never_prints_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "logd.toml"
    path.write_text(CONFIG + '\n[store]\nfsync = "sometimes"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), **ENV}
    result = subprocess.run(
        [sys.executable, "-m", "logd", "check-config", str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert API_SECRET not in result.stdout + result.stderr
    assert HOOK_SECRET not in result.stdout + result.stderr


def test_a_missing_sink_secret_stops_the_start(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, CONFIG, env={"LOGD_TEST_API_SECRET": API_SECRET})
    daemon.env.pop("LOGD_TEST_HOOK_SECRET", None)
    with pytest.raises(RuntimeError, match="LOGD_TEST_HOOK_SECRET"):
        daemon.start(timeout_s=30)
    assert daemon.process is not None
    assert daemon.wait(30) != 0
