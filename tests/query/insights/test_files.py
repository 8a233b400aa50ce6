"""NdjsonFileSource and ParquetFileSource: query/ runs over plain files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from query import NdjsonFileSource, ParquetFileSource, run_query
from query.files import parse_time


def test_lines_mode_takes_json_timestamps_and_read_time(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(
        '{"timestamp": "2024-05-01T10:00:00.250Z", "level": "INFO", "n": 1}\n'
        "plain text line\n"
        "\n"
        '{"timestamp": 1714557601000, "level": "WARN", "n": 2}\n'
    )
    source = NdjsonFileSource(log, group="g", read_time_ms=1714560000000)
    result = run_query(
        "fields @timestamp, @logStream, level | sort @timestamp asc",
        source,
        groups=["g"],
        start_ms=0,
        end_ms=2**62,
    )
    rows = [dict(r) for r in result.rows]
    assert [r["@timestamp"] for r in rows] == [
        "2024-05-01 10:00:00.250",
        "2024-05-01 10:00:01.000",
        "2024-05-01 10:40:00.000",
    ]
    assert {r["@logStream"] for r in rows} == {"app.log"}
    assert [r.get("level") for r in rows] == ["INFO", "WARN", None]


def test_events_mode_groups_and_time_range(tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    with path.open("w") as out:
        for i, group in enumerate(["a", "b", "a", "a"]):
            event = {"group": group, "timestamp": 1000 * i, "message": f"m{i}", "stream": "s"}
            out.write(json.dumps(event) + "\n")
    source = NdjsonFileSource(path, format="events")
    result = run_query(
        "fields @message, @log | sort @timestamp asc",
        source,
        groups=["a"],
        start_ms=1000,
        end_ms=3000,
    )
    assert [dict(r)["@message"] for r in result.rows] == ["m2"]
    assert result.statistics.records_scanned == 1


def test_parse_time_forms() -> None:
    assert parse_time("1970-01-01T00:00:01Z") == 1000
    assert parse_time("1970-01-01T00:00:01.5+00:00") == 1500
    assert parse_time(1714557600) == 1714557600000
    assert parse_time(1714557600123) == 1714557600123
    assert parse_time("yesterday") is None
    assert parse_time(True) is None


def test_parquet_source_reads_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "seg.parquet"
    table = pa.table(
        {
            "group": ["g", "g", "h"],
            "stream": ["s", "s", "s"],
            "timestamp": [1, 2, 3],
            "ingestion_time": [1, 2, 3],
            "seq": [1, 2, 1],
            "message": ['{"status": 500}', '{"status": 200}', '{"status": 503}'],
            "f.status": pa.array([500, 200, 503], pa.int64()),
        }
    )
    pq.write_table(table, path, compression="zstd")
    result = run_query(
        "filter status >= 500 | stats count(*) as n",
        ParquetFileSource([path]),
        groups=["g"],
        start_ms=0,
        end_ms=10,
    )
    assert result.rows == [[("n", "1")]]
