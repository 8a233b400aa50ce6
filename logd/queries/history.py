"""Query history and saved query definitions, in the catalog's SQLite file.

The tables come from the catalog's migration list (`logd/store/catalog_sql.py`, number
3); this module opens its own connection on the same file (WAL journal, busy timeout), so
it never reaches into the catalog object. Blocking: callers use a thread. Every change
is one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

#: statuses of a query as GetQueryResults / DescribeQueries show them
SCHEDULED, RUNNING, COMPLETE, FAILED, CANCELLED, TIMEOUT = (
    "Scheduled",
    "Running",
    "Complete",
    "Failed",
    "Cancelled",
    "Timeout",
)
STATUSES = (SCHEDULED, RUNNING, COMPLETE, FAILED, CANCELLED, TIMEOUT, "Unknown")
ACTIVE = (SCHEDULED, RUNNING)


@dataclass(frozen=True, slots=True)
class QueryInfo:
    """One row of the history (DescribeQueries' `QueryInfo`)."""

    ordinal: int
    query_id: str
    query_string: str
    log_groups: tuple[str, ...]
    status: str
    create_time: int
    start_ms: int
    end_ms: int
    duration_ms: int = 0
    records_matched: float = 0.0
    records_scanned: float = 0.0
    bytes_scanned: float = 0.0
    message: str = ""

    def to_wire(self) -> dict[str, object]:
        out: dict[str, object] = {
            "queryLanguage": "CWLI",
            "queryId": self.query_id,
            "queryString": self.query_string,
            "status": self.status,
            "createTime": self.create_time,
            "queryDuration": self.duration_ms,
            "bytesScanned": self.bytes_scanned,
        }
        if self.log_groups:
            out["logGroupName"] = self.log_groups[0]
        return out


@dataclass(frozen=True, slots=True)
class QueryParameter:
    name: str
    default_value: str | None = None
    description: str | None = None

    def to_wire(self) -> dict[str, str]:
        out = {"name": self.name}
        if self.default_value is not None:
            out["defaultValue"] = self.default_value
        if self.description is not None:
            out["description"] = self.description
        return out


@dataclass(frozen=True, slots=True)
class QueryDefinition:
    id: str
    name: str
    query_string: str
    log_group_names: tuple[str, ...]
    parameters: tuple[QueryParameter, ...]
    last_modified: int

    def to_wire(self) -> dict[str, object]:
        return {
            "queryLanguage": "CWLI",
            "queryDefinitionId": self.id,
            "name": self.name,
            "queryString": self.query_string,
            "lastModified": self.last_modified,
            "logGroupNames": list(self.log_group_names),
            "parameters": [p.to_wire() for p in self.parameters],
        }


_INFO_COLUMNS = (
    "ordinal, query_id, query_string, log_groups, status, create_time, start_ms, end_ms, "
    "duration_ms, records_matched, records_scanned, bytes_scanned, message"
)
_DEF_COLUMNS = "id, name, query_string, log_group_names, parameters, last_modified"


def _info(row: Sequence[Any]) -> QueryInfo:
    return QueryInfo(
        ordinal=int(row[0]),
        query_id=str(row[1]),
        query_string=str(row[2]),
        log_groups=tuple(orjson.loads(str(row[3]))),
        status=str(row[4]),
        create_time=int(row[5]),
        start_ms=int(row[6]),
        end_ms=int(row[7]),
        duration_ms=int(row[8]),
        records_matched=float(row[9]),
        records_scanned=float(row[10]),
        bytes_scanned=float(row[11]),
        message=str(row[12]),
    )


def _definition(row: Sequence[Any]) -> QueryDefinition:
    params = tuple(
        QueryParameter(p["name"], p.get("defaultValue"), p.get("description"))
        for p in orjson.loads(str(row[4]))
    )
    return QueryDefinition(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        tuple(orjson.loads(str(row[3]))),
        params,
        int(row[5]),
    )


class QueryHistory:
    """The `queries` and `query_definitions` tables (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        found = self._db.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='queries'"
        ).fetchone()
        if found[0] == 0:
            self._db.close()
            raise RuntimeError(f"{path}: the catalog has no query tables (open the store first)")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # -- queries -------------------------------------------------------------------
    def add_query(
        self,
        query_id: str,
        query_string: str,
        groups: Sequence[str],
        *,
        create_time: int,
        start_ms: int,
        end_ms: int,
        keep: int,
    ) -> None:
        """Record a new `Scheduled` query; forget the oldest beyond `keep`."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO queries (query_id, query_string, log_groups, status, create_time, "
                "start_ms, end_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    query_id,
                    query_string,
                    orjson.dumps(list(groups)).decode(),
                    SCHEDULED,
                    create_time,
                    start_ms,
                    end_ms,
                ),
            )
            db.execute(
                "DELETE FROM queries WHERE ordinal <= "
                "(SELECT MAX(ordinal) FROM queries) - ? AND status NOT IN (?, ?)",
                (keep, *ACTIVE),
            )

    def update_query(
        self,
        query_id: str,
        status: str,
        *,
        duration_ms: int = 0,
        statistics: tuple[float, float, float] = (0.0, 0.0, 0.0),
        message: str = "",
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE queries SET status=?, duration_ms=?, records_matched=?, "
                "records_scanned=?, bytes_scanned=?, message=? WHERE query_id=?",
                (status, duration_ms, *statistics, message, query_id),
            )

    def get_query(self, query_id: str) -> QueryInfo | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_INFO_COLUMNS} FROM queries WHERE query_id=?",  # noqa: S608 - constant columns
                (query_id,),
            ).fetchone()
        return _info(row) if row is not None else None

    def list_queries(
        self,
        *,
        group: str | None = None,
        status: str | None = None,
        before: int | None = None,
        limit: int = 1000,
    ) -> list[QueryInfo]:
        """Newest first; `before` is an exclusive ordinal (the previous page's last)."""
        where: list[str] = ["1=1"]
        args: list[object] = []
        if group is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(log_groups) WHERE value = ?)")
            args.append(group)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if before is not None:
            where.append("ordinal < ?")
            args.append(before)
        sql = (
            f"SELECT {_INFO_COLUMNS} FROM queries WHERE {' AND '.join(where)} "  # noqa: S608 - constant fragments, values bound
            "ORDER BY ordinal DESC LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_info(r) for r in rows]

    def abandon_active(self, message: str) -> int:
        """Queries left `Scheduled`/`Running` by a previous process become `Failed`."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE queries SET status=?, message=? WHERE status IN (?, ?)",
                (FAILED, message, *ACTIVE),
            )
            return cur.rowcount

    # -- definitions -----------------------------------------------------------------
    def put_definition(
        self,
        definition: QueryDefinition,
        *,
        create: bool,
        client_token: str | None,
        max_definitions: int,
    ) -> str:
        """Create (`create`) or replace a definition; returns its id.

        A create whose `client_token` was seen returns the earlier definition's id.
        Raises KeyError (replace of an unknown id) or OverflowError (over the quota).
        """
        params = orjson.dumps([p.to_wire() for p in definition.parameters]).decode()
        groups = orjson.dumps(list(definition.log_group_names)).decode()
        with self._tx() as db:
            if create:
                if client_token is not None:
                    row = db.execute(
                        "SELECT id FROM query_definitions WHERE client_token=?", (client_token,)
                    ).fetchone()
                    if row is not None:
                        return str(row[0])
                (count,) = db.execute("SELECT COUNT(*) FROM query_definitions").fetchone()
                if count >= max_definitions:
                    raise OverflowError(max_definitions)
                db.execute(
                    f"INSERT INTO query_definitions ({_DEF_COLUMNS}, client_token) "  # noqa: S608 - constant columns
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        definition.id,
                        definition.name,
                        definition.query_string,
                        groups,
                        params,
                        definition.last_modified,
                        client_token,
                    ),
                )
                return definition.id
            cur = db.execute(
                "UPDATE query_definitions SET name=?, query_string=?, log_group_names=?, "
                "parameters=?, last_modified=? WHERE id=?",
                (
                    definition.name,
                    definition.query_string,
                    groups,
                    params,
                    definition.last_modified,
                    definition.id,
                ),
            )
            if cur.rowcount == 0:
                raise KeyError(definition.id)
            return definition.id

    def list_definitions(
        self, *, prefix: str | None = None, after: tuple[str, str] | None = None, limit: int = 1000
    ) -> list[QueryDefinition]:
        """By (name, id); `after` is the exclusive (name, id) of the previous page's last."""
        where: list[str] = ["1=1"]
        args: list[object] = []
        if prefix:
            where.append("substr(name, 1, ?) = ?")
            args += [len(prefix), prefix]
        if after is not None:
            where.append("(name > ? OR (name = ? AND id > ?))")
            args += [after[0], after[0], after[1]]
        sql = (
            f"SELECT {_DEF_COLUMNS} FROM query_definitions WHERE {' AND '.join(where)} "  # noqa: S608 - constant fragments, values bound
            "ORDER BY name, id LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_definition(r) for r in rows]

    def delete_definition(self, definition_id: str) -> bool:
        with self._tx() as db:
            cur = db.execute("DELETE FROM query_definitions WHERE id=?", (definition_id,))
            return cur.rowcount > 0
