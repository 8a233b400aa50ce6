"""A damaged catalog: move it to quarantine/ and rebuild one from the segment files (R-21).

`open_catalog` opens ``catalog.sqlite``; when SQLite cannot open it, `PRAGMA quick_check`
fails, or the migrations raise `sqlite3.DatabaseError` (and when it is gone or empty
while segment files remain: opened as it is, every segment would be an orphan), the file
and its ``-wal``/``-shm`` move to ``quarantine/catalog.sqlite.<UTC time>`` and a fresh
catalog is filled from
``segments/group=<id>/day=<day>/*.parquet``: groups (id from the path, name from the
file's ``logd.group_name`` metadata, or ``recovered-group-<id>``), streams and their
event-time range, segment rows (crc32, sizes, seq and time ranges, discovered fields) and
each group's next seq (max seq + 1). `add_log_groups` then adds the groups and streams
that only the WAL still holds. Everything else the catalog kept is gone: see
docs/internals.md "A damaged catalog".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from logd.store import record
from logd.store.catalog import NewSegment, SQLiteCatalog
from logd.store.log import Position
from logd.store.schema import FIELD_PREFIX
from logd.store.segments import stored_bytes

log = logging.getLogger("logd.store")

LOST = (
    "retention settings, tags, deletion protection, log group class and KMS key, "
    "deleted-stream tombstones, metric and "
    "subscription filters, saved queries and query history, export tasks, source checkpoints "
    "already sealed, and streams that held no events"
)
_BASE = ["stream", "timestamp", "ingestion_time", "seq", "message"]


@dataclass(slots=True)
class _Stream:
    first_ts: int
    last_ts: int
    first_ingest: int
    last_ingest: int

    def merge(self, other: _Stream) -> None:
        self.first_ts = min(self.first_ts, other.first_ts)
        self.last_ts = max(self.last_ts, other.last_ts)
        self.first_ingest = min(self.first_ingest, other.first_ingest)
        self.last_ingest = max(self.last_ingest, other.last_ingest)


@dataclass(slots=True)
class _Group:
    name: str | None = None
    next_seq: int = 1
    streams: dict[str, _Stream] = field(default_factory=dict)

    def add_stream(self, name: str, stats: _Stream) -> None:
        old = self.streams.get(name)
        if old is None:
            self.streams[name] = stats
        else:
            old.merge(stats)


@dataclass(slots=True)
class Rebuilt:
    """What a rebuild found: sealed seqs decide which WAL records replay."""

    moved_to: str
    reason: str
    groups: int = 0
    segments: int = 0
    unreadable: int = 0
    sealed_max_seq: dict[int, int] = field(default_factory=dict)


def _healthy(path: Path, data_dir: Path) -> str | None:
    """None if the catalog opens and passes quick_check, else what is wrong. An empty
    one (never migrated) next to segment files is wrong too: opened as it is, the store
    would delete every segment as an orphan."""
    try:
        db = sqlite3.connect(path)
        try:
            rows = db.execute("PRAGMA quick_check").fetchall()
            (version,) = db.execute("PRAGMA user_version").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return f"{type(exc).__name__}: {exc}"
    if rows != [("ok",)]:
        return "quick_check: " + "; ".join(str(r[0]) for r in rows[:5])
    if version == 0 and _has_segments(data_dir):
        return "catalog.sqlite is empty"
    return None


def _has_segments(data_dir: Path) -> bool:
    root = data_dir / "segments"
    return root.is_dir() and any(root.glob("group=*/day=*/*.parquet"))


def open_catalog(data_dir: Path, now_ms: int) -> tuple[SQLiteCatalog, Rebuilt | None]:
    """The catalog of `data_dir`, rebuilt from its segments if it is damaged or gone."""
    path = data_dir / "catalog.sqlite"
    reason: str | None
    if not path.exists():
        reason = "catalog.sqlite is missing" if _has_segments(data_dir) else None
    else:
        reason = _healthy(path, data_dir)
    if reason is None:
        try:
            return SQLiteCatalog(path), None
        except sqlite3.DatabaseError as exc:
            reason = f"{type(exc).__name__}: {exc}"
    moved = _move_aside(data_dir, now_ms)
    found = _rebuild(data_dir, path, Rebuilt(moved, reason), now_ms)
    return SQLiteCatalog(path), found


def _move_aside(data_dir: Path, now_ms: int) -> str:
    quarantine = data_dir / "quarantine"
    quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_ms // 1000))
    target = quarantine / f"catalog.sqlite.{stamp}"
    n = 1
    while target.exists():
        n += 1
        target = quarantine / f"catalog.sqlite.{stamp}.{n}"
    for suffix in ("", "-wal", "-shm"):
        source = data_dir / f"catalog.sqlite{suffix}"
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return str(target)


def _fields_of(schema: pa.Schema) -> str:
    kinds: dict[str, str] = {}
    for f in schema:
        if not f.name.startswith(FIELD_PREFIX):
            continue
        if pa.types.is_int64(f.type):
            kind = "bigint"
        elif pa.types.is_floating(f.type):
            kind = "double"
        elif pa.types.is_boolean(f.type):
            kind = "boolean"
        else:
            kind = "varchar"
        kinds[f.name[len(FIELD_PREFIX) :]] = kind
    return json.dumps(kinds)


def _read_segment(root: Path, rel: str, gid: int, day: str) -> tuple[NewSegment, pa.Table, str]:
    full = root / rel
    data = full.read_bytes()
    table = pq.read_table(full, columns=_BASE, page_checksum_verification=True)
    if table.num_rows == 0:
        raise ValueError("the file holds no events")
    schema = pq.read_schema(full)
    name = (schema.metadata or {}).get(b"logd.group_name", b"").decode()
    ts = pc.min_max(table["timestamp"]).as_py()
    seq = pc.min_max(table["seq"]).as_py()
    segment = NewSegment(
        group_id=gid,
        day=day,
        path=rel,
        min_ts=ts["min"],
        max_ts=ts["max"],
        min_seq=seq["min"],
        max_seq=seq["max"],
        rows=table.num_rows,
        bytes=len(data),
        stored_bytes=stored_bytes(table),
        crc32=zlib.crc32(data),
        fields=_fields_of(schema),
    )
    return segment, table, name


def _rebuild(data_dir: Path, path: Path, found: Rebuilt, now_ms: int) -> Rebuilt:
    root = data_dir / "segments"
    groups: dict[int, _Group] = {}
    segments: list[NewSegment] = []
    bad: list[tuple[str, int, str]] = []
    for full in sorted(root.glob("group=*/day=*/*.parquet")) if root.is_dir() else []:
        rel = full.relative_to(root).as_posix()
        group_part, day_part = rel.split("/")[:2]
        try:
            gid = int(group_part.removeprefix("group="))
        except ValueError:
            continue
        try:
            segment, table, name = _read_segment(root, rel, gid, day_part.removeprefix("day="))
        except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
            target = data_dir / "quarantine" / rel.replace("/", "_")
            with contextlib.suppress(OSError):
                os.replace(full, target)
            bad.append((rel, gid, f"unreadable during catalog rebuild: {exc}"))
            log.error("Quarantined unreadable segment %s during the catalog rebuild: %s", rel, exc)
            continue
        segments.append(segment)
        g = groups.setdefault(gid, _Group())
        g.name = g.name or name or None
        g.next_seq = max(g.next_seq, segment.max_seq + 1)
        found.sealed_max_seq[gid] = max(found.sealed_max_seq.get(gid, 0), segment.max_seq)
        agg = table.group_by("stream").aggregate(
            [("timestamp", "min_max"), ("ingestion_time", "min_max")]
        )
        for row in agg.to_pylist():
            t, i = row["timestamp_min_max"], row["ingestion_time_min_max"]
            g.add_stream(row["stream"], _Stream(t["min"], t["max"], i["min"], i["max"]))
    catalog = SQLiteCatalog(path)
    try:
        with catalog.transaction() as db:
            _insert_groups(db, groups, now_ms)
            db.executemany(
                "INSERT INTO segments(group_id, day, path, min_ts, max_ts, min_seq, max_seq, "
                "rows, bytes, stored_bytes, crc32, fields) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        *(s.group_id, s.day, s.path, s.min_ts, s.max_ts, s.min_seq, s.max_seq),
                        *(s.rows, s.bytes, s.stored_bytes, s.crc32, s.fields),
                    )
                    for s in segments
                ],
            )
            db.executemany(
                "INSERT INTO quarantine(path, group_id, reason, time) VALUES (?,?,?,?)",
                [(rel, gid, why, now_ms) for rel, gid, why in bad],
            )
    finally:
        catalog.close()
    found.groups, found.segments, found.unreadable = len(groups), len(segments), len(bad)
    return found


def _insert_groups(db: sqlite3.Connection, groups: dict[int, _Group], now_ms: int) -> None:
    taken = {str(n) for (n,) in db.execute("SELECT name FROM groups")}
    for gid, g in sorted(groups.items()):
        name = g.name or f"recovered-group-{gid}"
        if name in taken:
            name = f"{name}-recovered-{gid}"
        taken.add(name)
        created = min((s.first_ingest for s in g.streams.values()), default=now_ms)
        db.execute(
            "INSERT INTO groups(id, name, creation_time, next_seq) VALUES (?,?,?,?)",
            (gid, name, created, g.next_seq),
        )
        db.executemany(
            "INSERT INTO streams(group_id, name, creation_time, first_event_ts, last_event_ts, "
            "last_ingestion_time) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            [
                (gid, name_, s.first_ingest, s.first_ts, s.last_ts, s.last_ingest)
                for name_, s in g.streams.items()
            ],
        )


def add_log_groups(
    path: Path, records: Iterable[tuple[Position, bytes]], now_ms: int
) -> tuple[SQLiteCatalog, int]:
    """After a rebuild: add the groups and streams that only WAL records name (their
    names come from the records); returns the reopened catalog and how many groups."""
    catalog = SQLiteCatalog(path)
    known = set(catalog.live_groups())
    groups: dict[int, _Group] = {}
    for _, payload in records:
        try:
            rec = record.decode(payload)
        except record.RecordError:
            continue
        n = len(rec)
        if rec.group_id == 0 or not n:
            continue
        g = groups.setdefault(rec.group_id, _Group(name=rec.group))
        first, last = rec.timestamps[0].as_py(), rec.timestamps[n - 1].as_py()
        g.add_stream(rec.stream, _Stream(first, last, rec.ingestion_time, rec.ingestion_time))
    if not groups:
        return catalog, 0
    new = {gid: g for gid, g in groups.items() if gid not in known}
    with catalog.transaction() as db:
        _insert_groups(db, new, now_ms)
        for gid, g in groups.items():
            if gid in known:  # streams of rebuilt groups that hold only unsealed events
                _insert_streams(db, gid, g)
    catalog.close()
    return SQLiteCatalog(path), len(new)


def _insert_streams(db: sqlite3.Connection, gid: int, g: _Group) -> None:
    db.executemany(
        "INSERT INTO streams(group_id, name, creation_time) VALUES (?,?,?) ON CONFLICT DO NOTHING",
        [(gid, name, s.first_ingest) for name, s in g.streams.items()],
    )
