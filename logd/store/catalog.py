"""The catalog: groups, streams, segments, checkpoints and store state, in SQLite.

`Catalog` is the interface (PostgreSQL can fill it later); `SQLiteCatalog` implements
it. Every change is one transaction. Tables are created by `MIGRATIONS`, applied in
order and recorded in `PRAGMA user_version`; later issues append their tables
(subscription filters, metric filters, export tasks, queries, query definitions) there.

Groups and stream names are cached in memory (every write goes through this object),
so ingest checks existence without touching SQLite. Group ids come from AUTOINCREMENT
and are never reused: segment paths and log records name groups by id.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import re2

from logd.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from logd.model import RETENTION_DAYS, Scope
from logd.store.catalog_metricfilters import MetricFilterRecord, MetricFilterRows
from logd.store.catalog_sql import MIGRATIONS
from logd.store.ingest import name_problems, validation_error

LOG_GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")
OrderBy = Literal["LogStreamName", "LastEventTime"]
StreamKey = str | tuple[int, str]
_TAG_KEY = re2.compile(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$")
_TAG_VALUE = re2.compile(r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$")
MAX_TAGS = 50


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: int
    name: str
    arn: str
    creation_time: int
    retention_days: int | None
    log_group_class: str
    kms_key_id: str | None
    deletion_protection: bool
    stored_bytes: int
    next_seq: int
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamRecord:
    group_id: int
    name: str
    arn: str
    creation_time: int
    first_event_ts: int | None
    last_event_ts: int | None
    last_ingestion_time: int | None


@dataclass(frozen=True, slots=True)
class NewSegment:
    group_id: int
    day: str
    path: str
    min_ts: int
    max_ts: int
    min_seq: int
    max_seq: int
    rows: int
    bytes: int
    stored_bytes: int
    crc32: int
    fields: str = "{}"


@dataclass(frozen=True, slots=True)
class SegmentRecord(NewSegment):
    id: int = 0


@dataclass(frozen=True, slots=True)
class StreamUpdate:
    """What one accepted batch changes on its stream (applied with min/max: idempotent)."""

    group_id: int
    stream: str
    first_ts: int
    last_ts: int
    ingestion_time: int


def stream_sort_key(stream: StreamRecord, order_by: OrderBy) -> StreamKey:
    """The `after` key of `list_streams` for a stream (the API builds tokens from it)."""
    if order_by == "LastEventTime":
        return (stream.last_event_ts if stream.last_event_ts is not None else -1, stream.name)
    return stream.name


class Catalog(Protocol):
    def create_group(
        self,
        name: str,
        *,
        now_ms: int,
        retention_days: int | None = None,
        log_group_class: str = "STANDARD",
        kms_key_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        deletion_protection: bool = False,
    ) -> GroupRecord: ...
    def get_group(self, name: str) -> GroupRecord | None: ...
    def get_group_by_id(self, group_id: int) -> GroupRecord | None: ...
    def require_group(self, name: str) -> GroupRecord: ...
    def live_groups(self) -> dict[int, GroupRecord]: ...
    def list_groups(
        self, *, prefix: str | None = None, after: str | None = None, limit: int = 50
    ) -> list[GroupRecord]: ...
    def delete_group(self, name: str) -> tuple[GroupRecord, list[SegmentRecord]]: ...
    def put_retention(self, name: str, days: int) -> GroupRecord: ...
    def delete_retention(self, name: str) -> GroupRecord: ...
    def tag_group(self, name: str, tags: Mapping[str, str]) -> GroupRecord: ...
    def untag_group(self, name: str, keys: Iterable[str]) -> GroupRecord: ...
    def create_stream(self, group: str, name: str, *, now_ms: int) -> StreamRecord: ...
    def stream_exists(self, group_id: int, name: str) -> bool: ...
    def get_stream(self, group: str, name: str) -> StreamRecord | None: ...
    def delete_stream(self, group: str, name: str, *, below_seq: int | None = None) -> None: ...
    def tombstones(self) -> dict[int, dict[str, int]]: ...
    def clear_tombstone(self, group_id: int, stream: str, below_seq: int) -> None: ...
    def segment_totals(self) -> tuple[int, int]: ...
    def quarantined_count(self) -> int: ...
    def list_streams(
        self,
        group: str,
        *,
        prefix: str | None = None,
        order_by: OrderBy = "LogStreamName",
        descending: bool = False,
        after: StreamKey | None = None,
        limit: int = 50,
    ) -> list[StreamRecord]: ...
    def record_ingest(
        self,
        updates: Sequence[StreamUpdate],
        stored_delta: Mapping[int, int],
        checkpoints: Mapping[str, bytes],
    ) -> None: ...
    def checkpoints(self) -> dict[str, bytes]: ...
    def get_state(self, key: str) -> str | None: ...
    def add_segments(
        self,
        segments: Sequence[NewSegment],
        *,
        state: Mapping[str, str],
        next_seqs: Mapping[int, int],
        stored_delta: Mapping[int, int],
    ) -> tuple[list[SegmentRecord], list[NewSegment]]: ...
    def replace_segments(
        self, old: Sequence[SegmentRecord], new: Sequence[NewSegment], stored_delta: int
    ) -> list[SegmentRecord] | None: ...
    def delete_segments(self, segments: Sequence[SegmentRecord]) -> None: ...
    def quarantine_segment(self, segment: SegmentRecord, reason: str, now_ms: int) -> None: ...
    def list_segments(
        self, group_ids: Sequence[int], start_ms: int, end_ms: int
    ) -> list[SegmentRecord]: ...
    def all_segments(self) -> list[SegmentRecord]: ...
    def quarantined(self) -> list[tuple[str, str]]: ...
    def set_stored_bytes(self, values: Mapping[int, int]) -> None: ...
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
    ) -> MetricFilterRecord: ...
    def delete_metric_filter(self, group: str, name: str) -> None: ...
    def list_metric_filters(
        self,
        *,
        group: str | None = None,
        prefix: str | None = None,
        metric: tuple[str, str] | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[MetricFilterRecord]: ...
    def all_metric_filters(self) -> Iterator[MetricFilterRecord]: ...
    def metric_filter_count(self, group_id: int) -> int: ...
    def close(self) -> None: ...


_SEGMENT_COLUMNS = (
    "group_id, day, path, min_ts, max_ts, min_seq, max_seq, rows, bytes, stored_bytes, crc32, "
    "fields"
)


class SQLiteCatalog(MetricFilterRows):
    """The SQLite catalog (see the module docstring)."""

    def __init__(self, path: Path, *, scope: Scope | None = None, max_groups: int = 1_000_000):
        self.scope = scope or Scope()
        self._max_groups = max_groups
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()
        self._groups: dict[str, GroupRecord] = {}
        self._by_id: dict[int, GroupRecord] = {}
        self._streams: set[tuple[int, str]] = set()
        for row in self._db.execute("SELECT id FROM groups"):
            self._reload_group(row[0])
        self._streams = {(g, n) for g, n in self._db.execute("SELECT group_id, name FROM streams")}
        self._tombstones: dict[int, dict[str, int]] = {}
        for gid, stream, below in self._db.execute("SELECT * FROM stream_tombstones"):
            self._tombstones.setdefault(gid, {})[stream] = below

    # -- plumbing ------------------------------------------------------------
    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._tx():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number}")

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction for tables other modules own (`with catalog.transaction()
        as db:`); the catalog's lock is held throughout."""
        return self._tx()

    def read(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read query, under the catalog's lock."""
        with self._lock:
            return list(self._db.execute(sql, args))

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

    def _reload_group(self, group_id: int) -> GroupRecord | None:
        row = self._db.execute(
            "SELECT id, name, creation_time, retention_days, log_group_class, kms_key_id, "
            "deletion_protection, stored_bytes, next_seq FROM groups WHERE id=?",
            (group_id,),
        ).fetchone()
        # Readers on the event loop use these maps without the lock (require_group in
        # Store.append): never leave a live group out of them, not even for a moment, so
        # build the new record first and replace the old one in place.
        old = self._by_id.get(group_id)
        if row is None:
            self._by_id.pop(group_id, None)
            if old is not None and self._groups.get(old.name) is old:
                del self._groups[old.name]
            return None
        tags = dict(self._db.execute("SELECT key, value FROM tags WHERE group_id=?", (row[0],)))
        record = GroupRecord(
            id=row[0],
            name=row[1],
            arn=self.scope.log_group_arn(row[1]),
            creation_time=row[2],
            retention_days=row[3],
            log_group_class=row[4],
            kms_key_id=row[5],
            deletion_protection=bool(row[6]),
            stored_bytes=row[7],
            next_seq=row[8],
            tags=tags,
        )
        self._groups[record.name] = record
        self._by_id[record.id] = record
        if old is not None and old.name != record.name and self._groups.get(old.name) is old:
            del self._groups[old.name]
        return record

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- groups --------------------------------------------------------------
    def create_group(
        self,
        name: str,
        *,
        now_ms: int,
        retention_days: int | None = None,
        log_group_class: str = "STANDARD",
        kms_key_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        deletion_protection: bool = False,
    ) -> GroupRecord:
        problems = name_problems(name, "logGroupName", group=True)
        if problems:
            raise validation_error(problems)
        if name.startswith("aws/"):
            raise InvalidParameterException("Log group names starting with 'aws/' are reserved.")
        if log_group_class not in LOG_GROUP_CLASSES:
            raise validation_error(
                [
                    f"Value '{log_group_class}' at 'logGroupClass' failed to satisfy constraint: "
                    f"Member must satisfy enum value set: [{', '.join(LOG_GROUP_CLASSES)}]"
                ]
            )
        if log_group_class == "DELIVERY":
            retention_days = 1
        if retention_days is not None:
            check_retention(retention_days)
        check_tags(tags or {})
        with self._tx() as db:
            if name in self._groups:
                raise ResourceAlreadyExistsException("The specified log group already exists")
            if len(self._groups) >= self._max_groups:
                raise LimitExceededException("Resource limit exceeded.")
            cur = db.execute(
                "INSERT INTO groups(name, creation_time, retention_days, log_group_class, "
                "kms_key_id, deletion_protection) VALUES (?,?,?,?,?,?)",
                (name, now_ms, retention_days, log_group_class, kms_key_id, deletion_protection),
            )
            gid = int(cur.lastrowid or 0)
            db.executemany(
                "INSERT INTO tags(group_id, key, value) VALUES (?,?,?)",
                [(gid, k, v) for k, v in (tags or {}).items()],
            )
            record = self._reload_group(gid)
        if record is None:
            raise RuntimeError("catalog row vanished inside its transaction")
        return record

    def get_group(self, name: str) -> GroupRecord | None:
        return self._groups.get(name)

    def get_group_by_id(self, group_id: int) -> GroupRecord | None:
        return self._by_id.get(group_id)

    def require_group(self, name: str) -> GroupRecord:
        record = self._groups.get(name)
        if record is None:
            raise ResourceNotFoundException("The specified log group does not exist.")
        return record

    def live_groups(self) -> dict[int, GroupRecord]:
        """Every group by id (a copy)."""
        return dict(self._by_id)

    def list_groups(
        self, *, prefix: str | None = None, after: str | None = None, limit: int = 50
    ) -> list[GroupRecord]:
        sql = "SELECT id FROM groups WHERE 1=1"
        args: list[object] = []
        if prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if after is not None:
            sql += " AND name > ?"
            args.append(after)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        with self._lock:
            ids = [r[0] for r in self._db.execute(sql, args)]
            return [self._by_id[i] for i in ids if i in self._by_id]

    def delete_group(self, name: str) -> tuple[GroupRecord, list[SegmentRecord]]:
        with self._tx() as db:
            record = self.require_group(name)
            segments = self._segments_where(db, "group_id=?", (record.id,))
            db.execute("DELETE FROM groups WHERE id=?", (record.id,))
            self._reload_group(record.id)
            self._tombstones.pop(record.id, None)
            self._streams = {k for k in self._streams if k[0] != record.id}
        return record, segments

    def _update_group(self, name: str, sql: str, args: tuple[object, ...]) -> GroupRecord:
        with self._tx() as db:
            record = self.require_group(name)
            db.execute(sql, (*args, record.id))
            updated = self._reload_group(record.id)
        if updated is None:
            raise RuntimeError("catalog row vanished inside its transaction")
        return updated

    def put_retention(self, name: str, days: int) -> GroupRecord:
        check_retention(days)
        return self._update_group(name, "UPDATE groups SET retention_days=? WHERE id=?", (days,))

    def delete_retention(self, name: str) -> GroupRecord:
        return self._update_group(name, "UPDATE groups SET retention_days=NULL WHERE id=?", ())

    def tag_group(self, name: str, tags: Mapping[str, str]) -> GroupRecord:
        check_tags(tags)
        with self._tx() as db:
            record = self.require_group(name)
            if len({*record.tags, *tags}) > MAX_TAGS:
                from logd.errors import TooManyTagsException

                raise TooManyTagsException("A resource can have no more than 50 tags.")
            db.executemany(
                "INSERT OR REPLACE INTO tags(group_id, key, value) VALUES (?,?,?)",
                [(record.id, k, v) for k, v in tags.items()],
            )
            updated = self._reload_group(record.id)
        if updated is None:
            raise RuntimeError("catalog row vanished inside its transaction")
        return updated

    def untag_group(self, name: str, keys: Iterable[str]) -> GroupRecord:
        with self._tx() as db:
            record = self.require_group(name)
            db.executemany(
                "DELETE FROM tags WHERE group_id=? AND key=?", [(record.id, k) for k in keys]
            )
            updated = self._reload_group(record.id)
        if updated is None:
            raise RuntimeError("catalog row vanished inside its transaction")
        return updated

    def set_stored_bytes(self, values: Mapping[int, int]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE groups SET stored_bytes=? WHERE id=?", [(v, k) for k, v in values.items()]
            )
            for gid in values:
                self._reload_group(gid)

    # -- streams -------------------------------------------------------------
    def create_stream(self, group: str, name: str, *, now_ms: int) -> StreamRecord:
        problems = name_problems(name, "logStreamName", group=False)
        if problems:
            raise validation_error(problems)
        with self._tx() as db:
            record = self.require_group(group)
            if (record.id, name) in self._streams:
                raise ResourceAlreadyExistsException("The specified log stream already exists")
            db.execute(
                "INSERT INTO streams(group_id, name, creation_time) VALUES (?,?,?)",
                (record.id, name, now_ms),
            )
            self._streams.add((record.id, name))
        stream = self.get_stream(group, name)
        if stream is None:
            raise RuntimeError("catalog row vanished inside its transaction")
        return stream

    def stream_exists(self, group_id: int, name: str) -> bool:
        return (group_id, name) in self._streams

    def _stream(self, group: GroupRecord, row: tuple[object, ...]) -> StreamRecord:
        name = str(row[0])
        return StreamRecord(
            group_id=group.id,
            name=name,
            arn=self.scope.log_stream_arn(group.name, name),
            creation_time=int(row[1]),  # type: ignore[call-overload]
            first_event_ts=row[2],  # type: ignore[arg-type]
            last_event_ts=row[3],  # type: ignore[arg-type]
            last_ingestion_time=row[4],  # type: ignore[arg-type]
        )

    _STREAM_COLUMNS = "name, creation_time, first_event_ts, last_event_ts, last_ingestion_time"

    def get_stream(self, group: str, name: str) -> StreamRecord | None:
        record = self.require_group(group)
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._STREAM_COLUMNS} FROM streams WHERE group_id=? AND name=?",  # noqa: S608 - only integers and quoted identifiers are interpolated
                (record.id, name),
            ).fetchone()
        return self._stream(record, row) if row else None

    def delete_stream(self, group: str, name: str, *, below_seq: int | None = None) -> None:
        """Delete a stream; with `below_seq`, also tombstone its events with seq < below_seq
        (reads hide them until compaction rewrote them away)."""
        with self._tx() as db:
            record = self.require_group(group)
            if (record.id, name) not in self._streams:
                raise ResourceNotFoundException("The specified log stream does not exist.")
            db.execute("DELETE FROM streams WHERE group_id=? AND name=?", (record.id, name))
            if below_seq is not None:
                db.execute(
                    "INSERT INTO stream_tombstones(group_id, stream, below_seq) VALUES (?,?,?) "
                    "ON CONFLICT DO UPDATE SET below_seq=max(below_seq, excluded.below_seq)",
                    (record.id, name, below_seq),
                )
                known = self._tombstones.setdefault(record.id, {})
                known[name] = max(below_seq, known.get(name, 0))
            self._streams.discard((record.id, name))

    def tombstones(self) -> dict[int, dict[str, int]]:
        """Deleted streams still hidden at read time: group id -> stream -> below_seq."""
        with self._lock:
            return {gid: dict(t) for gid, t in self._tombstones.items() if t}

    def clear_tombstone(self, group_id: int, stream: str, below_seq: int) -> None:
        """Forget a tombstone once no stored event it hides remains (unless it grew)."""
        with self._tx() as db:
            db.execute(
                "DELETE FROM stream_tombstones WHERE group_id=? AND stream=? AND below_seq<=?",
                (group_id, stream, below_seq),
            )
            known = self._tombstones.get(group_id, {})
            if known.get(stream, below_seq + 1) <= below_seq:
                del known[stream]

    def list_streams(
        self,
        group: str,
        *,
        prefix: str | None = None,
        order_by: OrderBy = "LogStreamName",
        descending: bool = False,
        after: StreamKey | None = None,
        limit: int = 50,
    ) -> list[StreamRecord]:
        record = self.require_group(group)
        key = "name" if order_by == "LogStreamName" else "(coalesce(last_event_ts, -1), name)"
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT {self._STREAM_COLUMNS} FROM streams WHERE group_id=?"  # noqa: S608 - only integers and quoted identifiers are interpolated
        args: list[object] = [record.id]
        if prefix:
            sql += " AND substr(name, 1, ?) = ?"
            args += [len(prefix), prefix]
        if after is not None:
            op = "<" if descending else ">"
            if isinstance(after, tuple):
                sql += f" AND (coalesce(last_event_ts, -1), name) {op} (?, ?)"
                args += [after[0], after[1]]
            else:
                sql += f" AND name {op} ?"
                args.append(after)
        order = (
            f"name {direction}"
            if order_by == "LogStreamName"
            else f"coalesce(last_event_ts, -1) {direction}, name {direction}"
        )
        del key
        sql += f" ORDER BY {order} LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._stream(record, row) for row in rows]

    def record_ingest(
        self,
        updates: Sequence[StreamUpdate],
        stored_delta: Mapping[int, int],
        checkpoints: Mapping[str, bytes],
    ) -> None:
        """Stream statistics, storedBytes and checkpoints of durable batches: one transaction.

        Not fsynced (synchronous=NORMAL): after a crash, recovery recomputes all of it
        from the log.
        """
        with self._lock:
            self._db.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._tx() as db:
                    db.executemany(
                        "UPDATE streams SET "
                        "first_event_ts=min(coalesce(first_event_ts, ?), ?), "
                        "last_event_ts=max(coalesce(last_event_ts, ?), ?), "
                        "last_ingestion_time=max(coalesce(last_ingestion_time, ?), ?) "
                        "WHERE group_id=? AND name=?",
                        [
                            (
                                *(u.first_ts, u.first_ts, u.last_ts, u.last_ts),
                                *(u.ingestion_time, u.ingestion_time, u.group_id, u.stream),
                            )
                            for u in updates
                        ],
                    )
                    db.executemany(
                        "UPDATE groups SET stored_bytes=stored_bytes+? WHERE id=?",
                        [(v, k) for k, v in stored_delta.items()],
                    )
                    db.executemany(
                        "INSERT OR REPLACE INTO checkpoints(source, state) VALUES (?,?)",
                        list(checkpoints.items()),
                    )
                    for gid in stored_delta:
                        self._reload_group(gid)
            finally:
                self._db.execute("PRAGMA synchronous=FULL")

    def checkpoints(self) -> dict[str, bytes]:
        with self._lock:
            return {
                k: bytes(v) for k, v in self._db.execute("SELECT source, state FROM checkpoints")
            }

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- segments ------------------------------------------------------------
    def _segments_where(
        self, db: sqlite3.Connection, where: str, args: Sequence[object]
    ) -> list[SegmentRecord]:
        rows = db.execute(
            f"SELECT {_SEGMENT_COLUMNS}, id FROM segments WHERE {where} ORDER BY id",  # noqa: S608 - only integers and quoted identifiers are interpolated
            args,
        ).fetchall()
        return [SegmentRecord(*row) for row in rows]

    def _insert_segments(
        self, db: sqlite3.Connection, segments: Sequence[NewSegment]
    ) -> list[SegmentRecord]:
        out = []
        for s in segments:
            cur = db.execute(
                f"INSERT INTO segments({_SEGMENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",  # noqa: S608 - only integers and quoted identifiers are interpolated
                (
                    *(s.group_id, s.day, s.path, s.min_ts, s.max_ts, s.min_seq, s.max_seq),
                    *(s.rows, s.bytes, s.stored_bytes, s.crc32, s.fields),
                ),
            )
            out.append(SegmentRecord(**_kwargs_of(s), id=int(cur.lastrowid or 0)))
        return out

    def add_segments(
        self,
        segments: Sequence[NewSegment],
        *,
        state: Mapping[str, str],
        next_seqs: Mapping[int, int],
        stored_delta: Mapping[int, int],
    ) -> tuple[list[SegmentRecord], list[NewSegment]]:
        """The sealer's transaction: segments, its log position, seq counters, storedBytes.

        Segments of groups deleted meanwhile are not added; they are returned second so the
        caller deletes their files.
        """
        with self._tx() as db:
            live = [s for s in segments if s.group_id in self._by_id]
            dead = [s for s in segments if s.group_id not in self._by_id]
            added = self._insert_segments(db, live)
            db.executemany(
                "INSERT OR REPLACE INTO state(key, value) VALUES (?,?)", list(state.items())
            )
            db.executemany(
                "UPDATE groups SET next_seq=max(next_seq, ?) WHERE id=?",
                [(v, k) for k, v in next_seqs.items()],
            )
            db.executemany(
                "UPDATE groups SET stored_bytes=max(stored_bytes+?, 0) WHERE id=?",
                [(v, k) for k, v in stored_delta.items()],
            )
            for gid in {*next_seqs, *stored_delta}:
                if gid in self._by_id:
                    self._reload_group(gid)
        return added, dead

    def replace_segments(
        self, old: Sequence[SegmentRecord], new: Sequence[NewSegment], stored_delta: int
    ) -> list[SegmentRecord] | None:
        """Swap `old` for `new` (compaction, retention rewrite); None if any old one is gone."""
        with self._tx() as db:
            ids = [s.id for s in old]
            marks = ",".join("?" * len(ids))
            (count,) = db.execute(
                f"SELECT count(*) FROM segments WHERE id IN ({marks})",  # noqa: S608 - only integers and quoted identifiers are interpolated
                ids,
            ).fetchone()
            if count != len(ids):
                return None
            db.execute(f"DELETE FROM segments WHERE id IN ({marks})", ids)  # noqa: S608 - only integers and quoted identifiers are interpolated
            added = self._insert_segments(db, new)
            gid = old[0].group_id
            db.execute(
                "UPDATE groups SET stored_bytes=max(stored_bytes+?, 0) WHERE id=?",
                (stored_delta, gid),
            )
            self._reload_group(gid)
        return added

    def delete_segments(self, segments: Sequence[SegmentRecord]) -> None:
        """Retention: remove whole segments and their bytes from storedBytes."""
        with self._tx() as db:
            for s in segments:
                cur = db.execute("DELETE FROM segments WHERE id=?", (s.id,))
                if cur.rowcount:
                    db.execute(
                        "UPDATE groups SET stored_bytes=max(stored_bytes-?, 0) WHERE id=?",
                        (s.stored_bytes, s.group_id),
                    )
            for gid in {s.group_id for s in segments}:
                self._reload_group(gid)

    def quarantine_segment(self, segment: SegmentRecord, reason: str, now_ms: int) -> None:
        with self._tx() as db:
            cur = db.execute("DELETE FROM segments WHERE id=?", (segment.id,))
            if cur.rowcount:
                db.execute(
                    "UPDATE groups SET stored_bytes=max(stored_bytes-?, 0) WHERE id=?",
                    (segment.stored_bytes, segment.group_id),
                )
            db.execute(
                "INSERT INTO quarantine(path, group_id, reason, time) VALUES (?,?,?,?)",
                (segment.path, segment.group_id, reason, now_ms),
            )
            self._reload_group(segment.group_id)

    def quarantined_count(self) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM quarantine").fetchone()
            return int(n)

    def segment_totals(self) -> tuple[int, int]:
        """(segments, bytes of their files)."""
        with self._lock:
            n, size = self._db.execute(
                "SELECT count(*), coalesce(sum(bytes), 0) FROM segments"
            ).fetchone()
            return int(n), int(size)

    def quarantined(self) -> list[tuple[str, str]]:
        with self._lock:
            return [
                (str(p), str(r)) for p, r in self._db.execute("SELECT path, reason FROM quarantine")
            ]

    def list_segments(
        self, group_ids: Sequence[int], start_ms: int, end_ms: int
    ) -> list[SegmentRecord]:
        if not group_ids:
            return []
        marks = ",".join("?" * len(group_ids))
        with self._lock:
            return self._segments_where(
                self._db,
                f"group_id IN ({marks}) AND max_ts >= ? AND min_ts < ?",
                (*group_ids, start_ms, end_ms),
            )

    def all_segments(self) -> list[SegmentRecord]:
        with self._lock:
            return self._segments_where(self._db, "1=1", ())


def _kwargs_of(segment: NewSegment) -> dict[str, Any]:
    return {name: getattr(segment, name) for name in NewSegment.__dataclass_fields__}


def check_retention(days: int) -> None:
    if isinstance(days, bool) or days not in RETENTION_DAYS:
        raise InvalidParameterException(
            f"Invalid retentionInDays value {days}: must be one of "
            + ", ".join(map(str, RETENTION_DAYS))
        )


def check_tags(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        from logd.errors import TooManyTagsException

        raise TooManyTagsException("A resource can have no more than 50 tags.")
    problems = []
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or _TAG_KEY.match(key) is None:
            problems.append(f"Value '{key}' at 'tags' failed to satisfy constraint: tag key")
        elif key.startswith("aws:"):
            raise InvalidParameterException("Tag keys starting with 'aws:' are reserved.")
        if len(value) > 256 or _TAG_VALUE.match(value) is None:
            problems.append(f"Value '{value}' at 'tags' failed to satisfy constraint: tag value")
    if problems:
        raise validation_error(problems)
