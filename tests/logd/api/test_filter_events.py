"""FilterLogEvents through boto3 against a real `logd serve` (logs-api.md §6.2, §7.10), and
the `logd filter` command."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from typing import Any

import pytest

from logd import errors
from logd.client import Client
from tests.logd.api.conftest import HOUR_MS, error_of, now_ms
from tests.support.daemon import ROOT, Daemon


@pytest.fixture
def group(logs: Any, unique: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Three streams of events interleaved in time; every third one says ERROR."""
    logs.create_log_group(logGroupName=unique)
    base = now_ms() - HOUR_MS
    expected = []
    for k, stream in enumerate(("web-1", "web-2", "db")):
        logs.create_log_stream(logGroupName=unique, logStreamName=stream)
        events = []
        for i in range(400):
            ts = base + i * 10 + k  # interleaved across streams
            text = f"{'ERROR' if i % 3 == 0 else 'INFO'} {stream} n={i}"
            events.append({"timestamp": ts, "message": text})
            expected.append((ts, stream, text))
        logs.put_log_events(logGroupName=unique, logStreamName=stream, logEvents=events)
    return unique, sorted(expected)


def test_paginator_returns_every_match_once_in_order(logs: Any, group: Any) -> None:
    name, expected = group
    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=name, filterPattern="ERROR", PaginationConfig={"PageSize": 37}
        )
    )
    events = [e for p in pages for e in p["events"]]
    want = [(t, s, m) for t, s, m in expected if m.startswith("ERROR")]
    assert [(e["timestamp"], e["logStreamName"], e["message"]) for e in events] == want
    assert len({e["eventId"] for e in events}) == len(events)
    assert all(len(e["eventId"]) == 56 and e["eventId"].isdigit() for e in events)
    assert all(e["ingestionTime"] >= e["timestamp"] for e in events)
    assert len(pages) == -(-len(want) // 37)
    assert all(p["searchedLogStreams"] == [] for p in pages)
    assert "nextToken" not in pages[-1]


def test_tokens_are_stable_and_streams_and_times_select(logs: Any, group: Any) -> None:
    name, expected = group
    first = logs.filter_log_events(logGroupName=name, limit=100)
    again = logs.filter_log_events(logGroupName=name, limit=100, nextToken=first["nextToken"])
    same = logs.filter_log_events(logGroupName=name, limit=100, nextToken=first["nextToken"])
    assert again["events"] == same["events"]
    assert again["nextToken"] == same["nextToken"]
    assert [e["timestamp"] for e in first["events"] + again["events"]] == [
        t for t, _, _ in expected[:200]
    ]
    start, end = expected[10][0], expected[20][0]
    ranged = logs.filter_log_events(
        logGroupName=name, logStreamNames=["db", "no-such-stream"], startTime=start, endTime=end
    )
    want = [m for t, s, m in expected if s == "db" and start <= t <= end]
    assert [e["message"] for e in ranged["events"]] == want
    prefixed = logs.filter_log_events(logGroupIdentifier=name, logStreamNamePrefix="web-")
    assert {e["logStreamName"] for e in prefixed["events"]} == {"web-1", "web-2"}
    arn = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["logGroupArn"]
    by_arn = logs.filter_log_events(logGroupIdentifier=arn, filterPattern="n=399", unmask=True)
    assert len(by_arn["events"]) == 3
    json_hits = logs.filter_log_events(logGroupName=name, filterPattern='{ $.a = "b" }')
    assert json_hits["events"] == []
    assert "nextToken" not in json_hits


def test_reading_from_the_tail(daemon: Daemon, group: Any) -> None:
    """startFromHead (logs-api.md §6.2) is not in every botocore model: sent as raw JSON."""
    name, expected = group
    with Client(daemon.endpoint) as client:
        body = {"logGroupName": name, "startTime": expected[0][0], "startFromHead": False}
        first = client.call("FilterLogEvents", {**body, "limit": 5})
        newest = [t for t, _, _ in expected[::-1]]
        assert [e["timestamp"] for e in first["events"]] == newest[:5]
        second = client.call(
            "FilterLogEvents", {**body, "limit": 5, "nextToken": first["nextToken"]}
        )
        assert [e["timestamp"] for e in second["events"]] == newest[5:10]
        with pytest.raises(errors.InvalidParameterException, match="2024"):
            client.call("FilterLogEvents", {**body, "startTime": 1_600_000_000_000})


def test_filter_log_events_errors(logs: Any, group: Any) -> None:
    name, _ = group
    token = logs.filter_log_events(logGroupName=name, limit=1)["nextToken"]
    cases = [
        ({"logGroupName": "t/none-such"}, "ResourceNotFoundException"),
        ({"logGroupName": name, "logGroupIdentifier": name}, "InvalidParameterException"),
        ({}, "InvalidParameterException"),
        (
            {"logGroupName": name, "logStreamNames": ["db"], "logStreamNamePrefix": "d"},
            "InvalidParameterException",
        ),
        ({"logGroupName": name, "filterPattern": "{ $.a = "}, "InvalidParameterException"),
        ({"logGroupName": name, "nextToken": "garbage"}, "InvalidParameterException"),
        (
            {"logGroupName": name, "nextToken": token, "filterPattern": "ERROR"},
            "InvalidParameterException",
        ),
        ({"logGroupName": name, "limit": 10_001}, "InvalidParameterException"),
    ]
    for kwargs, code in cases:
        assert error_of(logs.filter_log_events, **kwargs)[0] == code, kwargs


def test_logd_filter_command_prints_matches(daemon: Daemon, logs: Any, group: Any) -> None:
    name, expected = group
    out = subprocess.run(
        [
            *(sys.executable, "-m", "logd", "filter", name, "ERROR db"),
            *("--since", "2h", "--output", "jsonl", "--limit", "50"),
            *("--endpoint", daemon.endpoint),
        ],
        cwd=ROOT,
        env={**daemon.aws_env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    want = [m for _, s, m in expected if s == "db" and m.startswith("ERROR")]
    assert [r["message"] for r in rows] == want
    assert {r["logStreamName"] for r in rows} == {"db"}
    bad = subprocess.run(
        [sys.executable, "-m", "logd", "filter", name, "--since", "soon"],
        cwd=ROOT,
        env={**daemon.aws_env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "--since" in bad.stderr


def test_logd_filter_follow_prints_new_matches_once(daemon: Daemon, logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique)
    logs.create_log_stream(logGroupName=unique, logStreamName="s")
    t = now_ms()
    logs.put_log_events(
        logGroupName=unique,
        logStreamName="s",
        logEvents=[{"timestamp": t, "message": "ERROR first"}, {"timestamp": t, "message": "x"}],
    )
    child = subprocess.Popen(
        [
            *(sys.executable, "-m", "logd", "filter", unique, "ERROR", "--follow"),
            *("--interval", "0.1", "--output", "raw", "--endpoint", daemon.endpoint),
        ],
        cwd=ROOT,
        env={**daemon.aws_env(), "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert child.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in child.stdout], daemon=True)
    reader.start()
    try:
        assert lines.get(timeout=60) == "ERROR first\n"
        logs.put_log_events(
            logGroupName=unique,
            logStreamName="s",
            logEvents=[
                {"timestamp": t, "message": "ERROR same millisecond"},
                {"timestamp": t + 1, "message": "no match"},
                {"timestamp": t + 2, "message": "ERROR later"},
            ],
        )
        assert lines.get(timeout=60) == "ERROR same millisecond\n"
        assert lines.get(timeout=60) == "ERROR later\n"
    finally:
        child.kill()
        child.wait()
        reader.join(10)
        child.stdout.close()
