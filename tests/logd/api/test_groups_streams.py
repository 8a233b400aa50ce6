"""Log groups and streams through boto3 against a real `logd serve`: the operations,
their documented errors, and pagination across many pages (logs-api.md §7.1-7.7, §8)."""

from __future__ import annotations

from typing import Any

from tests.logd.api.conftest import error_of, now_ms


def test_create_describe_delete_group(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique, tags={"team": "a"}, kmsKeyId="key-1")
    code, message = error_of(logs.create_log_group, logGroupName=unique)
    assert (code, message) == (
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )
    (group,) = logs.describe_log_groups(logGroupNamePrefix=unique)["logGroups"]
    assert group["logGroupName"] == unique
    assert group["logGroupClass"] == "STANDARD"
    assert group["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{unique}:*"
    assert group["logGroupArn"] == group["arn"][:-2]
    assert group["kmsKeyId"] == "key-1"
    assert "retentionInDays" not in group
    assert abs(group["creationTime"] - now_ms()) < 60_000
    logs.delete_log_group(logGroupName=unique)
    assert logs.describe_log_groups(logGroupNamePrefix=unique)["logGroups"] == []
    code, message = error_of(logs.delete_log_group, logGroupName=unique)
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )


def test_group_name_rules(logs: Any) -> None:
    code, message = error_of(logs.create_log_group, logGroupName="bad:name")
    assert code == "InvalidParameterException"
    assert "logGroupName" in message
    assert error_of(logs.create_log_group, logGroupName="x" * 513)[0] == (
        "InvalidParameterException"
    )
    assert error_of(logs.create_log_group, logGroupName="aws/mine")[0] == (
        "InvalidParameterException"
    )
    code, message = error_of(logs.create_log_group, logGroupName="ok", logGroupClass="GOLD")
    assert code == "InvalidParameterException"
    assert "enum value set" in message
    assert logs.describe_log_groups(logGroupNamePrefix="ok")["logGroups"] == []


def test_deleting_a_group_removes_its_streams_and_events(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique)
    logs.create_log_stream(logGroupName=unique, logStreamName="s")
    logs.put_log_events(
        logGroupName=unique,
        logStreamName="s",
        logEvents=[{"timestamp": now_ms(), "message": "before"}],
    )
    logs.delete_log_group(logGroupName=unique)
    logs.create_log_group(logGroupName=unique)
    assert logs.describe_log_streams(logGroupName=unique)["logStreams"] == []
    logs.create_log_stream(logGroupName=unique, logStreamName="s")
    page = logs.get_log_events(logGroupName=unique, logStreamName="s", startFromHead=True)
    assert page["events"] == []


def test_describe_log_groups_pages_by_name(logs: Any, unique: str) -> None:
    names = [f"{unique}/{i:03d}" for i in range(120)]
    for name in reversed(names):
        logs.create_log_group(logGroupName=name)
    paginator = logs.get_paginator("describe_log_groups")
    pages = list(
        paginator.paginate(logGroupNamePrefix=unique + "/", PaginationConfig={"PageSize": 7})
    )
    assert [g["logGroupName"] for p in pages for g in p["logGroups"]] == names
    assert [len(p["logGroups"]) for p in pages] == [7] * 17 + [1]
    assert "nextToken" not in pages[-1]
    # a page taken while groups come and go neither repeats nor skips a survivor
    first = logs.describe_log_groups(logGroupNamePrefix=unique + "/", limit=10)
    logs.delete_log_group(logGroupName=names[10])
    logs.create_log_group(logGroupName=names[5] + "x")
    rest = logs.describe_log_groups(
        logGroupNamePrefix=unique + "/", limit=50, nextToken=first["nextToken"]
    )
    assert [g["logGroupName"] for g in rest["logGroups"]] == names[11:61]
    code, message = error_of(logs.describe_log_groups, nextToken="not-a-token")
    assert (code, message) == ("InvalidParameterException", "The specified nextToken is invalid.")


def test_describe_log_groups_filters(logs: Any) -> None:
    base = "filters"  # short: ListLogGroups' pattern terms are 3-24 characters
    logs.create_log_group(logGroupName=f"{base}/alpha")
    logs.create_log_group(logGroupName=f"{base}/beta", logGroupClass="INFREQUENT_ACCESS")
    found = logs.describe_log_groups(logGroupNamePattern="ers/bet")
    assert [g["logGroupName"] for g in found["logGroups"]] == [f"{base}/beta"]
    assert set(found["logGroups"][0]) == {"logGroupName", "creationTime", "arn"}
    ia = logs.describe_log_groups(logGroupNamePrefix=base, logGroupClass="INFREQUENT_ACCESS")
    assert [g["logGroupName"] for g in ia["logGroups"]] == [f"{base}/beta"]
    by_id = logs.describe_log_groups(logGroupIdentifiers=[f"{base}/alpha"])
    assert [g["logGroupName"] for g in by_id["logGroups"]] == [f"{base}/alpha"]
    code, _ = error_of(logs.describe_log_groups, logGroupNamePrefix="a", logGroupNamePattern="b")
    assert code == "InvalidParameterException"
    listed = logs.list_log_groups(logGroupNamePattern=f"^{base}/", limit=1)
    assert [g["logGroupName"] for g in listed["logGroups"]] == [f"{base}/alpha"]
    more = logs.list_log_groups(logGroupNamePattern=f"^{base}/", nextToken=listed["nextToken"])
    assert [g["logGroupName"] for g in more["logGroups"]] == [f"{base}/beta"]
    assert "nextToken" not in more
    either = logs.list_log_groups(logGroupNamePattern="zzz|pha")["logGroups"]
    assert [g["logGroupName"] for g in either] == [f"{base}/alpha"]


def test_stream_lifecycle_and_errors(logs: Any, unique: str) -> None:
    code, message = error_of(logs.create_log_stream, logGroupName=unique, logStreamName="s")
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.create_log_group(logGroupName=unique)
    logs.create_log_stream(logGroupName=unique, logStreamName="s")
    code, message = error_of(logs.create_log_stream, logGroupName=unique, logStreamName="s")
    assert (code, message) == (
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
    )
    code, message = error_of(logs.create_log_stream, logGroupName=unique, logStreamName="a:b")
    assert code == "InvalidParameterException"
    assert "[^:*]*" in message
    (stream,) = logs.describe_log_streams(logGroupName=unique)["logStreams"]
    assert stream["logStreamName"] == "s"
    assert stream["arn"].endswith(f":log-group:{unique}:log-stream:s")
    assert stream["storedBytes"] == 0
    assert "firstEventTimestamp" not in stream
    t = now_ms()
    logs.put_log_events(
        logGroupName=unique,
        logStreamName="s",
        logEvents=[{"timestamp": t - 5, "message": "a"}, {"timestamp": t, "message": "b"}],
    )
    (stream,) = logs.describe_log_streams(logGroupIdentifier=unique)["logStreams"]
    assert (stream["firstEventTimestamp"], stream["lastEventTimestamp"]) == (t - 5, t)
    assert stream["uploadSequenceToken"].isdigit()
    logs.delete_log_stream(logGroupName=unique, logStreamName="s")
    assert logs.describe_log_streams(logGroupName=unique)["logStreams"] == []
    logs.create_log_stream(logGroupName=unique, logStreamName="s")  # the old events are gone
    assert logs.get_log_events(logGroupName=unique, logStreamName="s")["events"] == []
    logs.delete_log_stream(logGroupName=unique, logStreamName="s")
    code, message = error_of(logs.delete_log_stream, logGroupName=unique, logStreamName="s")
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    code, _ = error_of(logs.describe_log_streams, logGroupName=unique + "-none")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(logs.describe_log_streams)
    assert code == "InvalidParameterException"
    code, message = error_of(
        logs.describe_log_streams,
        logGroupName=unique,
        logStreamNamePrefix="s",
        orderBy="LastEventTime",
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )


def test_describe_log_streams_pages_in_every_order(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique)
    names = [f"s{i:02d}" for i in range(60)]
    for name in names:
        logs.create_log_stream(logGroupName=unique, logStreamName=name)
    t = now_ms()
    for i, name in enumerate(names[:30]):  # last event times run opposite to names
        logs.put_log_events(
            logGroupName=unique,
            logStreamName=name,
            logEvents=[{"timestamp": t - i, "message": "m"}],
        )
    paginator = logs.get_paginator("describe_log_streams")

    def listed(**kwargs: Any) -> list[str]:
        pages = paginator.paginate(logGroupName=unique, PaginationConfig={"PageSize": 9}, **kwargs)
        return [s["logStreamName"] for p in pages for s in p["logStreams"]]

    assert listed() == names
    assert listed(descending=True) == names[::-1]
    assert listed(logStreamNamePrefix="s1") == names[10:20]
    by_time = names[30:] + names[:30][::-1]  # streams without events first
    assert listed(orderBy="LastEventTime") == by_time
    assert listed(orderBy="LastEventTime", descending=True) == by_time[::-1]
    first = logs.describe_log_streams(logGroupName=unique, limit=5)
    code, message = error_of(
        logs.describe_log_streams,
        logGroupName=unique,
        descending=True,
        nextToken=first["nextToken"],
    )
    assert (code, message) == ("InvalidParameterException", "The specified nextToken is invalid.")
