"""The client subcommands (`logd put/get/groups/streams/retention`) against a real
`logd serve`: what they print, and their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support.daemon import ROOT, Daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with Daemon(tmp_path_factory.mktemp("logd-cli")) as running:
        yield running


def logd(daemon: Daemon, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOGD_"))}
    env["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, "-m", "logd", *args, "--endpoint-url", daemon.endpoint]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_put_then_get_groups_and_streams(daemon: Daemon) -> None:
    lines = "".join(f"line {i}\n" for i in range(2_500)) + "\n"  # the empty line is skipped
    done = logd(daemon, "put", "cli/app", "web-1", "--create", stdin=lines)
    assert done.returncode == 0, done.stderr
    assert "2500 events sent" in done.stderr
    got = logd(daemon, "get", "cli/app", "web-1", "--since", "10m", "-o", "jsonl")
    assert got.returncode == 0, got.stderr
    rows = [json.loads(line) for line in got.stdout.splitlines()]
    assert [r["message"] for r in rows] == [f"line {i}" for i in range(2_500)]
    raw = logd(daemon, "get", "cli/app", "web-1", "-o", "raw")
    assert raw.stdout.splitlines()[:2] == ["line 0", "line 1"]
    groups = json.loads(logd(daemon, "groups", "--prefix", "cli/", "-o", "json").stdout)
    assert [g["logGroupName"] for g in groups] == ["cli/app"]
    streams = json.loads(logd(daemon, "streams", "cli/app", "-o", "json").stdout)
    assert [s["logStreamName"] for s in streams] == ["web-1"]


def test_retention_sets_and_clears(daemon: Daemon) -> None:
    assert logd(daemon, "put", "cli/ret", "s", "--create", stdin="x\n").returncode == 0
    assert logd(daemon, "retention", "cli/ret", "7").returncode == 0
    (group,) = json.loads(logd(daemon, "groups", "--prefix", "cli/ret", "-o", "json").stdout)
    assert group["retentionInDays"] == 7
    bad = logd(daemon, "retention", "cli/ret", "2")
    assert bad.returncode == 1
    assert "InvalidParameterException" in bad.stderr
    assert logd(daemon, "retention", "cli/ret", "0").returncode == 0
    (group,) = json.loads(logd(daemon, "groups", "--prefix", "cli/ret", "-o", "json").stdout)
    assert group.get("retentionInDays") is None


def test_errors_exit_1_with_the_cloudwatch_code(daemon: Daemon) -> None:
    missing = logd(daemon, "get", "cli/none", "s")
    assert missing.returncode == 1
    assert "ResourceNotFoundException: The specified log group does not exist." in missing.stderr
    assert logd(daemon, "get", "cli/none", "s", "--since", "soon").returncode == 2
