"""End to end on a real `logd serve`: the three operations through boto3, delivery to a
file sink, per-subscription metrics on /metrics and `logd tail` against the daemon."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import orjson
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


def _envelopes(root):
    out = []
    for path in sorted(root.rglob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            envelope = orjson.loads(line)
            if envelope.get("messageType") == "DATA_MESSAGE":
                out.append(envelope)
    return out


def test_field_selection_and_system_fields_end_to_end(tmp_path):
    out, cw = tmp_path / "out", tmp_path / "cw"
    config = (
        f'[sinks.files]\ntype = "file"\nroot = "{out}"\n'
        f'[sinks.cwfiles]\ntype = "file"\nroot = "{cw}"\nrendering = "cloudwatch"\n'
    )
    with Daemon(tmp_path / "d", config) as daemon:
        logs = daemon.client()
        for group, streams in (("app", ("web-1", "web-2", "worker-1")), ("other", ("x", "marker"))):
            logs.create_log_group(logGroupName=group)
            for stream in streams:
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
        sink = "arn:logd:sink:us-east-1:123456789012:"
        selected = '@logStream IN ["web-1", "worker-1"] AND @aws.region = "us-east-1"'
        logs.put_subscription_filter(
            logGroupName="app", filterName="sel", filterPattern="ERROR",
            destinationArn=sink + "files", fieldSelectionCriteria=selected,
            emitSystemFields=["@aws.account", "@source.log"],
        )  # fmt: skip
        logs.put_subscription_filter(
            logGroupName="app", filterName="cw", filterPattern="",
            destinationArn=sink + "cwfiles", fieldSelectionCriteria='@logStream != "web-1"',
            emitSystemFields=["@aws.region"],
        )  # fmt: skip
        logs.put_subscription_filter(
            logGroupName="other", filterName="none", filterPattern="",
            destinationArn=sink + "files",
            fieldSelectionCriteria='@aws.region = "eu-west-1" OR @logStream = "marker"',
        )  # fmt: skip
        for name, criteria, fields, needle in (
            ("bad", '$.level = "ERROR"', None, "filterPattern"),
            ("bad", '@aws.region LIKE "x"', None, "character 13"),
            ("bad", "", ["@logStream"], "emitSystemFields"),
        ):
            kwargs = {"emitSystemFields": fields} if fields is not None else {}
            with pytest.raises(ClientError) as info:
                logs.put_subscription_filter(
                    logGroupName="app", filterName=name, filterPattern="",
                    destinationArn=sink + "files", fieldSelectionCriteria=criteria, **kwargs,
                )  # fmt: skip
            assert info.value.response["Error"]["Code"] == "InvalidParameterException"
            assert needle in info.value.response["Error"]["Message"]

        described = {
            f["filterName"]: f
            for f in logs.describe_subscription_filters(logGroupName="app")["subscriptionFilters"]
        }
        assert described["sel"]["fieldSelectionCriteria"] == selected
        assert described["sel"]["emitSystemFields"] == ["@aws.account", "@source.log"]
        assert described["cw"]["emitSystemFields"] == ["@aws.region"]

        now = int(time.time() * 1000)
        for stream in ("web-1", "web-2", "worker-1"):
            events = [{"timestamp": now, "message": f"ERROR in {stream}"},
                      {"timestamp": now, "message": f"INFO in {stream}"}]  # fmt: skip
            logs.put_log_events(logGroupName="app", logStreamName=stream, logEvents=events)
        for stream in ("x", "marker"):
            logs.put_log_events(
                logGroupName="other",
                logStreamName=stream,
                logEvents=[{"timestamp": now, "message": f"to {stream}"}],
            )

        def ndjson_of(group):
            return [e for e in file_events(out) if e["logGroup"] == group]

        wait(lambda: len(ndjson_of("app")) == 2 and len(ndjson_of("other")) == 1)
        wait(lambda: sum(len(e["logEvents"]) for e in _envelopes(cw)) == 4)
        assert [(e["logStream"], e["message"]) for e in ndjson_of("app")] == [
            ("web-1", "ERROR in web-1"),
            ("worker-1", "ERROR in worker-1"),
        ]
        for event in ndjson_of("app"):
            assert event["@aws.account"] == "123456789012"
            assert event["@source.log"] == "123456789012:app"
            assert "@aws.region" not in event
        # the marker came after x in the log, so x was judged (and left out) already
        assert [e["message"] for e in ndjson_of("other")] == ["to marker"]
        assert not any(k.startswith("@") for k in ndjson_of("other")[0])
        envelopes = _envelopes(cw)
        assert sorted(e["logStream"] for e in envelopes) == ["web-2", "worker-1"]
        for envelope in envelopes:
            for event in envelope["logEvents"]:
                assert list(event) == ["id", "timestamp", "message", "@aws.region"]
                assert event["@aws.region"] == "us-east-1"
