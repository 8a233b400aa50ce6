"""Logs Insights end to end: a real `logd serve`, boto3 clients and the `logd query` CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.daemon import ROOT, Daemon

GROUP = "app/web"
MESSAGES = [
    '{"level":"INFO","ms":12,"user":"ann"}',
    '{"level":"ERROR","ms":40,"user":"bob"}',
    '{"level":"ERROR","ms":8,"user":"ann"}',
    "plain text",
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with Daemon(tmp_path_factory.mktemp("logd-q"), "[queries]\nmax_running = 1\n") as running:
        logs = running.client()
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="s1")
        now = time.time_ns() // 1_000_000
        events = [{"timestamp": now - 5000 + i, "message": m} for i, m in enumerate(MESSAGES)]
        logs.put_log_events(logGroupName=GROUP, logStreamName="s1", logEvents=events)
        yield running


def window() -> dict[str, int]:
    now = int(time.time())
    return {"startTime": now - 3600, "endTime": now + 60}


def until(logs: Any, query_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(3000):
        page: dict[str, Any] = logs.get_query_results(queryId=query_id)
        if page["status"] in statuses:
            return page
        time.sleep(0.01)
    raise AssertionError(f"{query_id} never reached {statuses}")


def test_start_poll_describe(daemon: Daemon) -> None:
    logs = daemon.client()
    started = logs.start_query(
        logGroupName=GROUP, queryString="stats count(*) as n, max(ms) as top by level", **window()
    )
    page = until(logs, started["queryId"], "Complete", "Failed")
    assert page["status"] == "Complete"
    assert page["results"] == [
        [{"field": "level", "value": "ERROR"}, {"field": "n", "value": "2"},
         {"field": "top", "value": "40"}],
        [{"field": "level", "value": "INFO"}, {"field": "n", "value": "1"},
         {"field": "top", "value": "12"}],
        [{"field": "n", "value": "1"}],
    ]  # fmt: skip
    assert page["statistics"]["recordsScanned"] == 4.0
    queries = logs.describe_queries(logGroupName=GROUP, status="Complete")["queries"]
    assert started["queryId"] in [q["queryId"] for q in queries]
    with pytest.raises(ClientError) as info:
        logs.stop_query(queryId=started["queryId"])
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"


def test_malformed_query_exception_shape(daemon: Daemon) -> None:
    logs = daemon.client()
    with pytest.raises(logs.exceptions.MalformedQueryException) as info:
        logs.start_query(logGroupName=GROUP, queryString="filter level =", **window())
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["queryCompileError"]["location"] == {"startCharOffset": 14, "endCharOffset": 14}
    assert "line 1, column 15" in error["queryCompileError"]["message"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(logGroupName="no/such/group", queryString="fields @message", **window())


def test_stop_a_queued_query(daemon: Daemon) -> None:
    logs = daemon.client()
    body = {"logGroupName": GROUP, "queryString": "fields @message | sort @message", **window()}
    ids = [logs.start_query(**body)["queryId"] for _ in range(4)]
    assert logs.stop_query(queryId=ids[-1])["success"] is True
    assert logs.get_query_results(queryId=ids[-1])["status"] == "Cancelled"
    for query_id in ids[:-1]:
        assert until(logs, query_id, "Complete", "Failed")["status"] == "Complete"


def test_timeout(tmp_path: Path) -> None:
    with Daemon(tmp_path, "[queries]\ntimeout_ms = 1\n") as running:
        logs = running.client()
        logs.create_log_group(logGroupName="g")
        started = logs.start_query(logGroupName="g", queryString="fields @message", **window())
        page = until(logs, started["queryId"], "Complete", "Failed", "Timeout")
        assert (page["status"], page["results"]) == ("Timeout", [])
        [info] = logs.describe_queries()["queries"]
        assert info["status"] == "Timeout"


def cli(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGD_ENDPOINT": daemon.endpoint}
    return subprocess.run(
        [sys.executable, "-m", "logd", "query", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_query_and_saved_definition(daemon: Daemon) -> None:
    done = cli(daemon, "filter user = 'ann' | fields ms | sort ms", "-g", GROUP, "-o", "jsonl")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"ms": "12"}, {"ms": "8"}]
    assert "logd query: from " in done.stderr
    assert "2 rows; 2 records matched, 4 scanned" in done.stderr
    logs = daemon.client()
    logs.put_query_definition(
        name="by-user", queryString="filter user = '{{who}}' | stats count(*) as n",
        logGroupNames=[GROUP], parameters=[{"name": "who", "defaultValue": "ann"}],
    )  # fmt: skip
    done = cli(daemon, "--definition", "by-user", "--var", "who=bob", "-o", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["n", "1"]
    done = cli(daemon, "--definition", "by-user", "-o", "raw")
    assert done.stdout.splitlines() == ["2"]
    done = cli(daemon, "filter level =", "-g", GROUP)
    assert done.returncode == 1
    assert "MalformedQueryException" in done.stderr
