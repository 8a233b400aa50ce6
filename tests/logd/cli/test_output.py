"""Output formats and time parsing of the client subcommands."""

from __future__ import annotations

import csv
import io
import json

import pytest

from logd.cli import get, output, put

ROWS = [{"name": "a", "n": 1, "msg": 'say "hi", ok'}, {"name": "bb", "n": 22, "msg": "x"}]


def render(fmt: str) -> str:
    out = io.StringIO()
    output.write(ROWS, ("name", "n", "msg"), fmt, out, raw_column="msg")
    return out.getvalue()


def test_formats() -> None:
    assert render("table").splitlines()[0].split() == ["NAME", "N", "MSG"]
    assert render("table").splitlines()[2].startswith("bb    22")
    assert [json.loads(x) for x in render("jsonl").splitlines()] == ROWS
    assert json.loads(render("json")) == ROWS
    parsed = list(csv.reader(io.StringIO(render("csv"))))
    assert parsed[0] == ["name", "n", "msg"]
    assert parsed[1] == ["a", "1", 'say "hi", ok']
    assert render("csv").endswith("\r\n")
    assert render("raw") == 'say "hi", ok\nx\n'


def test_piped_output_defaults_to_jsonl() -> None:
    assert output.default_format(io.StringIO()) == "jsonl"


def test_time_parsing() -> None:
    assert get.parse_time("2024-01-02") == 1704153600000
    assert get.parse_time("2024-01-02 00:00:01") == 1704153601000
    assert get.parse_time("2024-01-02T01:00:00+01:00") == 1704153600000
    assert get.parse_time("1704153600") == 1704153600000
    assert get.parse_time("1704153600000") == 1704153600000
    assert get.parse_since("2h", 10_000_000) == 10_000_000 - 7_200_000
    with pytest.raises(ValueError, match="duration"):
        get.parse_since("soon", 0)


def test_put_batches_respect_putlogevents_limits() -> None:
    lines = [f"line {i}\n" for i in range(25_000)]
    sizes = [len(b) for b in put.batches(iter(lines))]
    assert sizes == [10_000, 10_000, 5_000]
    big = ["x" * 500_000 + "\n"] * 5
    assert [len(b) for b in put.batches(iter(big))] == [2, 2, 1]
