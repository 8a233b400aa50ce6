"""Run a query: text -> AST -> check -> plan -> SQL -> DuckDB -> CloudWatch-shaped rows.

`run_query()` blocks; call it in a worker thread. Each run gets its own in-memory DuckDB
connection with capped threads and memory. The source binds its relation first; then the
connection loses all file access (`enable_external_access=false`, no extension loading)
and its configuration is locked, so nothing a query says can read or write a file.
A `QueryHandle` cancels from any thread: `con.interrupt()` stops DuckDB between vectors.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import orjson

from query.insights import parser, plan, sql, udf
from query.insights.check import check
from query.insights.options import InsightsOptions
from query.insights.sqlvalues import MACROS, Kind, ident
from query.source import EventSource

log = logging.getLogger("query.insights")

_EPOCH = datetime.datetime(1970, 1, 1)


class QueryCancelled(Exception):
    """The query was cancelled through its `QueryHandle`."""


class QueryExecutionError(Exception):
    """The query compiled but failed while running (memory limit, ...); no SQL inside."""


@dataclass(frozen=True, slots=True)
class QueryStatistics:
    records_matched: float
    records_scanned: float
    bytes_scanned: float

    def to_cloudwatch(self) -> dict[str, float]:
        """GetQueryResults' `statistics` member."""
        return {
            "recordsMatched": self.records_matched,
            "recordsScanned": self.records_scanned,
            "bytesScanned": self.bytes_scanned,
        }


@dataclass(frozen=True, slots=True)
class QueryResult:
    #: output column names in order (`@ptr` last in non-stats queries)
    fields: tuple[str, ...]
    #: rows as [(field, value), ...]; a null value is left out of its row
    rows: list[list[tuple[str, str]]]
    statistics: QueryStatistics
    #: more rows existed than the row cap (10,000 or StartQuery's limit) let through
    truncated: bool = False

    def to_cloudwatch(self) -> list[list[dict[str, str]]]:
        """GetQueryResults' `results` member."""
        return [[{"field": f, "value": v} for f, v in row] for row in self.rows]


@dataclass(slots=True)
class QueryHandle:
    """Cancels a running query from another thread; CPU is freed within a vector."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _con: duckdb.DuckDBPyConnection | None = None
    _cancelled: bool = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            if self._con is not None:
                self._con.interrupt()

    def _attach(self, con: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if self._cancelled:
                raise QueryCancelled("the query was cancelled")
            self._con = con

    def _check(self) -> None:
        """Between statements: an interrupt only reaches a statement that is running."""
        if self._cancelled:
            raise QueryCancelled("the query was cancelled")

    def _detach(self) -> None:
        with self._lock:
            self._con = None


def decode_ptr(ptr: str) -> tuple[str, int]:
    """(log group, sequence number) of an `@ptr` value, for GetLogRecord.

    Raises ValueError for anything that is not a pointer logd made.
    """
    try:
        group, _, seq = base64.b64decode(ptr, validate=True).decode("utf-8").rpartition("\n")
        return group, int(seq)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a logd @ptr") from None


def format_number(value: float) -> str:
    """Integer-valued: no decimal point; otherwise the shortest round-trip decimal."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text and 1e-6 <= abs(value) < 1e21:
        text = format(Decimal(text), "f")
    return text


def format_timestamp(ms: int) -> str:
    try:
        moment = _EPOCH + datetime.timedelta(milliseconds=int(ms))
    except OverflowError:
        return str(ms)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _format_json(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def format_value(value: Any, kind: Kind) -> str | None:
    """A fetched value as GetQueryResults prints it (None: left out of the row)."""
    if value is None:
        return None
    match kind:
        case Kind.BOOL:
            return "1" if value else "0"
        case Kind.INT:
            return str(int(value))
        case Kind.FLOAT:
            return format_number(float(value))
        case Kind.TS:
            return format_timestamp(int(value))
        case Kind.JSON:
            try:
                return _format_json(orjson.loads(value))
            except orjson.JSONDecodeError:
                return str(value)
    return value if isinstance(value, str) else str(value)


def _prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Helpers in, file access and extension loading out, configuration locked."""
    udf.install(con)
    statements = [f"CREATE OR REPLACE TEMP MACRO {macro}" for macro in MACROS] + [
        "SET TimeZone = 'UTC'",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        "SET enable_external_access = false",
        "SET lock_configuration = true",
    ]
    con.execute(";\n".join(statements))


def run_query(
    text: str,
    source: EventSource,
    *,
    groups: Sequence[str],
    start_ms: int,
    end_ms: int,
    limit: int | None = None,
    account_id: str | None = None,
    options: InsightsOptions | None = None,
    handle: QueryHandle | None = None,
) -> QueryResult:
    """Run an Insights query over `source`'s events of `groups` in [start_ms, end_ms).

    `limit` is StartQuery's: ignored when the query has a `limit` command, else the row
    cap (at most 10,000). Raises `InsightsQueryError` (the query is malformed),
    `QueryCancelled` or `QueryExecutionError`.
    """
    options = options or InsightsOptions()
    options.validate()
    the_plan = plan.build(check(parser.parse(text)))
    cap = plan.MAX_ROWS if the_plan.has_limit else min(limit or plan.MAX_ROWS, plan.MAX_ROWS)
    handle = handle or QueryHandle()
    config: dict[str, str | bool | int | float | list[str]] = {
        "threads": str(options.threads),
        "memory_limit": f"{options.memory_limit_mb}MB",
        "temp_directory": options.temp_directory or "",
    }
    con = duckdb.connect(":memory:", config=config)
    try:
        handle._attach(con)
        relation = source.bind(con, groups=list(groups), start_ms=start_ms, end_ms=end_ms)
        handle._check()
        _prepare(con)
        describe = f"DESCRIBE SELECT * FROM {ident(relation)}"  # noqa: S608 - a quoted name
        described = con.execute(describe).fetchall()
        schema = {str(row[0]): str(row[1]) for row in described}
        compiled = sql.compile_plan(
            the_plan, relation, schema, account_id=account_id, row_cap=cap + 1
        )
        log.debug("compiled query", extra={"sql": compiled.sql})
        handle._check()
        fetched = con.execute(compiled.sql).fetchall()
        handle._check()
        counts = con.execute(compiled.stats_sql).fetchone()
        handle._check()
    except duckdb.InterruptException:
        raise QueryCancelled("the query was cancelled") from None
    except duckdb.OutOfMemoryException:
        raise QueryExecutionError(
            f"the query needs more than its memory limit ({options.memory_limit_mb} MiB)"
        ) from None
    except duckdb.Error as exc:
        if handle.cancelled:
            raise QueryCancelled("the query was cancelled") from None
        log.warning("query failed in DuckDB", extra={"error": str(exc)})
        raise QueryExecutionError("the query failed while running") from None
    finally:
        handle._detach()
        con.close()
    truncated = len(fetched) > cap
    names = [name for name, _ in compiled.columns]
    kinds = [kind for _, kind in compiled.columns]
    rows: list[list[tuple[str, str]]] = []
    for record in fetched[:cap]:
        row = []
        for name, kind, value in zip(names, kinds, record, strict=True):
            printed = format_value(value, kind)
            if printed is not None:
                row.append((name, printed))
        rows.append(row)
    matched, scanned, nbytes = counts if counts is not None else (0, 0, 0)
    statistics = QueryStatistics(float(matched), float(scanned), float(nbytes))
    return QueryResult(tuple(names), rows, statistics, truncated)
