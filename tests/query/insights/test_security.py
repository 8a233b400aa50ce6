"""I-07 and I-08: hostile queries get an error or a harmless answer and touch nothing."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb
import pytest

from query import InsightsQueryError, QueryExecutionError, run_query
from tests.query.insights.support import ndjson_source


def run(text: str) -> list[list[tuple[str, str]]]:
    source = ndjson_source("app-logs")
    return run_query(text, source, groups=[], start_ms=0, end_ms=2**62).rows


def count() -> str:
    return run("stats count(*) as n")[0][0][1]


@pytest.mark.parametrize(
    "text",
    [
        'filter user = "\'; DROP TABLE events; --"',
        "filter user = '\\'; DROP TABLE events; --'",
        'filter @message like "\') OR 1=1; --"',
        "filter @message like /'\\); DROP TABLE events; --/",
        "fields \"x'); COPY (SELECT 1) TO '/tmp/logd-pwned.csv'; --\" as y | limit 1",
        'fields `a"; DROP TABLE events; --` | limit 1',
        "filter `x') OR 1=1 --` = 1",
        'parse @message "\'; DROP TABLE events; *" as x | limit 1',
        'filter ispresent(`"group"`) | limit 1',
        "filter `$j` = 1 or `$base` = 1 or `f.status` = 1",
    ],
)
def test_sql_injection_through_values_and_names_is_inert(text: str, tmp_path: Path) -> None:
    rows = run(text)
    assert all(value != "1" for row in rows for field, value in row if field == "Count")
    assert not Path("/tmp/logd-pwned.csv").exists()
    assert count() == "10"


def test_injected_string_comes_back_verbatim() -> None:
    rows = run('fields "it\'s; DROP TABLE x; --" as s | limit 1')
    assert rows[0][0] == ("s", "it's; DROP TABLE x; --")


@pytest.mark.parametrize(
    "text",
    [
        "fields read_csv('/etc/passwd')",
        'fields read_csv_auto("/etc/passwd") as x',
        "stats count(*) by read_text('/etc/passwd')",
        "filter glob('/*')",
        "fields getenv('HOME') as h",
        "fields current_setting('enable_external_access') as s",
    ],
)
def test_sql_function_names_are_unknown_functions(text: str) -> None:
    with pytest.raises(InsightsQueryError, match="unknown function"):
        run(text)


@pytest.mark.parametrize(
    "text",
    [
        "fields x | COPY events TO '/tmp/logd-pwned.csv'",
        "fields x; COPY events TO '/tmp/logd-pwned.csv'",
        "ATTACH '/tmp/logd-pwned.db'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "INSTALL httpfs",
    ],
)
def test_sql_statements_do_not_parse(text: str) -> None:
    with pytest.raises(InsightsQueryError):
        run(text)
    assert not Path("/tmp/logd-pwned.csv").exists()
    assert not Path("/tmp/logd-pwned.db").exists()


class FileReadingSource:
    """A careless source: a view over a file it did not allow-list."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def bind(
        self, con: duckdb.DuckDBPyConnection, *, groups: Sequence[str], start_ms: int, end_ms: int
    ) -> str:
        con.execute(
            "CREATE VIEW events AS SELECT 'g' AS \"group\", 's' AS stream, "  # noqa: S608 - a test path
            "0 AS timestamp, 0 AS ingestion_time, 1 AS seq, column0 AS message "
            f"FROM read_csv('{self.path}', header=false, columns={{'column0': 'VARCHAR'}})"
        )
        return "events"


def test_files_are_out_of_reach_once_the_query_runs(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT\n")
    source = FileReadingSource(secret)
    with pytest.raises(QueryExecutionError) as info:
        run_query("fields @message", source, groups=[], start_ms=0, end_ms=1)
    message = str(info.value)
    assert "TOP-SECRET" not in message
    assert "read_csv" not in message
    assert "SELECT" not in message
    assert str(secret) not in message


def test_redos_pattern_over_a_megabyte_is_linear(tmp_path: Path) -> None:
    data = tmp_path / "big.ndjson"
    data.write_text("a" * 1_000_000 + "b\n" + "a" * 1_000_000 + "\n")
    source_cls = ndjson_source("app-logs").__class__
    source = source_cls(data, read_time_ms=1)
    result = run_query(
        "filter @message like /(a+)+$/ | stats count(*) as n",
        source,
        groups=[],
        start_ms=0,
        end_ms=2**62,
    )
    assert result.rows == [[("n", "1")]]


def test_a_query_of_ten_thousand_characters_runs() -> None:
    text = "filter " + " or ".join(f'user = "u{i:05d}"' for i in range(700)) + ' or user = "cid"'
    assert len(text) > 10_000
    assert run(text + " | fields user")[0][0] == ("user", "cid")


def test_a_thousand_nested_parentheses_is_an_error_not_a_crash() -> None:
    deep = "(" * 1000 + "1" + ")" * 1000
    assert run(f"fields {deep} as x | limit 1")[0][0] == ("x", "1")
    negations = "not " * 1000 + "ispresent(user)"
    with pytest.raises(InsightsQueryError, match="nested deeper"):
        run(f"filter {negations}")
