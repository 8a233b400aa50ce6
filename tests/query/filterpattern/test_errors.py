"""A refused pattern raises FilterPatternError pointing at the fault (column = offset + 1)."""

from __future__ import annotations

import pickle

import pytest

from query import FilterPatternError, QueryError
from query.filterpattern import MAX_PATTERN_LENGTH, compile

# (pattern, 1-based column of the fault, words the message must contain)
FAULTS = [
    ("{ $.a = }", 9, "expected a value after '='"),
    ("[a, b = ]", 9, "expected a value after '='"),
    ("{ $.a == 1 }", 8, "expected a value after '='"),
    ("{ $.a = 1 && }", 14, "selector"),
    ("{ $.a = 1", 10, "ends too early"),
    ("{ ($.a = 1 }", 12, "expected ')'"),
    ("{ $.a = 1 } x", 13, "after the end"),
    ("{ $.a = 1 }}", 12, "after the end"),
    ('{ $.a = "unterminated }', 9, "unterminated string"),
    ("{ $.a IS MAYBE }", 10, "NULL"),
    ("{ $.a IS NOT NULL }", 10, "IS NOT is not supported"),
    ("{ $.SomeObject EXISTS }", 16, "NOT"),
    ("{ $.users[x] = 1 }", 11, "number or *"),
    ("{ $. = 1 }", 5, "member name"),
    ("{ $ = 1 }", 4, "after '$'"),
    ("{ $[0] = 1 }", 4, "first step"),
    ("{ $.a < x }", 9, "expected a number after '<'"),
    ("{ $.a != * }", 10, "'*'"),
    ("{ $.a.*.b.* = 1 }", 3, "one wildcard"),
    ("{ $.a = %x% && $.b = %y% && $.c = %z% }", 35, "2 regular expressions"),
    ("{ $.a.* = 1 && $.b.* = 1 && $.c.* = 1 && $.d.* = 1 }", 42, "3 wildcards"),
    ("[a, b = 1 && c = 2]", 14, "can only test 'b'"),
    ("[..., a, ...]", 10, "only one '...'"),
    ("[a, a]", 5, "named twice"),
    ("[a b]", 4, "found 'b'"),
    ("[a = 1", 7, "ends too early"),
    ('ERROR "x', 7, "unterminated string"),
    ('a"b"', 2, "blank between two terms"),
    ("%abc", 1, "unterminated regex"),
    ("%a% ERROR", 4, "combined with other terms"),
    ("%%", 2, "at least one character"),
    ("%something!%", 11, "'!' is not allowed"),
    ("%(ab)+%", 2, "parentheses"),
    ("%\\(%", 3, "parentheses"),
    ("%café%", 5, "multi-byte"),
    ("%\\q%", 2, "unsupported escape"),
    ("%\\x4%", 2, "two hexadecimal digits"),
    ("%a{2,1}%", 1, "invalid repetition size"),
    ("%a**%", 1, "bad repetition operator"),
]


@pytest.mark.parametrize(("pattern", "column", "words"), FAULTS)
def test_fault_position_and_message(pattern: str, column: int, words: str) -> None:
    with pytest.raises(FilterPatternError) as info:
        compile(pattern)
    err = info.value
    assert (err.column, err.offset, err.position) == (column, column - 1, column - 1)
    assert words in err.message
    assert err.excerpt == pattern
    assert str(err) == f"{err.headline()}\n{pattern}\n{' ' * (column - 1)}^"


def test_length_limit_is_1024_characters() -> None:
    compile("x" * MAX_PATTERN_LENGTH)
    compile('"' + "é" * (MAX_PATTERN_LENGTH - 2) + '"')
    with pytest.raises(FilterPatternError) as info:
        compile("x" * (MAX_PATTERN_LENGTH + 1))
    assert info.value.offset == MAX_PATTERN_LENGTH
    assert "1024" in info.value.message


def test_query_error_contract_shared_with_insights() -> None:
    err = QueryError("unknown function foo", line=2, column=5, excerpt="  | foo(x)")
    assert (err.message, err.line, err.column, err.excerpt) == (
        "unknown function foo",
        2,
        5,
        "  | foo(x)",
    )
    assert err.caret() == "  | foo(x)\n    ^"
    assert str(err) == "line 2, column 5: unknown function foo\n  | foo(x)\n    ^"
    assert QueryError("x", line=1, column=1).caret() == ""
    assert str(QueryError("x", line=1, column=1)) == "line 1, column 1: x"


def test_multi_line_pattern_reports_line_and_column() -> None:
    with pytest.raises(FilterPatternError) as info:
        compile("{ $.a = 1 &&\n  $.b = }")
    err = info.value
    assert (err.line, err.column, err.excerpt) == (2, 9, "  $.b = }")
    assert err.headline().startswith("Invalid filter pattern at line 2, column 9")


def test_errors_survive_pickling() -> None:
    with pytest.raises(FilterPatternError) as info:
        compile("{ $.a = }")
    copy = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own bytes
    assert (copy.message, copy.offset, copy.pattern) == (info.value.message, 8, "{ $.a = }")
    plain = pickle.loads(pickle.dumps(QueryError("m", line=3, column=4, excerpt="e")))  # noqa: S301 - ours
    assert (plain.message, plain.line, plain.column, plain.excerpt) == ("m", 3, 4, "e")
