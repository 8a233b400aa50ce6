"""Value rules: natural order, number and time printing, regex translation, @ptr."""

from __future__ import annotations

import pytest

from query import decode_ptr, run_query
from query.insights.execute import format_number, format_timestamp
from query.insights.regex import RegexError, glob_to_regex, required_literal, translate
from tests.query.insights.support import ndjson_source

DOCUMENTED_ORDER = [
    "!:", "#", "*%04", "0#", "5A", "111A", "2345_", "@", "@_", "A", "A9876fghj", "a12345hfh", "0",
]  # fmt: skip


def sorted_by_engine(values: list[str]) -> list[str]:
    import json
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.ndjson"
        with path.open("w") as out:
            for i, value in enumerate(values):
                event = {"timestamp": i, "message": json.dumps({"v": value})}
                out.write(json.dumps(event) + "\n")
        source = ndjson_source("app-logs").__class__(path, format="events")
        result = run_query("fields v | sort v asc", source, groups=[], start_ms=0, end_ms=2**62)
    return [dict(row)["v"] for row in result.rows]


def test_natural_order_is_the_documented_one() -> None:
    shuffled = DOCUMENTED_ORDER[::-1][3:] + DOCUMENTED_ORDER[::-1][:3]
    assert sorted_by_engine(shuffled) == DOCUMENTED_ORDER


def test_numbers_sort_numerically_after_strings() -> None:
    assert sorted_by_engine(["10", "9", "x", "-1", "2.5"]) == ["x", "-1", "2.5", "9", "10"]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (200.0, "200"),
        (1207.5, "1207.5"),
        (1 / 3, "0.3333333333333333"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e20, "100000000000000000000"),
        (1.5e17, "150000000000000000"),
        (-0.0, "0"),
        (2.5e-7, "2.5e-07"),
        (1e300, "1e+300"),
    ],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


def test_format_timestamp() -> None:
    assert format_timestamp(1714557600123) == "2024-05-01 10:00:00.123"
    assert format_timestamp(0) == "1970-01-01 00:00:00.000"


def test_translate_named_groups_positionally() -> None:
    t = translate(r"(a)(?<x>[(]b)\((?P<y>c)", positional=True)
    assert t.names == ("x", "y")
    assert t.pattern == r"(?:a)(?P<g1>[(]b)\((?P<g2>c)"


def test_translate_rejects_what_re2_cannot_do() -> None:
    for bad in ["(?<=a)b", "(a)\\1", "(", "a{1001}"]:
        with pytest.raises(RegexError):
            translate(bad)


def test_glob_escapes_literal_text() -> None:
    assert glob_to_regex("[*] (*)*") == r"(?s)\[(?P<g1>.*?)\] \((?P<g2>.*?)\)(?P<g3>.*)"


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        (r"retrying \[worker-\d+\]", "retrying [worker-"),
        ("abc|def", None),
        ("(?i)abcdef", None),
        ("ab*cdef", "cdef"),
        (r"(?s)(?P<g1>.*?)rows=(?P<g2>.*?) table=(?P<g3>.*)", " table="),
        (r"ab\x41cd", None),
    ],
)
def test_required_literal(pattern: str, literal: str | None) -> None:
    assert required_literal(pattern) == literal


def test_ptr_names_group_and_sequence() -> None:
    result = run_query(
        'filter user = "cid" | fields @ptr',
        ndjson_source("app-logs"),
        groups=[],
        start_ms=0,
        end_ms=2**62,
    )
    assert decode_ptr(dict(result.rows[0])["@ptr"]) == ("app-logs", 4)
    with pytest.raises(ValueError, match="@ptr"):
        decode_ptr("not base64!")


def test_result_in_cloudwatch_shape() -> None:
    result = run_query(
        'filter user = "cid" | fields user, ip',
        ndjson_source("app-logs"),
        groups=[],
        start_ms=0,
        end_ms=2**62,
    )
    assert result.fields == ("user", "ip", "@ptr")
    (row,) = result.to_cloudwatch()
    assert row[0] == {"field": "user", "value": "cid"}
    assert [cell["field"] for cell in row] == ["user", "@ptr"]
    assert result.statistics.to_cloudwatch() == {
        "recordsMatched": 1.0,
        "recordsScanned": 10.0,
        "bytesScanned": 681.0,
    }
    assert result.truncated is False
