"""Retention policies and tags through boto3 against a real `logd serve`
(logs-api.md §7.11, §7.12), both the ARN forms and the legacy by-name forms."""

from __future__ import annotations

from typing import Any

import pytest

from tests.logd.api.conftest import error_of


def retention_of(logs: Any, group: str) -> int | None:
    (found,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    value: int | None = found.get("retentionInDays")
    return value


def test_put_replace_and_delete_retention(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique)
    assert retention_of(logs, unique) is None
    logs.put_retention_policy(logGroupName=unique, retentionInDays=7)
    assert retention_of(logs, unique) == 7
    logs.put_retention_policy(logGroupName=unique, retentionInDays=3653)
    assert retention_of(logs, unique) == 3653
    logs.delete_retention_policy(logGroupName=unique)
    assert retention_of(logs, unique) is None
    logs.delete_retention_policy(logGroupName=unique)  # none set: still fine


@pytest.mark.parametrize("days", [0, 2, 4000, -1])
def test_retention_outside_the_allowed_values(logs: Any, unique: str, days: int) -> None:
    logs.create_log_group(logGroupName=unique)
    code, message = error_of(logs.put_retention_policy, logGroupName=unique, retentionInDays=days)
    assert code == "InvalidParameterException"
    assert f"Value '{days}' at 'retentionInDays'" in message
    assert retention_of(logs, unique) is None


def test_retention_of_a_missing_group(logs: Any, unique: str) -> None:
    for call, extra in (
        (logs.put_retention_policy, {"retentionInDays": 1}),
        (logs.delete_retention_policy, {}),
    ):
        code, _ = error_of(call, logGroupName=unique, **extra)
        assert code == "ResourceNotFoundException"


def test_tags_by_arn(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique, tags={"team": "a"})
    (group,) = logs.describe_log_groups(logGroupNamePrefix=unique)["logGroups"]
    arn = group["logGroupArn"]
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2", "team": "b"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2", "team": "b"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a", "absent"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2", "team": "b"}
    logs.untag_resource(resourceArn=arn, tagKeys=["b", "team"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {}


def test_tags_by_name_legacy(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique)
    assert logs.list_tags_log_group(logGroupName=unique)["tags"] == {}
    logs.tag_log_group(logGroupName=unique, tags={"c": "3", "d": "4"})
    logs.untag_log_group(logGroupName=unique, tags=["d"])
    assert logs.list_tags_log_group(logGroupName=unique)["tags"] == {"c": "3"}
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{unique}"
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}


def test_tag_errors(logs: Any, unique: str) -> None:
    logs.create_log_group(logGroupName=unique, tags={"k00": "v"})
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{unique}"
    fifty = {f"k{i:02d}": "v" for i in range(1, 50)}
    logs.tag_resource(resourceArn=arn, tags=fifty)  # 50 in all: allowed
    with pytest.raises(logs.exceptions.TooManyTagsException) as info:
        logs.tag_resource(resourceArn=arn, tags={"one-more": "v"})
    assert info.value.response["resourceName"] == arn
    assert len(logs.list_tags_for_resource(resourceArn=arn)["tags"]) == 50
    code, _ = error_of(logs.tag_log_group, logGroupName=unique, tags={"aws:x": "v"})
    assert code == "InvalidParameterException"
    missing = arn + "-missing"
    for call, extra in (
        (logs.tag_resource, {"tags": {"a": "b"}}),
        (logs.untag_resource, {"tagKeys": ["a"]}),
        (logs.list_tags_for_resource, {}),
    ):
        assert error_of(call, resourceArn=missing, **extra)[0] == "ResourceNotFoundException"
    other_region = arn.replace("us-east-1", "eu-west-1")
    assert error_of(logs.list_tags_for_resource, resourceArn=other_region)[0] == (
        "ResourceNotFoundException"
    )
    code, _ = error_of(logs.list_tags_for_resource, resourceArn="arn:aws:s3:::bucket")
    assert code == "InvalidParameterException"
    assert error_of(logs.list_tags_log_group, logGroupName=unique + "-missing")[0] == (
        "ResourceNotFoundException"
    )
