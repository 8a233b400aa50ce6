"""Hypothesis: random patterns and messages. The engine fails only with FilterPatternError,
and the predicate and the SQL form agree on every message both JSON parsers read alike."""

from __future__ import annotations

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from query import FilterPatternError
from query.filterpattern import compile

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- messages ----------------------------------------------------------------------------

KEYS = ["a", "b", "l", "o", "n", "k.d", "x", "0"]
LEAVES = st.sampled_from(
    ["x", "xy", "ax", "1", "", "é", "a b", 1, 0, -1, 2.5, 10.0, 1e20, True, False, None]
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=8,
)
JSON_MESSAGES = st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=5).map(
    lambda d: orjson.dumps(d).decode()
)
WORDS = [
    "x",
    "ERROR",
    "WARN",
    "[a b]",
    '"q r"',
    "1",
    "2.5",
    "-",
    "404",
    "abc",
    "é",
    "[",
    '"',
    "x=1",
]
TEXT_MESSAGES = st.lists(st.sampled_from(WORDS), min_size=0, max_size=7).map(" ".join)
RANDOM_MESSAGES = st.text(alphabet=' {}[]":,.-0123456789abcxERROé\t\n\\', max_size=30)
MESSAGES = st.lists(JSON_MESSAGES | TEXT_MESSAGES | RANDOM_MESSAGES, min_size=1, max_size=8)

# -- patterns ----------------------------------------------------------------------------

FRAGMENTS = [
    "{", "}", "[", "]", "(", ")", "$.a", "$.b[0]", "$.o.*", "$.l[*]", "$.['k.d']", "$", " = ",
    " != ", " > ", " <= ", " && ", " || ", "...", ",", '"q"', '"', "%a.c%", "%[0-9]+%", "%",
    "*", "5", "-2.5e3", " IS NULL", " IS TRUE", " NOT EXISTS", "ERROR", "?WARN", "-DEBUG",
    "w1", " ", "\\", "é", "x*", "{,2}",
]  # fmt: skip
RANDOM_PATTERNS = st.lists(
    st.sampled_from(FRAGMENTS) | st.text(alphabet=" {}[]()$.*%\"'?-=!<>&|,_:aAz09é\\", max_size=3),
    max_size=14,
).map("".join)

SELECTORS = [
    "$.a",
    "$.b",
    "$.a.b",
    "$.l[0]",
    "$.l[1]",
    "$.l[*]",
    "$.*",
    "$.o.*",
    "$.['k.d']",
    "$.n",
    "$.0",
]
JSON_VALUES_TEXT = ['"x"', "x", "x*", "*x", "*x*", "a*", "1", "2.5", "-1", "1e1", "0", "%x%",
                    "%^[0-9]+$%", '"1"', "true", '""', '"é"', "1*"]  # fmt: skip
OPS = ["=", "!=", "<", "<=", ">", ">="]


@st.composite
def json_condition(draw: st.DrawFn) -> str:
    sel = draw(st.sampled_from(SELECTORS))
    kind = draw(st.sampled_from(["cmp", "cmp", "cmp", "is", "not", "star"]))
    if kind == "is":
        return f"{sel} IS {draw(st.sampled_from(['NULL', 'TRUE', 'FALSE']))}"
    if kind == "not":
        return f"{sel} NOT EXISTS"
    if kind == "star":
        return f"{sel} = *"
    value = draw(st.sampled_from(JSON_VALUES_TEXT))
    numeric = value.lstrip("-").replace(".", "").replace("e", "").isdigit()
    op = draw(st.sampled_from(OPS if numeric else ["=", "!="]))
    return f"{sel} {op} {value}"


JSON_EXPR = st.recursive(
    json_condition(),
    lambda inner: st.tuples(inner, st.sampled_from(["&&", "||"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=3,
)
JSON_PATTERNS = JSON_EXPR.map(lambda e: "{ " + e + " }")

SPACE_VALUES = ["x", "x*", "*x*", "1", "404", "2.5", "-", "%^[0-9]+$%", '"a b"', "ERROR", "4*", "*"]


@st.composite
def space_pattern(draw: st.DrawFn) -> str:
    slots = []
    for i in range(draw(st.integers(0, 4))):
        choice = draw(st.sampled_from(["name", "cond", "cond", "empty"]))
        if choice == "empty":
            slots.append("")
        elif choice == "name":
            slots.append(f"f{i}")
        else:
            value = draw(st.sampled_from(SPACE_VALUES))
            numeric = value.replace(".", "").isdigit()
            op = draw(st.sampled_from(OPS if numeric else ["=", "!="]))
            cond = f"f{i} {op} {value}"
            if draw(st.booleans()):
                joiner = draw(st.sampled_from(["&&", "||"]))
                cond += f" {joiner} f{i} != {draw(st.sampled_from(SPACE_VALUES))}"
            slots.append(cond)
    if draw(st.booleans()):
        slots.insert(draw(st.integers(0, len(slots))), "...")
    return "[" + ", ".join(slots) + "]"


TERM_PATTERNS = st.lists(
    st.sampled_from(
        ["ERROR", "WARN", "?ERROR", "?x", "-x", "-WARN", '"a b"', '-"q r"', "1", "é", '""']
    ),
    min_size=1,
    max_size=4,
).map(" ".join)
REGEX_PATTERNS = st.sampled_from(["%ERR|WARN%", "%^x%", "%[0-9]{2,}%", "%a b%", "%\\d+$%", "%.%"])
VALID_PATTERNS = JSON_PATTERNS | space_pattern() | TERM_PATTERNS | REGEX_PATTERNS


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def via_sql(
    con: duckdb.DuckDBPyConnection, pattern_sql: str, params: list[object], messages: list[str]
):
    k = len(params) + 1
    query = (
        f"SELECT {pattern_sql} FROM (SELECT unnest(l) AS message, generate_subscripts(l, 1) AS i "  # noqa: S608 - ours
        f"FROM (SELECT ${k}::VARCHAR[] AS l)) ORDER BY i"
    )
    return [r[0] for r in con.execute(query, [*params, messages]).fetchall()]


def same_json_reading(con: duckdb.DuckDBPyConnection, message: str) -> bool:
    """orjson and DuckDB agree on whether the message is JSON (the documented exception)."""
    try:
        orjson.loads(message)
        strict = True
    except orjson.JSONDecodeError:
        strict = False
    (lenient,) = con.execute("SELECT json_valid(?)", [message]).fetchone()  # type: ignore[misc]
    return strict == bool(lenient)


@FUZZ
@given(pattern=RANDOM_PATTERNS, messages=MESSAGES)
def test_random_patterns_fail_only_with_filter_pattern_error(
    con, pattern: str, messages: list[str]
) -> None:
    try:
        compiled = compile(pattern)
    except FilterPatternError as err:
        fault = err  # checked below, outside the handler
    else:
        fault = None
    if fault is not None:
        assert 0 <= fault.offset <= len(pattern)
        assert fault.caret()
        return
    single = [compiled.matches(m) for m in messages]
    assert compiled.match_batch(messages) == single
    for m in messages:
        compiled.fields(m)
    sql, params = compiled.sql()
    answers = via_sql(con, sql, params, messages)
    assert all(a in (True, False) for a in answers)


@FUZZ
@given(pattern=VALID_PATTERNS, messages=MESSAGES)
def test_sql_and_predicate_agree(con, pattern: str, messages: list[str]) -> None:
    try:
        compiled = compile(pattern)
    except FilterPatternError:  # the generator can exceed the regex and wildcard quotas
        assume(False)
        return
    messages = [m for m in messages if same_json_reading(con, m)]
    sql, params = compiled.sql()
    expected = [compiled.matches(m) for m in messages]
    assert compiled.match_batch(messages) == expected
    assert via_sql(con, sql, params, messages) == expected
