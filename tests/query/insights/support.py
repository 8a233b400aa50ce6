"""Sources for tests: the golden data sets as NDJSON, as Parquet with typed columns, and
a large generated relation (DuckDB `range`, no file) for cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from query import NdjsonFileSource
from tests.query.insights import golden


def ndjson_source(data: str) -> NdjsonFileSource:
    return NdjsonFileSource(golden.DATA / f"{data}.ndjson", format="events")


def _flatten(value: Any, prefix: str, out: dict[str, Any], clashes: set[str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            key = "@" + key if key.startswith("@") and not prefix else key
            _flatten(inner, f"{prefix}.{key}" if prefix else key, out, clashes)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _flatten(inner, f"{prefix}.{index}", out, clashes)
    elif value is not None:
        if prefix in out:
            clashes.add(prefix)
        out[prefix] = value


def _duck_type(values: list[Any]) -> pa.DataType | None:
    kinds = {type(v) for v in values}
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    if kinds == {str}:
        return pa.string()
    return None  # mixed types: no typed column, the engine reads the JSON


def write_typed_parquet(data: str, path: Path) -> None:
    """The data set as the store would seal it: event columns plus typed `f.<path>`."""
    table = ndjson_source(data).table()
    rows: list[dict[str, Any]] = []
    clashes: set[str] = set()
    for message in table["message"].to_pylist():
        flat: dict[str, Any] = {}
        text = message.strip()
        if text.startswith("{"):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                _flatten(parsed, "", flat, clashes)
        rows.append(flat)
    names = sorted({name for row in rows for name in row} - clashes)
    for name in names:
        values = [row.get(name) for row in rows]
        kind = _duck_type([v for v in values if v is not None])
        if kind is not None:
            table = table.append_column(pa.field("f." + name, kind), pa.array(values, kind))
    pq.write_table(table, path, compression="zstd")


class RangeSource:
    """`rows` synthetic events from DuckDB's range(): big, but no file involved."""

    def __init__(self, rows: int) -> None:
        self.rows = rows

    def bind(
        self, con: duckdb.DuckDBPyConnection, *, groups: Sequence[str], start_ms: int, end_ms: int
    ) -> str:
        con.execute(
            "CREATE VIEW events AS SELECT 'big' AS \"group\", 's' AS stream, "  # noqa: S608 - an int
            "i AS timestamp, i AS ingestion_time, i AS seq, "
            "repeat('a', 200) || CAST(i AS VARCHAR) AS message "
            f"FROM range({int(self.rows)}) t(i)"
        )
        return "events"
