"""Event sources over plain files, so `query/` runs without a daemon.

- `NdjsonFileSource`: one log file, one event per line. `format="lines"` (the default)
  takes each line as a message; a JSON line's `timestamp` member (ISO 8601, or epoch
  seconds/milliseconds) is its time, any other line gets the read time. `format="events"`
  reads CloudWatch-style event objects (`timestamp`, `message`, `logStreamName` or
  `stream`, `ingestionTime`, optional `group` and `seq`), as `filter-log-events` prints.
- `ParquetFileSource`: Parquet files with the event columns (and typed `f.<path>`
  columns), as the store seals them; read in place by DuckDB.

Both bind before the engine disables file access: the NDJSON file is loaded into an Arrow
table; the Parquet files are allow-listed (`allowed_paths`) for DuckDB.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
EVENT_COLUMNS = ("group", "stream", "timestamp", "ingestion_time", "seq", "message")
_SCHEMA = pa.schema(
    [
        ("group", pa.string()),
        ("stream", pa.string()),
        ("timestamp", pa.int64()),
        ("ingestion_time", pa.int64()),
        ("seq", pa.int64()),
        ("message", pa.string()),
    ]
)


def parse_time(value: Any, *, numbers_are_ms: bool = False) -> int | None:
    """Epoch ms of an ISO 8601 string or an epoch number (seconds if below 1e11, unless
    `numbers_are_ms`, as in CloudWatch event objects)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value if numbers_are_ms or abs(value) >= 1e11 else value * 1000)
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)
    return None


class NdjsonFileSource:
    """One log file, one event per line (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        group: str = "file",
        stream: str | None = None,
        format: Literal["lines", "events"] = "lines",
        read_time_ms: int | None = None,
        timestamp_key: str = "timestamp",
    ) -> None:
        self.path = Path(path)
        self.group = group
        self.stream = stream or self.path.name
        self.format = format
        self.read_time_ms = read_time_ms
        self.timestamp_key = timestamp_key

    def table(self) -> pa.Table:
        """All events of the file as an Arrow table (the event columns)."""
        read_time = self.read_time_ms if self.read_time_ms is not None else int(time.time() * 1000)
        columns: dict[str, list[Any]] = {name: [] for name in EVENT_COLUMNS}
        seqs: dict[str, int] = {}
        with self.path.open("rb") as handle:
            for raw in handle:
                line = raw.rstrip(b"\r\n")
                if not line.strip():
                    continue
                if self.format == "events":
                    event = orjson.loads(line)
                    group = str(event.get("group", self.group))
                    stream = str(event.get("logStreamName", event.get("stream", self.stream)))
                    message = str(event["message"])
                    stamp = parse_time(event.get("timestamp"), numbers_are_ms=True)
                    ingested = parse_time(event.get("ingestionTime"), numbers_are_ms=True)
                    seq = event.get("seq")
                else:
                    group, stream = self.group, self.stream
                    message = line.decode("utf-8", "replace")
                    stamp, ingested, seq = self._line_time(line), read_time, None
                seqs[group] = seqs.get(group, 0) + 1
                columns["group"].append(group)
                columns["stream"].append(stream)
                columns["timestamp"].append(stamp if stamp is not None else read_time)
                columns["ingestion_time"].append(ingested if ingested is not None else read_time)
                columns["seq"].append(int(seq) if seq is not None else seqs[group])
                columns["message"].append(message)
        return pa.table(columns, schema=_SCHEMA)

    def _line_time(self, line: bytes) -> int | None:
        if not line.lstrip().startswith(b"{"):
            return None
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return parse_time(event.get(self.timestamp_key)) if isinstance(event, dict) else None

    def bind(
        self, con: duckdb.DuckDBPyConnection, *, groups: Sequence[str], start_ms: int, end_ms: int
    ) -> str:
        table = self.table()
        keep = (
            pc.is_in(table["group"], value_set=pa.array(list(groups), pa.string()))
            if groups
            else pa.array([True] * table.num_rows)
        )
        in_range = pc.and_(
            pc.greater_equal(table["timestamp"], start_ms),
            pc.less(table["timestamp"], end_ms),
        )
        con.register("events", table.filter(pc.and_(keep, in_range)))
        return "events"


class ParquetFileSource:
    """Parquet files with the event columns (plus typed `f.<path>` columns)."""

    def __init__(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.paths = [str(Path(p).resolve()) for p in paths]

    def bind(
        self, con: duckdb.DuckDBPyConnection, *, groups: Sequence[str], start_ms: int, end_ms: int
    ) -> str:
        con.execute("SET allowed_paths = ?", [self.paths])
        files = "[" + ", ".join(_lit(p) for p in self.paths) + "]"
        where = f"timestamp >= {int(start_ms)} AND timestamp < {int(end_ms)}"
        if groups:
            where += ' AND "group" IN (' + ", ".join(_lit(g) for g in groups) + ")"
        view = f"SELECT * FROM read_parquet({files}) WHERE {where}"  # noqa: S608 - quoted by _lit
        con.execute(f"CREATE VIEW events AS {view}")
        return "events"


def _lit(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL in a path or group name")
    return "'" + value.replace("'", "''") + "'"
