"""The catalog's metric-filter rows (migration 3): create-or-replace, delete, list, count.

The store keeps them as data only: the pattern text and the transformation as its wire
JSON. Compiling and evaluating them is `logd.metricfilters`' job (a layer above). Rows of
a deleted group go with it (``ON DELETE CASCADE``).

Listing order is CloudWatch's for DescribeMetricFilters: by filter name (byte-wise), then
by group name, so a page without a group still has one stable order; `after` is the
exclusive ``(filter name, group name)`` of the last row returned.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logd.errors import LimitExceededException, ResourceNotFoundException

if TYPE_CHECKING:
    import threading

    from logd.store.catalog import GroupRecord


@dataclass(frozen=True, slots=True)
class MetricFilterRecord:
    group: str
    name: str
    pattern: str
    transformation: str  # JSON text of the one metricTransformations item
    creation_time: int
    options: str = "{}"  # JSON of the other members echoed back (applyOnTransformedLogs...)


_COLUMNS = "g.name, f.name, f.pattern, f.transformation, f.creation_time, f.options"


class MetricFilterRows:
    """Mixed into `SQLiteCatalog`; uses its connection, lock and group cache.

    Counts per group are cached (loaded on first use, kept by put and delete), so
    DescribeLogGroups' `metricFilterCount` costs a dict lookup.
    """

    _mf_counts: dict[int, int] | None = None

    if TYPE_CHECKING:  # provided by SQLiteCatalog
        _db: sqlite3.Connection
        _lock: threading.RLock

        def _tx(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def require_group(self, name: str) -> GroupRecord: ...

    def put_metric_filter(
        self,
        group: str,
        name: str,
        *,
        pattern: str,
        transformation: str,
        metric_name: str,
        metric_namespace: str,
        now_ms: int,
        max_per_group: int,
        options: str = "{}",
    ) -> MetricFilterRecord:
        """Create or replace (group, name); LimitExceededException past `max_per_group`."""
        with self._tx() as db:
            record = self.require_group(group)
            exists = db.execute(
                "SELECT 1 FROM metric_filters WHERE group_id=? AND name=?", (record.id, name)
            ).fetchone()
            if exists is None:
                (count,) = db.execute(
                    "SELECT count(*) FROM metric_filters WHERE group_id=?", (record.id,)
                ).fetchone()
                if count >= max_per_group:
                    raise LimitExceededException("Resource limit exceeded.")
                self._counts()  # loaded before the row exists: the +1 below is right
            db.execute(
                "INSERT OR REPLACE INTO metric_filters(group_id, name, pattern, transformation, "
                "metric_name, metric_namespace, creation_time, options) VALUES (?,?,?,?,?,?,?,?)",
                (
                    *(record.id, name, pattern, transformation),
                    *(metric_name, metric_namespace, now_ms, options),
                ),
            )
            if exists is None:
                counts = self._counts()
                counts[record.id] = counts.get(record.id, 0) + 1
        return MetricFilterRecord(group, name, pattern, transformation, now_ms, options)

    def delete_metric_filter(self, group: str, name: str) -> None:
        with self._tx() as db:
            record = self.require_group(group)
            counts = self._counts()  # loaded before the row goes: the -1 below is right
            cur = db.execute(
                "DELETE FROM metric_filters WHERE group_id=? AND name=?", (record.id, name)
            )
            if not cur.rowcount:
                raise ResourceNotFoundException("The specified metric filter does not exist.")
            counts[record.id] = counts.get(record.id, 1) - 1

    def list_metric_filters(
        self,
        *,
        group: str | None = None,
        prefix: str | None = None,
        metric: tuple[str, str] | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[MetricFilterRecord]:
        """Rows by (filter name, group name); `metric` = (metricName, metricNamespace)."""
        sql = (
            f"SELECT {_COLUMNS} FROM metric_filters f JOIN groups g ON g.id = f.group_id "  # noqa: S608 - constant column list
            "WHERE 1=1"
        )
        args: list[object] = []
        if group is not None:
            sql += " AND f.group_id=?"
            args.append(self.require_group(group).id)
        if prefix:
            sql += " AND substr(f.name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if metric is not None:
            sql += " AND f.metric_name=? AND f.metric_namespace=?"
            args += list(metric)
        if after is not None:
            sql += " AND (f.name, g.name) > (?, ?)"
            args += list(after)
        sql += " ORDER BY f.name, g.name LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [MetricFilterRecord(*row) for row in rows]

    def all_metric_filters(self) -> Iterator[MetricFilterRecord]:
        """Every row (startup: the engine loads them)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM metric_filters f "  # noqa: S608 - constant column list
                "JOIN groups g ON g.id = f.group_id ORDER BY g.name, f.name"
            ).fetchall()
        for row in rows:
            yield MetricFilterRecord(*row)

    def metric_filter_count(self, group_id: int) -> int:
        """DescribeLogGroups' `metricFilterCount` (no SQL: cached)."""
        with self._lock:
            return self._counts().get(group_id, 0)

    def _counts(self) -> dict[int, int]:
        if self._mf_counts is None:
            rows = self._db.execute(
                "SELECT group_id, count(*) FROM metric_filters GROUP BY group_id"
            ).fetchall()
            self._mf_counts = {int(g): int(n) for g, n in rows}
        return self._mf_counts
