"""FilterPattern's API beyond matching: metric values, extractedValues, the shared JSON cache,
the SQL form's parameters, and logd's choices where the reference leaves room."""

from __future__ import annotations

import itertools

import duckdb
import pytest

import query
from query import EventView, FilterPattern, FilterPatternError, JsonCache, compile_filter_pattern
from query.filterpattern import compile

APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534'


def test_public_names() -> None:
    assert query.compile_filter_pattern is compile_filter_pattern
    assert isinstance(compile_filter_pattern("ERROR"), FilterPattern)
    assert compile("ERROR") == compile("ERROR")
    assert hash(compile("x")) == hash(compile("x"))
    assert repr(compile("x")) == "FilterPattern('x')"


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("", "all"),
        ("  ", "all"),
        ("ERROR", "terms"),
        ("%a%", "regex"),
        ("{ $.a = 1 }", "json"),
        ("[a]", "space"),
    ],
)
def test_family(text: str, family: str) -> None:
    assert compile(text).family == family


def test_json_metric_values() -> None:
    pattern = compile('{ $.latency = * && $.svc = "api" }')
    message = (
        '{"latency": 250, "svc": "api", "host": {"name": "h1"}, "ok": true, "n": null, "l": [1.5]}'
    )
    assert pattern.matches(message)
    assert pattern.extract(message, "$.latency") == 250.0
    assert pattern.extract(message, "$.svc") == "api"
    assert pattern.extract(message, "$.host.name") == "h1"
    assert pattern.extract(message, "$.l[0]") == 1.5
    assert pattern.extract(message, "$.ok") == "true"
    assert pattern.extract(message, "$.n") is None
    assert pattern.extract(message, "$.host") is None
    assert pattern.extract(message, "$.missing") is None
    assert pattern.extract("not json", "$.latency") is None
    assert pattern.fields(message) == {}
    for bad in ("latency", "$.a[*]", "$.*", "$latency", "$.a b"):
        with pytest.raises(FilterPatternError):
            pattern.check_selector(bad)


def test_space_metric_values() -> None:
    pattern = compile("[ip, user, username, timestamp, request, status_code, bytes]")
    assert pattern.extract(APACHE, "$bytes") == "1534"
    assert pattern.extract(APACHE, "$timestamp") == "10/Oct/2000:13:25:15 -0700"
    assert pattern.extract(APACHE, "$7") is None  # every field is named here
    assert pattern.extract("too few fields", "$bytes") is None
    rest = compile("[..., status_code, bytes]")
    assert rest.extract(APACHE, "$1") == "127.0.0.1"
    assert rest.extract(APACHE, "$status_code") == "200"
    for bad in ("$nope", "bytes", "$0", "$.bytes"):
        with pytest.raises(FilterPatternError):
            pattern.check_selector(bad)


def test_term_patterns_have_no_fields() -> None:
    with pytest.raises(FilterPatternError, match="no fields"):
        compile("ERROR").check_selector("$.latency")
    with pytest.raises(FilterPatternError):
        compile("%ERR%").extract("ERR", "$1")


def test_test_reports_none_for_a_miss() -> None:
    pattern = compile("[..., status_code = 500, size]")
    assert pattern.test(APACHE) is None
    assert pattern.fields(APACHE) == {}
    assert compile("[]").test("a b") == {"$1": "a", "$2": "b"}


def test_one_json_parse_per_message_across_filters() -> None:
    messages = ['{"level": "ERROR", "n": 5}', '{"level": "INFO", "n": 9}', "plain ERROR text"]
    filters = [
        compile('{ $.level = "ERROR" }'),
        compile("{ $.n > 1 }"),
        compile("{ $.n NOT EXISTS }"),
    ]
    unparsed = JsonCache(["x"]).values[0]
    cache = JsonCache(messages)
    answers, slots = [], []
    for f in filters:
        answers.append(f.match_batch(messages, cache))
        slots.append(list(cache.values))
    assert answers == [[True, False, False], [True, True, False], [False, False, False]]
    # a slot, once filled, keeps its object: no later filter parses that message again
    assert slots[0][0] == {"level": "ERROR", "n": 5}
    assert slots[0][1:] == [unparsed, unparsed]  # no "ERROR" or `"level"`: not parsed
    for before, after in itertools.pairwise(slots):
        assert all(a is unparsed or a is b for a, b in zip(before, after, strict=True))
    assert unparsed not in slots[-1]
    with pytest.raises(ValueError, match="another batch"):
        filters[0].match_batch(list(messages), cache)


def test_event_view_parses_once() -> None:
    view = EventView('{"a": 1}')
    assert compile("{ $.a = 1 }").matches(view)
    first = view.json
    assert compile("{ $.a > 0 }").matches(view)
    assert view.json is first
    assert compile("a").matches(view)


@pytest.mark.parametrize(
    ("pattern", "message", "match"),
    [
        ("-DEBUG", "INFO only", True),  # only exclusions: none of them occurs
        ("-DEBUG", "DEBUG here", False),
        ("ERROR - WARN", "WARN - ERROR", True),  # a lone '-' is the plain term '-'
        ("ERROR - WARN", "ERROR x WARN", False),
        ('"a \\"b\\""', 'x a "b" y', True),  # escaped quote inside a phrase
        ('-""', "anything", False),  # excluding the empty phrase excludes everything
        ("%a{,2}b%", "xaab", True),  # {,n} means {0,n}
        ("%^a{,2}b$%", "aaab", False),
        ("%\\x28%", "f(x)", True),
        ("{ $.a = Ev*ent }", '{"a": "Ev*ent"}', True),  # a middle '*' is literal in JSON
        ("{ $.a = Ev*ent }", '{"a": "Event"}', False),
        ('{ $.a = "x*" }', '{"a": "xy"}', False),  # quoted values have no wildcards
        ("{ $.code = 4* }", '{"code": 404}', True),  # wildcard on a number: its JSON text
        ("{ $.code = 400 }", '{"code": "400"}', False),
        ('{ $.code = "400" }', '{"code": 400}', False),
        ("{ $.x != 1 }", "{}", False),  # a missing path satisfies no comparison
        ("{ $.a = * }", '{"a": null}', False),
        ("{ $.x NOT EXISTS }", "[1, 2]", True),
        ("{ $.0 = 1 }", "[1]", False),
        ("[a, b = x*y]", "1 xzzy", True),  # space-delimited: '*' anywhere
        ("[a, b != 5]", "1 -", True),  # != number on a non-number
        ("[a, b]", "one two three", False),  # counts must match without '...'
        ("[a, b]", "[unterminated field", False),
        ("[a]", "[unterminated field", True),
        ('[a = "x y"]', '"x y"', True),
        ("{ $.a = 1 ||\n $.b = 2 }", '{"b": 2}', True),
    ],
)
def test_logd_choices(pattern: str, message: str, match: bool) -> None:
    compiled = compile(pattern)
    assert compiled.matches(message) is match
    sql, params = compiled.sql()
    with duckdb.connect() as con:
        query = f"SELECT {sql} FROM (SELECT ${len(params) + 1} AS message)"  # noqa: S608 - ours
        assert con.execute(query, [*params, message]).fetchone() == (match,)


def test_sql_binds_every_user_value() -> None:
    evil = "x'); DROP TABLE t; --"
    texts = [f'"{evil}"', f'{{ $.a = "{evil}" }}', f'[a = "{evil}"]', "{ $.['it''s'] = 1 }"]
    with duckdb.connect() as con:
        for text in texts:
            sql, params = compile(text).sql("message")
            assert "DROP" not in sql
            assert "it''s" not in sql
            query = f"SELECT {sql} FROM (SELECT ${len(params) + 1} AS message)"  # noqa: S608 - ours
            assert con.execute(query, [*params, evil]).fetchone() == (compile(text).matches(evil),)
    sql, params = compile("{ $.['a'] = 1 }").sql('weird "col"')
    assert '"weird ""col"""' in sql
    assert sorted(map(str, params)) == ['"a"', '$."a"', "1.0"]
    with pytest.raises(ValueError, match="empty"):
        compile("x").sql("")


@pytest.mark.parametrize(
    ("text", "uses"),
    [
        ("", False),
        ("ERROR -DEBUG", False),
        ("%a+%", True),
        ('{ $.a = "%x%" }', False),  # quoted: a literal string, not a regex
        ("{ $.a = %x% }", True),
        ("{ $.a = 1 || ($.b != %^y% && $.c = 2) }", True),
        ("{ $.a = x* }", False),
        ("[a, b = %z%, ...]", True),
        ("[a, b = z* || b = %q%]", True),
        ("[a, b = 2*]", False),
    ],
)
def test_uses_regex(text: str, uses: bool) -> None:
    assert compile(text).uses_regex is uses
