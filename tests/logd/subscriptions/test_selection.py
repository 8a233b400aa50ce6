"""fieldSelectionCriteria: the documented operators over system fields, errors with the
position for everything else; emitSystemFields: known names and their values."""

from __future__ import annotations

import pytest

from logd.errors import InvalidParameterException
from logd.model import Scope
from logd.subscriptions.selection import (
    check_system_fields,
    compile_selection,
    stream_selector,
    system_field_values,
)

FIELDS = {"@aws.account": "123456789012", "@aws.region": "us-east-1", "@logStream": "web-1"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("   ", True),
        ('@aws.region = "us-east-1"', True),
        ('@aws.region = "eu-west-1"', False),
        ('@aws.region != "eu-west-1"', True),
        ('@aws.region NOT IN ["cn-north-1"]', True),
        ('@aws.region not in ["us-east-1", "cn-north-1"]', False),
        ('@aws.account IN ["123456789012", "987654321098"]', True),
        ("@aws.account IN []", False),
        ("@aws.account NOT IN []", True),
        ('@aws.account = "123456789012" AND @aws.region = "us-east-1"', True),
        ('@aws.account = "123456789012" AND @aws.region = "eu-west-1"', False),
        ('@aws.region = "eu-west-1" OR @logStream = "web-1"', True),
        # AND binds tighter than OR
        ('@logStream = "x" AND @aws.region = "eu-west-1" OR @aws.region = "us-east-1"', True),
        ('@logStream = "x" AND (@aws.region = "eu-west-1" OR @aws.region = "us-east-1")', False),
        ('@logStream IN ["web-1", "web-2"]', True),
        ('@logStream = "we\\"b"', False),
    ],
)
def test_criteria_evaluate(text: str, expected: bool) -> None:
    assert compile_selection(text).matches(FIELDS) is expected


def test_escapes_in_strings() -> None:
    selection = compile_selection(r'@logStream = "a\"b\\c"')
    assert selection.matches({"@logStream": 'a"b\\c'})
    assert selection.fields == frozenset({"@logStream"})


@pytest.mark.parametrize(
    ("text", "where", "needle"),
    [
        ('$.level = "ERROR"', 1, "filterPattern"),
        ('@message = "x"', 1, "one of @aws.account"),
        ('level = "ERROR"', 1, "one of @aws.account"),
        ('@aws.region == "x"', 14, "a double-quoted string"),
        ("@aws.region = 'x'", 15, "a field, a quoted string"),
        ("@aws.region = us-east-1", 15, "a double-quoted string"),
        ('@aws.region LIKE "x"', 13, "=, !=, IN or NOT IN"),
        ('@aws.region NOT "x"', 17, "IN"),
        ('@aws.region IN "x"', 16, "'['"),
        ('@aws.region IN ["a" "b"]', 21, "',' or ']'"),
        ('@aws.region IN ["a",]', 21, "a double-quoted string"),
        ('(@aws.region = "a"', 19, "')'"),
        ('@aws.region = "a" @aws.account = "b"', 19, "AND, OR or the end"),
        ('@aws.region = "a" AND', 22, "one of @aws.account"),
        ('NOT @aws.region = "a"', 1, "one of @aws.account"),
        ('@aws.region = "unterminated', 15, "a field, a quoted string"),
    ],
)
def test_anything_else_is_refused_with_its_position(text: str, where: int, needle: str) -> None:
    with pytest.raises(InvalidParameterException) as info:
        compile_selection(text)
    assert f"character {where}" in str(info.value)
    assert needle in str(info.value)


def test_stream_selector_tests_each_stream_once_and_all_is_none() -> None:
    scope = Scope()
    assert stream_selector(compile_selection(""), scope) is None
    select = stream_selector(compile_selection('@logStream IN ["a", "b"]'), scope)
    assert select is not None
    assert [select(s) for s in ("a", "c", "b", "a")] == [True, False, True, True]
    region = stream_selector(compile_selection(f'@aws.region = "{scope.region}"'), scope)
    assert region is not None
    assert region("anything")


def test_emit_system_fields() -> None:
    assert check_system_fields(None) is None
    assert check_system_fields([]) == ()
    assert check_system_fields(["@aws.region", "@aws.account", "@aws.region"]) == (
        "@aws.region",
        "@aws.account",
    )
    with pytest.raises(InvalidParameterException, match="@logStream"):
        check_system_fields(["@logStream"])
    scope = Scope(region="eu-west-1", account="111122223333")
    assert system_field_values(["@source.log", "@aws.region", "@aws.account"], scope, "app") == (
        ("@source.log", "111122223333:app"),
        ("@aws.region", "eu-west-1"),
        ("@aws.account", "111122223333"),
    )
