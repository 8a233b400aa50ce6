"""Hypothesis: the parser fails only with QueryError; filters agree with a plain Python
evaluation of the same filter over the same events (the reference's §4 semantics)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from query import QueryError, parse_query, run_query
from query.insights.execute import format_number
from tests.query.insights import golden
from tests.query.insights.support import ndjson_source


def check_parse(text: str) -> None:
    """parse_query returns or raises QueryError with a position; anything else fails."""
    error: QueryError | None = None
    try:
        parse_query(text)
    except QueryError as exc:
        error = exc
    if error is not None:
        assert error.line >= 1
        assert error.column >= 1


TOKENS = [
    "fields",
    "filter",
    "stats",
    "sort",
    "limit",
    "parse",
    "dedup",
    "display",
    "unmask",
    "filterIndex",
    "SOURCE",
    "logGroups",
    "pattern",
    "diff",
    "unnest",
    "into",
    "as",
    "by",
    "and",
    "or",
    "not",
    "in",
    "like",
    "asc",
    "desc",
    "any",
    "|",
    ",",
    "(",
    ")",
    "[",
    "]",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    ".",
    ":",
    "count(*)",
    "sum",
    "bin",
    "5m",
    "0m",
    "1mo",
    "@timestamp",
    "@message",
    "user",
    "`a b`",
    "`",
    '"s"',
    "'q'",
    '"',
    "/re/",
    "/(?<n>x)/",
    "/(/",
    "12",
    "3.5",
    "1e3",
    "#c\n",
    "\n",
    "ispresent",
    "pct",
    "nosuch",
    "x.y",
    "tags[0]",
]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parser_fails_only_with_query_error_on_text(text: str) -> None:
    check_parse(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join))
def test_parser_fails_only_with_query_error_on_token_soup(text: str) -> None:
    check_parse(text)


# --- filters against a Python model -----------------------------------------------------

EVENTS = [json.loads(line) for line in (golden.DATA / "app-logs.ndjson").read_text().splitlines()]
NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
FIELDS = ["status", "latency", "user", "level", "path", "ip", "nothing"]


def fields_of(event: dict[str, Any]) -> dict[str, Any]:
    try:
        parsed = json.loads(event["message"])
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return format_number(float(value))
    return str(value)


def as_number(value: Any) -> float | None:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and NUMBER.fullmatch(value):
        return float(value)
    return None


def compare(op: str, a: Any, b: Any) -> bool | None:
    if a is None or b is None:
        return None
    x, y = as_number(a), as_number(b)
    if x is not None and y is not None:
        left, right = x, y
    else:
        left, right = text_of(a), text_of(b)  # type: ignore[assignment]
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def not3(a: bool | None) -> bool | None:
    return None if a is None else not a


def and3(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def or3(a: bool | None, b: bool | None) -> bool | None:
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


literals = st.one_of(
    st.integers(-5, 1300).map(lambda n: (str(n), n)),
    st.sampled_from(["200", "7.5", "ann", "bob", "INFO", "/pay", "Eve", "", "10.0.0.5"]).map(
        lambda s: (json.dumps(s), s)
    ),
)


@st.composite
def atoms(draw: st.DrawFn) -> tuple[str, Any]:
    field = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(["cmp", "like", "in", "present"]))
    if kind == "cmp":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        text, value = draw(literals)
        return f"{field} {op} {text}", lambda f: compare(op, f.get(field), value)
    if kind == "like":
        sub = draw(st.sampled_from(["a", "pay", "0", "INFO", "/", "1.", "zz"]))
        negated = draw(st.booleans())

        def like(f: dict[str, Any]) -> bool | None:
            v = f.get(field)
            hit = None if v is None else sub in text_of(v)
            return not3(hit) if negated else hit

        return f'{field} {"not " if negated else ""}like "{sub}"', like
    if kind == "in":
        items = draw(st.lists(literals, max_size=3))
        negated = draw(st.booleans())

        def member(f: dict[str, Any]) -> bool | None:
            v = f.get(field)
            if v is None:
                return None
            result: bool | None = False
            for _, value in items:
                result = or3(result, compare("=", v, value))
            return not3(result) if negated else result

        listed = ", ".join(t for t, _ in items)
        return f"{field} {'not ' if negated else ''}in [{listed}]", member
    return f"ispresent({field})", lambda f: f.get(field) is not None


def combine(children: st.SearchStrategy[tuple[str, Any]]) -> st.SearchStrategy[tuple[str, Any]]:
    def build(op: str, a: tuple[str, Any], b: tuple[str, Any]) -> tuple[str, Any]:
        if op == "not":
            return f"not ({a[0]})", lambda f: not3(a[1](f))
        fn = and3 if op == "and" else or3
        return f"({a[0]}) {op} ({b[0]})", lambda f: fn(a[1](f), b[1](f))

    return st.builds(build, st.sampled_from(["and", "or", "not"]), children, children)


filters = st.recursive(atoms(), combine, max_leaves=6)


@pytest.mark.filterwarnings("error")
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filters)
def test_filters_agree_with_python(case: tuple[str, Any]) -> None:
    text, predicate = case
    expected = sorted(e["timestamp"] for e in EVENTS if predicate(fields_of(e)) is True)
    result = run_query(
        f"filter {text} | fields toMillis(@timestamp) as t",
        ndjson_source("app-logs"),
        groups=[],
        start_ms=0,
        end_ms=2**62,
    )
    got = sorted(int(dict(row)["t"]) for row in result.rows)
    assert got == expected, text
