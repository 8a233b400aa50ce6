"""Subscription filters in the catalog (table `subscription_filters`, migration 4).

One row per (group, filter name): everything PutSubscriptionFilter stores and
DescribeSubscriptionFilters echoes. Rows go with their group (ON DELETE CASCADE).
Blocking SQLite calls: the subscription service runs them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import orjson

from logd.store.catalog import SQLiteCatalog

_COLUMNS = (
    "f.group_id, g.name, f.filter_name, f.filter_pattern, f.destination_arn, f.role_arn, "
    "f.distribution, f.apply_on_transformed_logs, f.field_selection_criteria, "
    "f.emit_system_fields, f.creation_time"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionFilterRecord:
    group_id: int
    group: str
    name: str
    pattern: str
    destination_arn: str
    role_arn: str | None = None
    distribution: str = "ByLogStream"
    apply_on_transformed_logs: bool = False
    field_selection_criteria: str | None = None
    emit_system_fields: tuple[str, ...] | None = None
    creation_time: int = 0


def _record(row: tuple[object, ...]) -> SubscriptionFilterRecord:
    fields = row[9]
    return SubscriptionFilterRecord(
        group_id=int(row[0]),  # type: ignore[call-overload]
        group=str(row[1]),
        name=str(row[2]),
        pattern=str(row[3]),
        destination_arn=str(row[4]),
        role_arn=None if row[5] is None else str(row[5]),
        distribution=str(row[6]),
        apply_on_transformed_logs=bool(row[7]),
        field_selection_criteria=None if row[8] is None else str(row[8]),
        emit_system_fields=None if fields is None else tuple(orjson.loads(str(fields))),
        creation_time=int(row[10]),  # type: ignore[call-overload]
    )


def put_filter(
    catalog: SQLiteCatalog, record: SubscriptionFilterRecord
) -> SubscriptionFilterRecord:
    """Create or replace by (group, name); a replaced row keeps its creation time."""
    fields = None if record.emit_system_fields is None else orjson.dumps(record.emit_system_fields)
    with catalog.transaction() as db:
        old = db.execute(
            "SELECT creation_time FROM subscription_filters WHERE group_id=? AND filter_name=?",
            (record.group_id, record.name),
        ).fetchone()
        created = record.creation_time if old is None else int(old[0])
        db.execute(
            "INSERT OR REPLACE INTO subscription_filters(group_id, filter_name, filter_pattern, "
            "destination_arn, role_arn, distribution, apply_on_transformed_logs, "
            "field_selection_criteria, emit_system_fields, creation_time) "
            "VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                record.group_id,
                record.name,
                record.pattern,
                record.destination_arn,
                record.role_arn,
                record.distribution,
                int(record.apply_on_transformed_logs),
                record.field_selection_criteria,
                None if fields is None else fields.decode(),
                created,
            ),
        )
    return replace(record, creation_time=created)


def list_filters(
    catalog: SQLiteCatalog, group_id: int | None = None
) -> list[SubscriptionFilterRecord]:
    """Every filter (of one group), sorted by group name then filter name."""
    sql = f"SELECT {_COLUMNS} FROM subscription_filters f JOIN groups g ON g.id = f.group_id"  # noqa: S608 - constant columns, values bound
    args: tuple[object, ...] = ()
    if group_id is not None:
        sql += " WHERE f.group_id=?"
        args = (group_id,)
    return [_record(row) for row in catalog.read(sql + " ORDER BY g.name, f.filter_name", args)]


def delete_filter(catalog: SQLiteCatalog, group_id: int, name: str) -> bool:
    """Delete one filter; False if there was none."""
    with catalog.transaction() as db:
        cur = db.execute(
            "DELETE FROM subscription_filters WHERE group_id=? AND filter_name=?", (group_id, name)
        )
        return cur.rowcount > 0
