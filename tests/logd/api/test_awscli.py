"""The AWS CLI (`aws logs ... --endpoint-url`) against a real `logd serve`: what a user
types works, errors come back by name, and the CLI's own pagination walks our tokens."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from tests.logd.api.conftest import now_ms
from tests.support.daemon import Daemon

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")


def aws(daemon: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    command = ["aws", "logs", *args, "--endpoint-url", daemon.endpoint, "--output", "json"]
    return subprocess.run(
        command, env=daemon.aws_env(), capture_output=True, text=True, timeout=60, check=False
    )


def ok(daemon: Daemon, *args: str) -> Any:
    done = aws(daemon, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else {}


def test_groups_streams_events_round_trip(daemon: Daemon) -> None:
    ok(daemon, "create-log-group", "--log-group-name", "cli/app", "--tags", "team=core")
    dup = aws(daemon, "create-log-group", "--log-group-name", "cli/app")
    assert dup.returncode != 0
    assert "ResourceAlreadyExistsException" in dup.stderr
    ok(daemon, "create-log-stream", "--log-group-name", "cli/app", "--log-stream-name", "s")
    t = now_ms()
    events = [{"timestamp": t + i, "message": f"line {i}"} for i in range(30)]
    reply = ok(
        daemon,
        "put-log-events",
        "--log-group-name",
        "cli/app",
        "--log-stream-name",
        "s",
        "--log-events",
        json.dumps(events),
    )
    assert reply["nextSequenceToken"].isdigit()
    got = ok(
        daemon,
        "get-log-events",
        "--log-group-name",
        "cli/app",
        "--log-stream-name",
        "s",
        "--start-from-head",
        "--limit",
        "7",
    )
    assert [e["message"] for e in got["events"]] == [f"line {i}" for i in range(7)]
    more = ok(
        daemon,
        "get-log-events",
        "--log-group-name",
        "cli/app",
        "--log-stream-name",
        "s",
        "--next-token",
        got["nextForwardToken"],
        "--limit",
        "100",
    )
    assert [e["message"] for e in more["events"]] == [f"line {i}" for i in range(7, 30)]
    streams = ok(daemon, "describe-log-streams", "--log-group-name", "cli/app")["logStreams"]
    assert [(s["logStreamName"], s["lastEventTimestamp"]) for s in streams] == [("s", t + 29)]
    missing = aws(
        daemon,
        "put-log-events",
        "--log-group-name",
        "cli/none",
        "--log-stream-name",
        "s",
        "--log-events",
        json.dumps(events[:1]),
    )
    assert "ResourceNotFoundException" in missing.stderr


def test_the_cli_paginates_describe_log_groups(daemon: Daemon) -> None:
    names = [f"cli/page/{i:02d}" for i in range(23)]
    for name in names:
        daemon.client().create_log_group(logGroupName=name)
    listed = ok(
        daemon, "describe-log-groups", "--log-group-name-prefix", "cli/page/", "--page-size", "5"
    )
    assert [g["logGroupName"] for g in listed["logGroups"]] == names
    first = ok(
        daemon, "describe-log-groups", "--log-group-name-prefix", "cli/page/", "--max-items", "4"
    )
    assert len(first["logGroups"]) == 4
    assert first["NextToken"]


def test_retention_and_tags(daemon: Daemon) -> None:
    ok(daemon, "create-log-group", "--log-group-name", "cli/ret")
    ok(daemon, "put-retention-policy", "--log-group-name", "cli/ret", "--retention-in-days", "30")
    (group,) = ok(daemon, "describe-log-groups", "--log-group-name-prefix", "cli/ret")["logGroups"]
    assert group["retentionInDays"] == 30
    bad = aws(
        daemon, "put-retention-policy", "--log-group-name", "cli/ret", "--retention-in-days", "2"
    )
    assert bad.returncode != 0
    assert "InvalidParameterException" in bad.stderr
    ok(daemon, "delete-retention-policy", "--log-group-name", "cli/ret")
    arn = group["arn"].removesuffix(":*")
    ok(daemon, "tag-resource", "--resource-arn", arn, "--tags", "a=1,b=2")
    ok(daemon, "untag-resource", "--resource-arn", arn, "--tag-keys", "a")
    assert ok(daemon, "list-tags-for-resource", "--resource-arn", arn)["tags"] == {"b": "2"}
    ok(daemon, "delete-log-group", "--log-group-name", "cli/ret")
    gone = aws(daemon, "delete-log-group", "--log-group-name", "cli/ret")
    assert "ResourceNotFoundException" in gone.stderr
