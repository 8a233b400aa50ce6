"""Every case of shared/conformance/filter_patterns.json, through every form of the engine:
the one-event predicate, the batch predicate (with and without a shared JSON cache), the
EventView path, TestMetricFilter's extractedValues and the DuckDB SQL form."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from query import FilterPatternError, QueryError
from query.filterpattern import EventView, JsonCache, compile

from .cases import CASES, case_params, needs_cases

MATCH_CASES = [c for c in CASES if "error" not in c]
ERROR_CASES = [c for c in CASES if "error" in c]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def sql_answers(con: duckdb.DuckDBPyConnection, pattern: str, messages: list[str]) -> list[bool]:
    """The SQL form over an in-memory table of the messages, in the table's order."""
    con.execute("CREATE OR REPLACE TEMP TABLE events (i INTEGER, message VARCHAR)")
    con.executemany("INSERT INTO events VALUES (?, ?)", list(enumerate(messages)))
    sql, params = compile(pattern).sql("message")
    query = f"SELECT i, {sql} FROM events ORDER BY i"  # noqa: S608 - our SQL; values are parameters
    rows = con.execute(query, params).fetchall()
    return [r[1] for r in rows]


@needs_cases
@pytest.mark.parametrize("case", case_params(MATCH_CASES))
def test_predicate_forms_give_the_documented_answer(case: dict[str, Any]) -> None:
    pattern = compile(case["pattern"])
    message = case["message"]
    assert pattern.matches(message) is case["match"]
    assert pattern.matches(EventView(message)) is case["match"]
    assert pattern.match_batch([message]) == [case["match"]]
    batch = [message, "unrelated text", message]
    cache = JsonCache(batch)
    assert pattern.match_batch(batch, cache) == [
        case["match"],
        pattern.matches(batch[1]),
        case["match"],
    ]
    assert (pattern.test(message) is not None) is case["match"]
    if "extracted" in case:
        assert pattern.test(message) == case["extracted"]
        assert pattern.fields(message) == case["extracted"]


@needs_cases
@pytest.mark.parametrize("case", case_params(MATCH_CASES))
def test_sql_form_gives_the_documented_answer(con, case: dict[str, Any]) -> None:
    assert sql_answers(con, case["pattern"], [case["message"]]) == [case["match"]]


@needs_cases
def test_every_pattern_agrees_with_sql_on_every_message(con) -> None:
    """Cross product: each conformance pattern against every conformance message."""
    patterns = sorted({c["pattern"] for c in MATCH_CASES})
    messages = sorted({c["message"] for c in MATCH_CASES})
    con.execute("CREATE OR REPLACE TEMP TABLE events (i INTEGER, message VARCHAR)")
    con.executemany("INSERT INTO events VALUES (?, ?)", list(enumerate(messages)))
    disagreements = []
    for text in patterns:
        pattern = compile(text)
        sql, params = pattern.sql("message")
        query = f"SELECT {sql} FROM events ORDER BY i"  # noqa: S608 - our SQL; values bound
        rows = con.execute(query, params).fetchall()
        via_sql = [r[0] for r in rows]
        via_python = pattern.match_batch(messages)
        one_by_one = [pattern.matches(m) for m in messages]
        for m, s, p, o in zip(messages, via_sql, via_python, one_by_one, strict=True):
            if not (s is p is o):
                disagreements.append((text, m, s, p, o))
    assert disagreements == []
    assert len(patterns) > 50  # the file really was used


@needs_cases
@pytest.mark.parametrize("case", case_params(ERROR_CASES))
def test_refused_patterns_raise_filter_pattern_error(case: dict[str, Any]) -> None:
    assert case["error"] == "InvalidParameterException"
    with pytest.raises(FilterPatternError) as info:
        compile(case["pattern"])
    err = info.value
    assert isinstance(err, QueryError)
    assert 0 <= err.offset <= len(case["pattern"])
    assert err.line == 1
    assert err.column == err.offset + 1
    assert err.headline().startswith(f"Invalid filter pattern at column {err.column}: ")
