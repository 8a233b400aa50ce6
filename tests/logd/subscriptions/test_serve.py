"""End to end on a real `logd serve`: the three operations through boto3, delivery to a
file sink, per-subscription metrics on /metrics and `logd tail` against the daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from tests.support.daemon import ROOT, Daemon

from .support import file_events


def wait(predicate, limit_s=20.0):
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_subscriptions_on_a_real_daemon(tmp_path):
    out = tmp_path / "out"
    config = f'[sinks.files]\ntype = "file"\nroot = "{out}"\n'
    with Daemon(tmp_path / "d", config) as daemon:
        logs = daemon.client()
        logs.create_log_group(logGroupName="app")
        logs.create_log_stream(logGroupName="app", logStreamName="web-1")
        arn = "arn:logd:sink:us-east-1:123456789012:files"
        logs.put_subscription_filter(
            logGroupName="app", filterName="errors", filterPattern="ERROR", destinationArn=arn
        )
        with pytest.raises(ClientError) as info:
            logs.put_subscription_filter(
                logGroupName="app", filterName="x", filterPattern="", destinationArn="nowhere"
            )
        assert info.value.response["Error"]["Code"] == "InvalidParameterException"
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": m} for m in ("ERROR one", "INFO two", "ERROR 3")]
        logs.put_log_events(logGroupName="app", logStreamName="web-1", logEvents=events)
        wait(lambda: len(file_events(out)) == 2)
        assert [e["message"] for e in file_events(out)] == ["ERROR one", "ERROR 3"]
        described = logs.describe_subscription_filters(logGroupName="app")
        assert [f["destinationArn"] for f in described["subscriptionFilters"]] == [arn]

        with urllib.request.urlopen(f"{daemon.endpoint}/metrics") as response:  # noqa: S310
            text = response.read().decode()
        assert (
            'logd_subscription_delivered_events_total{subscription="app:errors",sink="files"} 2'
            in text
        )

        tail = subprocess.run(
            [sys.executable, "-m", "logd", "tail", "app", "--since", "1h",
             "--filter-pattern", "ERROR", "--endpoint", daemon.endpoint],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert tail.returncode == 0, tail.stderr
        assert [line.split(" ", 2)[2] for line in tail.stdout.splitlines()] == [
            "ERROR one",
            "ERROR 3",
        ]

        logs.delete_subscription_filter(logGroupName="app", filterName="errors")
        with pytest.raises(ClientError) as info:
            logs.delete_subscription_filter(logGroupName="app", filterName="errors")
        assert info.value.response["Error"]["Message"] == (
            "The specified subscription filter does not exist."
        )
