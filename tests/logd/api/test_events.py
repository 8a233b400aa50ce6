"""PutLogEvents and GetLogEvents through boto3 against a real `logd serve`: ingestion
rules and `rejectedLogEventsInfo` (logs-api.md §4), paging with forward and backward
tokens (§6.1)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.logd.api.conftest import DAY_MS, HOUR_MS, error_of, now_ms
from tests.support.daemon import Daemon


@pytest.fixture
def stream(logs: Any, unique: str) -> str:
    logs.create_log_group(logGroupName=unique)
    logs.create_log_stream(logGroupName=unique, logStreamName="s")
    return unique


def put(logs: Any, group: str, events: list[dict[str, Any]]) -> Any:
    return logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)


def get(logs: Any, group: str, **kwargs: Any) -> Any:
    return logs.get_log_events(logGroupName=group, logStreamName="s", **kwargs)


def messages(page: Any) -> list[str]:
    return [e["message"] for e in page["events"]]


def test_events_come_back_byte_identical_with_ingestion_time(logs: Any, stream: str) -> None:
    t = now_ms()
    texts = ["plain", "ünïcødé ✓", 'json {"a": [1, 2]}', "multi\nline\n", " padded "]
    reply = put(logs, stream, [{"timestamp": t, "message": m} for m in texts])
    assert reply["nextSequenceToken"].isdigit()
    assert "rejectedLogEventsInfo" not in reply
    page = get(logs, stream, startFromHead=True)
    assert messages(page) == texts
    assert {e["timestamp"] for e in page["events"]} == {t}
    (ingested,) = {e["ingestionTime"] for e in page["events"]}
    assert abs(ingested - now_ms()) < 60_000


def test_forward_paging_to_the_end_then_following(logs: Any, stream: str) -> None:
    t = now_ms() - 10_000
    for batch in range(3):
        put(
            logs,
            stream,
            [{"timestamp": t + batch * 100 + i, "message": f"m{batch}-{i}"} for i in range(50)],
        )
    page = get(logs, stream, startFromHead=True, limit=40)
    got = messages(page)
    token = page["nextForwardToken"]
    while True:
        nxt = get(logs, stream, nextToken=token, limit=40)
        got += messages(nxt)
        if nxt["nextForwardToken"] == token:
            assert nxt["events"] == []
            assert nxt["nextBackwardToken"] == token
            break
        token = nxt["nextForwardToken"]
    assert got == [f"m{b}-{i}" for b in range(3) for i in range(50)]
    assert get(logs, stream, nextToken=token)["nextForwardToken"] == token  # still the end
    put(logs, stream, [{"timestamp": t + 500, "message": "late"}])
    assert messages(get(logs, stream, nextToken=token)) == ["late"]


def test_newest_page_then_backward_tokens(logs: Any, stream: str) -> None:
    t = now_ms() - 10_000
    put(logs, stream, [{"timestamp": t + i // 3, "message": f"e{i:03d}"} for i in range(95)])
    page = get(logs, stream, limit=10)
    assert messages(page) == [f"e{i:03d}" for i in range(85, 95)]
    got = messages(page)
    token = page["nextBackwardToken"]
    while True:
        older = get(logs, stream, limit=10, nextToken=token)
        if older["nextBackwardToken"] == token:
            assert older["events"] == []
            break
        assert messages(older) == sorted(messages(older))  # ascending within a page
        got = messages(older) + got
        token = older["nextBackwardToken"]
    assert got == [f"e{i:03d}" for i in range(95)]
    # forward from a backward page resumes after that page
    older = get(logs, stream, limit=10, nextToken=page["nextBackwardToken"])
    assert messages(get(logs, stream, limit=5, nextToken=older["nextForwardToken"])) == [
        f"e{i:03d}" for i in range(85, 90)
    ]


def test_time_range_and_empty_stream(logs: Any, stream: str) -> None:
    empty = get(logs, stream)
    assert empty["events"] == []
    assert empty["nextForwardToken"].startswith("f/")
    assert empty["nextBackwardToken"].startswith("b/")
    t = now_ms() - 10_000
    put(logs, stream, [{"timestamp": t + i, "message": str(i)} for i in range(10)])
    page = get(logs, stream, startTime=t + 3, endTime=t + 7, startFromHead=True)
    assert messages(page) == ["3", "4", "5", "6"]  # start inclusive, end exclusive
    by_identifier = logs.get_log_events(
        logGroupIdentifier=f"arn:aws:logs:us-east-1:123456789012:log-group:{stream}",
        logStreamName="s",
        limit=2,
    )
    assert messages(by_identifier) == ["8", "9"]


def test_get_log_events_errors(logs: Any, stream: str) -> None:
    code, message = error_of(get, logs=logs, group=stream, nextToken="f/garbage")
    assert (code, message) == ("InvalidParameterException", "The specified nextToken is invalid.")
    code, message = error_of(logs.get_log_events, logGroupName=stream, logStreamName="nope")
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    code, message = error_of(logs.get_log_events, logGroupName=stream + "x", logStreamName="s")
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    code, _ = error_of(
        logs.get_log_events, logGroupName=stream, logGroupIdentifier=stream, logStreamName="s"
    )
    assert code == "InvalidParameterException"


def test_put_into_missing_group_or_stream(logs: Any, stream: str) -> None:
    """I-05: an unknown group or stream is ResourceNotFoundException."""
    event = [{"timestamp": now_ms(), "message": "m"}]
    code, message = error_of(
        logs.put_log_events, logGroupName=stream + "x", logStreamName="s", logEvents=event
    )
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    code, message = error_of(
        logs.put_log_events, logGroupName=stream, logStreamName="t", logEvents=event
    )
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )


def test_batch_limits(logs: Any, stream: str, daemon: Daemon) -> None:
    """I-05: 10,001 events, empty batch and message, 1 MiB, unsorted, over 24 h: refused
    with CloudWatch's type and message; only the batch that fits is stored."""
    t = now_ms()
    unchecked = daemon.client(parameter_validation=False)  # the server's checks, not boto3's
    code, message = error_of(
        put, logs=logs, group=stream, events=[{"timestamp": t, "message": "m"}] * 10_001
    )
    assert code == "InvalidParameterException"
    assert "Member must have length less than or equal to 10000" in message
    code, message = error_of(put, logs=unchecked, group=stream, events=[])
    assert code == "InvalidParameterException"
    assert "Member must have length greater than or equal to 1" in message
    code, _ = error_of(put, logs=unchecked, group=stream, events=[{"timestamp": t, "message": ""}])
    assert code == "InvalidParameterException"
    code, _ = error_of(
        put, logs=unchecked, group=stream, events=[{"timestamp": -1, "message": "m"}]
    )
    assert code == "InvalidParameterException"
    # Σ(UTF-8 bytes + 26) over the batch: 1,048,576 is the most, one byte more fails
    fits = [{"timestamp": t, "message": "x" * (524_288 - 26)}] * 2
    assert "rejectedLogEventsInfo" not in put(logs, stream, fits)
    over = [fits[0], {"timestamp": t, "message": "x" * (524_288 - 25)}]
    assert error_of(put, logs=logs, group=stream, events=over)[0] == "InvalidParameterException"
    one_big = [{"timestamp": t, "message": "é" * 524_288}]  # 1 MiB of UTF-8 + 26
    assert error_of(put, logs=logs, group=stream, events=one_big)[0] == "InvalidParameterException"
    code, message = error_of(
        put,
        logs=logs,
        group=stream,
        events=[{"timestamp": t, "message": "b"}, {"timestamp": t - 1, "message": "a"}],
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    code, _ = error_of(
        put,
        logs=logs,
        group=stream,
        events=[{"timestamp": t - 25 * HOUR_MS, "message": "a"}, {"timestamp": t, "message": "b"}],
    )
    assert code == "InvalidParameterException"  # spans more than 24 hours
    assert messages(get(logs, stream, startFromHead=True)) == ["x" * (524_288 - 26)] * 2


def test_too_old_and_too_new_events_are_dropped_and_reported(logs: Any, stream: str) -> None:
    t = now_ms()
    reply = put(
        logs,
        stream,
        [
            {"timestamp": t - 15 * DAY_MS, "message": "old"},
            {"timestamp": t - 15 * DAY_MS + 1, "message": "old"},
            {"timestamp": t - 1, "message": "ok"},
            {"timestamp": t, "message": "ok"},
            {"timestamp": t + 3 * HOUR_MS, "message": "new"},
        ],
    )
    assert reply["rejectedLogEventsInfo"] == {
        "tooOldLogEventEndIndex": 2,
        "tooNewLogEventStartIndex": 4,
    }
    assert messages(get(logs, stream, startFromHead=True)) == ["ok", "ok"]
    reply = put(logs, stream, [{"timestamp": t - 20 * DAY_MS, "message": "old"}])
    assert reply["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}


def test_events_older_than_retention_are_expired(logs: Any, stream: str) -> None:
    logs.put_retention_policy(logGroupName=stream, retentionInDays=1)
    t = now_ms()
    reply = put(
        logs,
        stream,
        [{"timestamp": t - 2 * DAY_MS, "message": "expired"}, {"timestamp": t, "message": "kept"}],
    )
    assert reply["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert messages(get(logs, stream, startFromHead=True)) == ["kept"]


def raw_put(daemon: Daemon, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST a PutLogEvents body as is (no boto3 serializer); (status, decoded reply)."""
    request = urllib.request.Request(  # noqa: S310 - our own daemon on 127.0.0.1
        daemon.endpoint + "/",
        data=body,
        method="POST",
        headers={
            "X-Amz-Target": "Logs_20140328.PutLogEvents",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - see above
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_malformed_bodies_and_names_are_refused_and_store_nothing(
    logs: Any, stream: str, daemon: Daemon
) -> None:
    """I-05: invalid JSON, a body over the listener's limit, stream and group names that
    break CloudWatch's patterns or length, on the wire; nothing of them is stored."""
    t = now_ms()
    status, reply = raw_put(daemon, b'{"logGroupName": "' + stream.encode() + b'", "logEv')
    assert (status, reply["__type"]) == (400, "SerializationException")
    wrong_type = {"logGroupName": stream, "logStreamName": "s", "logEvents": {}}
    status, reply = raw_put(daemon, json.dumps(wrong_type).encode())
    assert (status, reply["__type"]) == (400, "SerializationException")
    huge = {  # 9 MiB: past max_body_bytes (8 MiB), refused before it is parsed
        "logGroupName": stream, "logStreamName": "s",
        "logEvents": [{"timestamp": t, "message": "y" * 9_437_184}],
    }  # fmt: skip
    status, reply = raw_put(daemon, json.dumps(huge).encode())
    assert status == 400
    assert reply["__type"] == "SerializationException"
    assert "exceeds the limit" in reply["message"]
    unchecked = daemon.client(parameter_validation=False)
    event = [{"timestamp": t, "message": "m"}]
    for group, name, expected in [
        (stream, "a:b", "Member must satisfy regular expression pattern: [^:*]*"),
        (stream, "a*b", "Member must satisfy regular expression pattern: [^:*]*"),
        (stream, "x" * 513, "Member must have length less than or equal to 512"),
        ("bad group!", "s", "Member must satisfy regular expression pattern"),
        ("g" * 513, "s", "Member must have length less than or equal to 512"),
    ]:
        code, message = error_of(
            unchecked.put_log_events, logGroupName=group, logStreamName=name, logEvents=event
        )
        assert code == "InvalidParameterException", (group, name)
        assert expected in message, message
    assert messages(get(logs, stream, startFromHead=True)) == []
