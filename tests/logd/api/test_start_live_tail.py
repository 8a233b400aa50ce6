"""StartLiveTail through boto3 (and the AWS CLI, when installed) against a real
`logd serve`: events put with PutLogEvents arrive in sessionUpdates, the stream filters
apply, sampling, the timeout, the session quota and every validation error."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, EventStreamError

from tests.logd.api.conftest import error_of, now_ms
from tests.support.daemon import Daemon

TIMEOUT_MS = 8_000
MAX_SESSIONS = 3
PER_UPDATE = 50
ARN = "arn:aws:logs:us-east-1:123456789012:log-group:"

CONFIG = f"""
[subscriptions]
live_tail_session_timeout_ms = {TIMEOUT_MS}
live_tail_max_sessions = {MAX_SESSIONS}
live_tail_max_events_per_update = {PER_UPDATE}
live_tail_update_interval_ms = 300
"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    with Daemon(tmp_path_factory.mktemp("logd"), CONFIG) as running:
        yield running


@pytest.fixture
def logs(daemon: Daemon) -> Any:
    """A client as users must configure it: no `stream-` host prefix."""
    return daemon.client(inject_host_prefix=False, parameter_validation=False)


def make(logs: Any, group: str, *streams: str) -> None:
    logs.create_log_group(logGroupName=group)
    for stream in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs: Any, group: str, stream: str, *messages: str) -> None:
    t = now_ms()
    events = [{"timestamp": t, "message": m} for m in messages]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def open_session(logs: Any, **kwargs: Any) -> Any:
    """start_live_tail, waiting while the quota is held by sessions other tests closed."""
    deadline = time.monotonic() + 20
    while True:
        try:
            return logs.start_live_tail(**kwargs)["responseStream"]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code != "LimitExceededException" or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def tail(stream: Any, on_start: Any, want: int, max_updates: int = 40) -> list[dict[str, Any]]:
    """Results of the stream's updates until `want` events came; `on_start()` runs once
    the session has started (so what it puts is surely live)."""
    results: list[dict[str, Any]] = []
    updates = 0
    for event in stream:
        if "sessionStart" in event:
            on_start(event["sessionStart"])
            continue
        update = event["sessionUpdate"]
        results.extend(update["sessionResults"])
        updates += 1
        if len(results) >= want or updates >= max_updates:
            break
    stream.close()
    return results


def test_events_put_after_the_start_arrive(logs: Any) -> None:
    make(logs, "lt/basic", "web-1", "web-2")
    started: list[dict[str, Any]] = []

    def start(session: dict[str, Any]) -> None:
        started.append(session)
        put(logs, "lt/basic", "web-1", "ERROR one", "INFO two")
        put(logs, "lt/basic", "web-2", "ERROR three")

    stream = open_session(
        logs, logGroupIdentifiers=[ARN + "lt/basic"], logEventFilterPattern="ERROR"
    )
    results = tail(stream, start, want=2)
    assert [(r["logStreamName"], r["message"]) for r in results] == [
        ("web-1", "ERROR one"),
        ("web-2", "ERROR three"),
    ]
    assert {r["logGroupIdentifier"] for r in results} == {ARN + "lt/basic"}
    assert all(r["ingestionTime"] >= r["timestamp"] - 60_000 for r in results)
    (session,) = started
    assert session["logGroupIdentifiers"] == [ARN + "lt/basic"]
    assert session["logEventFilterPattern"] == "ERROR"
    assert session["sessionId"]
    assert session["requestId"]


def test_two_groups_in_one_session(logs: Any) -> None:
    make(logs, "lt/a", "s")
    make(logs, "lt/b", "s")

    def start(_: dict[str, Any]) -> None:
        put(logs, "lt/a", "s", "from a")
        put(logs, "lt/b", "s", "from b")

    results = tail(open_session(logs, logGroupIdentifiers=["lt/a", ARN + "lt/b"]), start, want=2)
    assert sorted((r["message"], r["logGroupIdentifier"]) for r in results) == [
        ("from a", "lt/a"),
        ("from b", ARN + "lt/b"),
    ]


@pytest.mark.parametrize(
    ("member", "value"),
    [("logStreamNames", ["api-1", "api-3"]), ("logStreamNamePrefixes", ["api-1", "api-3"])],
)
def test_stream_names_and_prefixes(logs: Any, member: str, value: list[str]) -> None:
    group = f"lt/streams-{member}"
    make(logs, group, "api-1", "api-2", "api-3x")

    def start(session: dict[str, Any]) -> None:
        assert session[member] == value
        for stream in ("api-1", "api-2", "api-3x"):
            put(logs, group, stream, f"in {stream}")
        put(logs, group, "api-1", "last")

    stream = open_session(logs, logGroupIdentifiers=[group], **{member: value})
    results = tail(stream, start, want=2 if member == "logStreamNames" else 3)
    messages = [r["message"] for r in results]
    if member == "logStreamNames":  # exact names: api-3x is not api-3
        assert messages == ["in api-1", "last"]
    else:
        assert messages == ["in api-1", "in api-3x", "last"]


def test_a_busy_second_is_sampled(logs: Any) -> None:
    make(logs, "lt/busy", "s")
    sent = [f"event {i:03d}" for i in range(4 * PER_UPDATE)]
    updates: list[dict[str, Any]] = []
    stream = open_session(logs, logGroupIdentifiers=["lt/busy"])
    for event in stream:
        if "sessionStart" in event:
            put(logs, "lt/busy", "s", *sent)  # one record: it lands in one update
            continue
        updates.append(event["sessionUpdate"])
        if event["sessionUpdate"]["sessionResults"] or len(updates) > 40:
            break
    stream.close()
    update = updates[-1]
    assert update["sessionMetadata"]["sampled"] is True
    got = [r["message"] for r in update["sessionResults"]]
    assert len(got) == PER_UPDATE
    assert got == sorted(got)  # a spread of them, in order
    assert set(got) <= set(sent)
    assert got[0] == sent[0]
    assert got[-1] != sent[PER_UPDATE - 1]
    assert all(u["sessionMetadata"]["sampled"] is False for u in updates[:-1])


def test_the_session_times_out(logs: Any) -> None:
    make(logs, "lt/timeout", "s")
    stream = open_session(logs, logGroupIdentifiers=["lt/timeout"])
    kinds: list[str] = []
    with pytest.raises(EventStreamError) as info:
        kinds.extend(name for event in stream for name in event)
    stream.close()
    assert info.value.response["Error"]["Code"] == "SessionTimeoutException"
    assert "timed out" in info.value.response["Error"]["Message"]
    assert kinds[0] == "sessionStart"
    assert set(kinds[1:]) == {"sessionUpdate"}


def test_the_session_quota(logs: Any) -> None:
    make(logs, "lt/quota", "s")
    streams = [open_session(logs, logGroupIdentifiers=["lt/quota"])]
    deadline = time.monotonic() + 20
    while len(streams) < MAX_SESSIONS:  # sessions of earlier tests may still be closing
        try:
            streams.append(logs.start_live_tail(logGroupIdentifiers=["lt/quota"])["responseStream"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "LimitExceededException":
                raise
            assert time.monotonic() < deadline
            time.sleep(0.2)
    code, message = error_of(logs.start_live_tail, logGroupIdentifiers=["lt/quota"])
    assert code == "LimitExceededException"
    assert str(MAX_SESSIONS) in message
    for stream in streams:
        stream.close()
    open_session(logs, logGroupIdentifiers=["lt/quota"]).close()  # freed again


@pytest.mark.parametrize(
    ("kwargs", "code", "needle"),
    [
        ({}, "InvalidParameterException", "logGroupIdentifiers"),
        ({"logGroupIdentifiers": []}, "InvalidParameterException", "logGroupIdentifiers"),
        (
            {"logGroupIdentifiers": [f"lt/v{i}" for i in range(11)]},
            "InvalidParameterException",
            "logGroupIdentifiers",
        ),
        ({"logGroupIdentifiers": [ARN + "lt/v:*"]}, "InvalidParameterException", "*"),
        (
            {
                "logGroupIdentifiers": ["lt/v"],
                "logStreamNames": ["a"],
                "logStreamNamePrefixes": ["a"],
            },
            "InvalidParameterException",
            "mutually exclusive",
        ),
        (
            {"logGroupIdentifiers": ["lt/v", "lt/w"], "logStreamNames": ["a"]},
            "InvalidParameterException",
            "exactly one",
        ),
        (
            {"logGroupIdentifiers": ["lt/v", "lt/w"], "logStreamNamePrefixes": ["a"]},
            "InvalidParameterException",
            "exactly one",
        ),
        ({"logGroupIdentifiers": ["lt/v"], "logStreamNames": []}, "InvalidParameterException", ""),
        (
            {"logGroupIdentifiers": ["lt/v"], "logStreamNames": ["a:b"]},
            "InvalidParameterException",
            "logStreamNames",
        ),
        (
            {
                "logGroupIdentifiers": ["lt/v"],
                "logStreamNamePrefixes": [f"p{i}" for i in range(101)],
            },
            "InvalidParameterException",
            "",
        ),
        (
            {"logGroupIdentifiers": ["lt/v"], "logEventFilterPattern": '{ $.x = "'},
            "InvalidParameterException",
            "filter pattern",
        ),
        (
            {"logGroupIdentifiers": ["lt/v"], "logEventFilterPattern": "x" * 1025},
            "InvalidParameterException",
            "logEventFilterPattern",
        ),
        ({"logGroupIdentifiers": ["lt/none"]}, "ResourceNotFoundException", ""),
        ({"logGroupIdentifiers": ["lt/v", "lt/none"]}, "ResourceNotFoundException", ""),
    ],
)
def test_validation_errors(logs: Any, kwargs: dict[str, Any], code: str, needle: str) -> None:
    for group in ("lt/v", "lt/w"):
        with contextlib.suppress(ClientError):
            logs.create_log_group(logGroupName=group)
    got_code, message = error_of(logs.start_live_tail, **kwargs)
    assert (got_code, needle in message) == (code, True), message


def test_a_refused_session_holds_no_quota(logs: Any) -> None:
    make(logs, "lt/refused", "s")
    for _ in range(MAX_SESSIONS + 2):  # a group that fails after another opened
        code, _ = error_of(logs.start_live_tail, logGroupIdentifiers=["lt/refused", "lt/nope"])
        assert code == "ResourceNotFoundException"
    open_session(logs, logGroupIdentifiers=["lt/refused"]).close()


def test_the_default_host_prefix_does_not_reach_a_loopback_address(daemon: Daemon) -> None:
    """What docs/tail.md tells users: botocore sends StartLiveTail to `stream-<host>`,
    which does not resolve for 127.0.0.1, unless host-prefix injection is turned off."""
    client = daemon.client()
    with pytest.raises(EndpointConnectionError, match=r"stream-127\.0\.0\.1"):
        client.start_live_tail(logGroupIdentifiers=["lt/basic"])


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_start_live_tail(daemon: Daemon, logs: Any) -> None:
    make(logs, "lt/cli", "s")
    env = {**daemon.aws_env(), "AWS_DISABLE_HOST_PREFIX_INJECTION": "true"}
    command = ["aws", "logs", "start-live-tail", "--log-group-identifiers", "lt/cli",
               "--log-event-filter-pattern", "cli", "--endpoint-url", daemon.endpoint]  # fmt: skip
    sent: list[str] = []
    out: list[str] = []
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as cli:
        reader = threading.Thread(target=lambda: out.extend(cli.stdout or ()), daemon=True)
        reader.start()
        deadline = time.monotonic() + TIMEOUT_MS / 1000 + 30
        while cli.poll() is None and time.monotonic() < deadline:
            sent.append(f"cli {len(sent)}")
            put(logs, "lt/cli", "s", sent[-1], "not for the tail")
            time.sleep(0.3)
        assert cli.wait(10) == 0
        reader.join(5)
        errors = cli.stderr.read() if cli.stderr else ""
    lines = [line.rstrip("\n") for line in out]
    assert lines, errors
    assert "SessionTimeoutException" in lines[-1]
    printed = lines[:-1]
    assert printed, errors
    first = sent.index(printed[0])  # events before the session opened are not shown
    assert printed == sent[first : first + len(printed)]


def test_stopping_logd_ends_open_sessions(tmp_path: Any) -> None:
    with Daemon(tmp_path / "d", CONFIG) as running:
        client = running.client(inject_host_prefix=False)
        make(client, "lt/stop", "s")
        stream = client.start_live_tail(logGroupIdentifiers=["lt/stop"])["responseStream"]
        events = iter(stream)
        assert "sessionStart" in next(events)
        running.signal(signal.SIGTERM)
        with pytest.raises(EventStreamError) as info:
            for _ in events:
                pass
        stream.close()
        assert info.value.response["Error"]["Code"] == "SessionStreamingException"
        assert running.wait(30) == 0
