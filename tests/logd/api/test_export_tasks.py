"""Export tasks through boto3 against a real `logd serve`: the daemon wires the
`ExportService` to the store, so CreateExportTask writes CloudWatch's layout under the
local export root (docs/export.md)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from typing import Any

from tests.logd.api.conftest import error_of, now_ms
from tests.support.daemon import ROOT, Daemon


def wait_done(logs: Any, task_id: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        (task,) = logs.describe_export_tasks(taskId=task_id)["exportTasks"]
        if task["status"]["code"] in ("COMPLETED", "FAILED", "CANCELLED"):
            return dict(task)
        time.sleep(0.05)
    raise TimeoutError(task_id)


def test_an_export_task_writes_the_events_of_its_range(daemon: Daemon, logs: Any) -> None:
    logs.create_log_group(logGroupName="exp/app")
    for stream in ("a", "b"):
        logs.create_log_stream(logGroupName="exp/app", logStreamName=stream)
    t = now_ms() - 60_000
    logs.put_log_events(
        logGroupName="exp/app",
        logStreamName="a",
        logEvents=[{"timestamp": t + i, "message": f"a{i}"} for i in range(5)],
    )
    logs.put_log_events(
        logGroupName="exp/app",
        logStreamName="b",
        logEvents=[{"timestamp": t + 10, "message": "b-outside"}],
    )
    task_id = logs.create_export_task(
        logGroupName="exp/app",
        fromTime=t + 1,
        to=t + 3,
        destination="archive",
        destinationPrefix="p",
    )["taskId"]
    task = wait_done(logs, task_id)
    assert task["status"]["code"] == "COMPLETED", task
    folder = daemon.folder / "exports" / "archive" / "p" / task_id
    objects = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.gz"))
    assert objects == ["a/000000.gz"]
    lines = gzip.decompress((folder / "a" / "000000.gz").read_bytes()).decode().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == ["a1", "a2", "a3"]
    assert (folder.parent / f"{task_id}.manifest.json").is_file()


def test_export_errors(logs: Any) -> None:
    code, _ = error_of(
        logs.create_export_task, logGroupName="exp/none", fromTime=0, to=1, destination="archive"
    )
    assert code == "ResourceNotFoundException"
    assert logs.describe_export_tasks(taskId="no-such-task")["exportTasks"] == []


def test_logd_export_cli_waits_for_the_task_then_verifies_it(daemon: Daemon, logs: Any) -> None:
    logs.create_log_group(logGroupName="exp/cli")
    logs.create_log_stream(logGroupName="exp/cli", logStreamName="s")
    t = now_ms() - 60_000
    events = [{"timestamp": t + i, "message": f"line {i}"} for i in range(100)]
    logs.put_log_events(logGroupName="exp/cli", logStreamName="s", logEvents=events)

    def logd(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "logd", *args],
            cwd=ROOT,
            env={**daemon.aws_env(), "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    done = logd(
        "export",
        "exp/cli",
        "--from",
        str(t),
        "--to",
        str(t + 99),
        "--to-dir",
        "cli",
        "--endpoint-url",
        daemon.endpoint,
        "--poll-interval",
        "0.05",
    )
    assert done.returncode == 0, done.stderr
    task_id = done.stdout.strip()
    assert "completed: cli/exportedlogs/" in done.stderr
    bucket = daemon.folder / "exports" / "cli"
    text = gzip.decompress((bucket / "exportedlogs" / task_id / "s" / "000000.gz").read_bytes())
    assert [line.split(" ", 1)[1] for line in text.decode().splitlines()] == [
        f"line {i}" for i in range(100)
    ]
    checked = logd("export", "verify", str(bucket), "--prefix", f"exportedlogs/{task_id}")
    assert checked.returncode == 0, checked.stdout + checked.stderr
