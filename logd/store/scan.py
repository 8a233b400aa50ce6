"""Reads over segments and memtable: the Arrow `scan` and `StoreSource` for DuckDB.

Both work on a `Snapshot` the store takes under its view lock (segment list + memtable
pieces + per-group retention cutoffs), so a concurrent seal or compaction never shows
an event twice or not at all. Segments are pruned by the catalog's min/max timestamps
(day partitions included) and, inside a file, by row-group statistics. Expired events
and events of deleted streams (tombstones.py) are filtered here, at read time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import reduce

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from logd.store.catalog import SegmentRecord
from logd.store.fields import (
    arrow_type,
    discover,
    duckdb_type,
    extract_one_sql,
    extract_sql,
    merge_kinds,
    sample_messages,
    sql_ident,
    sql_string,
)
from logd.store.memtable import Piece
from logd.store.schema import BASE_COLUMNS, EVENT_SCHEMA, FIELD_PREFIX, SEGMENT_BASE_SCHEMA
from logd.store.segments import SegmentDamaged, SegmentFiles
from logd.store.tombstones import Tombstones, hidden, visible_sql


@dataclass(frozen=True, slots=True)
class Snapshot:
    names: dict[int, str]  # requested live groups: id -> name
    cutoffs: dict[int, int | None]  # id -> first retained timestamp (None: keep all)
    segments: list[SegmentRecord]
    pieces: list[Piece]
    tombstones: Tombstones = field(default_factory=dict)

    def low(self, gid: int, start_ms: int) -> int:
        limit = self.cutoffs.get(gid)
        return start_ms if limit is None else max(start_ms, limit)


OnDamaged = Callable[[SegmentRecord, str], None]


def field_types(segments: Sequence[SegmentRecord], wanted: Sequence[str]) -> dict[str, str | None]:
    """One type per requested `f.` column from the segments (None: in none of them)."""
    kinds: dict[str, str | None] = dict.fromkeys(wanted)
    for s in segments:
        found = json.loads(s.fields)
        for col in wanted:
            kind = found.get(col[len(FIELD_PREFIX) :])
            if kind is not None:
                old = kinds[col]
                kinds[col] = kind if old is None else merge_kinds(old, kind)
    return kinds


def _stream_filter(streams: Sequence[str] | None, prefix: str | None) -> pc.Expression | None:
    parts = []
    if streams is not None:
        parts.append(pc.field("stream").isin(pa.array(list(streams), pa.string())))
    if prefix:
        parts.append(pc.starts_with(pc.field("stream"), prefix))
    return reduce(lambda a, b: a & b, parts) if parts else None


def _merge_memtable_kinds(
    kinds: dict[str, str | None], tables: list[pa.Table]
) -> dict[str, str | None]:
    """Widen the segments' types so the memtable's values fit too (mixed → varchar)."""
    sample: list[str] = []
    for table in tables:
        sample += sample_messages(table, 1024)
    found = discover(sample, max_fields=10_000, max_depth=64)
    out = dict(kinds)
    for col in kinds:
        kind = found.get(col[len(FIELD_PREFIX) :])
        if kind is not None:
            old = out.get(col)
            out[col] = kind if old is None else merge_kinds(old, kind)
    return out


def _with_fields(table: pa.Table, kinds: dict[str, str]) -> pa.Table:
    """Extract `f.` columns from memtable messages the way the sealer does."""
    fields = {col[len(FIELD_PREFIX) :]: kind for col, kind in kinds.items()}
    inner, outer = extract_sql(fields)
    con = duckdb.connect()
    try:
        con.register("mem", table)
        names = ", ".join(sql_ident(n) for n in table.column_names)
        out = con.sql(f"SELECT {names}, {', '.join(outer)} FROM (SELECT *, {inner} FROM mem)")  # noqa: S608 - only integers and quoted identifiers are interpolated
        return out.to_arrow_table()
    finally:
        con.close()


def scan_batches(
    snap: Snapshot,
    files: SegmentFiles,
    start_ms: int,
    end_ms: int,
    *,
    streams: Sequence[str] | None = None,
    stream_prefix: str | None = None,
    columns: Sequence[str] | None = None,
    predicate: pc.Expression | None = None,
    on_damaged: OnDamaged,
) -> Iterator[pa.RecordBatch]:
    wanted = list(columns) if columns is not None else list(BASE_COLUMNS)
    unknown = [c for c in wanted if c not in BASE_COLUMNS and not c.startswith(FIELD_PREFIX)]
    if unknown:
        raise ValueError(f"unknown columns {unknown}")
    extra = [c for c in wanted if c.startswith(FIELD_PREFIX)]
    by_stream = _stream_filter(streams, stream_prefix)
    mem_tables = []
    for piece in snap.pieces:
        gids = [g for g in piece.gids if g in snap.names]
        if not gids or piece.max_ts < start_ms or piece.min_ts >= end_ms:
            continue
        conds = [
            (pc.field("gid") == g) & (pc.field("timestamp") >= snap.low(g, start_ms)) for g in gids
        ]
        expr = reduce(lambda a, b: a | b, conds) & (pc.field("timestamp") < end_ms)
        if by_stream is not None:
            expr = expr & by_stream
        table = piece.data.filter(expr)
        for g in gids:
            tomb = snap.tombstones.get(g)
            if tomb and table.num_rows:
                gone = hidden(table["stream"], table["seq"], tomb)
                table = table.filter(pc.invert(pc.and_(pc.equal(table["gid"], g), gone)))
        if table.num_rows:
            mem_tables.append(table)
    kinds = field_types(snap.segments, extra)
    if extra and mem_tables:
        kinds = _merge_memtable_kinds(kinds, mem_tables)
    final = {c: k or "varchar" for c, k in kinds.items()}
    types = {f.name: f.type for f in EVENT_SCHEMA} | {c: arrow_type(k) for c, k in final.items()}
    schema = pa.schema([pa.field(c, types[c]) for c in wanted])
    need = [c for c in wanted if c != "group"]
    if predicate is not None:  # the predicate may name any base column
        need += [c for c in SEGMENT_BASE_SCHEMA.names if c not in need]

    def finish(batch: pa.RecordBatch, group: str | None) -> pa.RecordBatch | None:
        arrays = []
        for name in [*wanted, *(c for c in need if c not in wanted)]:
            if name == "group" and group is not None:
                arrays.append(pa.array([group] * batch.num_rows, pa.string()))
            elif name in batch.schema.names:
                col = batch.column(name)
                arrays.append(col.cast(types[name]) if name in types else col)
            else:
                arrays.append(pa.nulls(batch.num_rows, types.get(name, pa.string())))
        names = [*wanted, *(c for c in need if c not in wanted)]
        out = pa.RecordBatch.from_arrays(arrays, names=names)
        if predicate is not None:
            out = pa.Table.from_batches([out]).filter(predicate).combine_chunks()
            out = out.to_batches()[0] if out.num_rows else None
            if out is None:
                return None
        out = out.select(wanted)
        return out if out.num_rows else None

    for seg in snap.segments:
        lo = snap.low(seg.group_id, start_ms)
        if seg.max_ts < lo or seg.min_ts >= end_ms:
            continue
        expr = (pc.field("timestamp") >= lo) & (pc.field("timestamp") < end_ms)
        if by_stream is not None:
            expr = expr & by_stream
        tomb = snap.tombstones.get(seg.group_id)
        read = need + [c for c in ("stream", "seq") if tomb and c not in need]
        try:
            for batch in files.batches(seg, read, expr):
                if tomb:
                    batch = batch.filter(pc.invert(hidden(batch["stream"], batch["seq"], tomb)))
                done = finish(batch, snap.names[seg.group_id])
                if done is not None:
                    yield done.cast(schema) if done.schema != schema else done
        except SegmentDamaged as exc:
            on_damaged(seg, str(exc))

    for table in mem_tables:
        if extra:
            table = _with_fields(table, final)
        for batch in table.to_batches():
            done = finish(batch, None)
            if done is not None:
                yield done.cast(schema) if done.schema != schema else done


def segment_fields(segments: Sequence[SegmentRecord]) -> dict[str, str]:
    """`f.<path>` -> kind over `segments`: types widened (merge_kinds), and names that
    differ only in case merged under the first one seen (DuckDB names are
    case-insensitive)."""
    return _fields_and_merged(segments)[0]


def _fields_and_merged(segments: Sequence[SegmentRecord]) -> tuple[dict[str, str], set[str]]:
    """(segment_fields, the names that do not hold one path as its segments read it: paths
    spelled differently merged under one name, or numbers and booleans widened to text)."""
    out: dict[str, str] = {}
    spelling: dict[str, str] = {}
    merged: set[str] = set()
    seen: dict[str, set[str]] = {}
    for seg in segments:
        for path, kind in json.loads(seg.fields).items():
            name = spelling.setdefault(path.lower(), FIELD_PREFIX + path)
            if name != FIELD_PREFIX + path:
                merged.add(name)
            old = out.get(name)
            out[name] = kind if old is None else merge_kinds(old, kind)
            seen.setdefault(name, set()).add(kind)
    merged |= {n for n, k in out.items() if k == "varchar" and seen[n] != {"varchar"}}
    return dict(sorted(out.items())), merged


class StoreSource:
    """`query.EventSource` over the store: pruned segments + memtable, as one relation.

    The bound relation has the six base columns (`group`, `stream`, `timestamp`,
    `ingestion_time`, `seq`, `message`), then one typed column per discovered field
    `f.<dotted.path>` found in any segment the range touches (`fields()` names them and
    their DuckDB types). Segments are read by DuckDB's Parquet reader with
    union_by_name (a segment without the field gives NULL); unsealed (memtable) events
    compute the same columns from their message when a query references them.
    """

    _names = itertools.count(1)

    def __init__(
        self,
        snapshot: Callable[[Sequence[str], int, int], Snapshot],
        files: SegmentFiles,
        on_damaged: OnDamaged,
    ) -> None:
        self._snapshot = snapshot
        self._files = files
        self._on_damaged = on_damaged

    def fields(
        self, groups: Sequence[str], start_ms: int = 0, end_ms: int = 2**62
    ) -> dict[str, str]:
        """The `f.` columns `bind` exposes for these groups and range: name -> DuckDB type
        (BIGINT, DOUBLE, BOOLEAN or VARCHAR)."""
        snap = self._snapshot(groups, start_ms, end_ms)
        segs = [s for s in snap.segments if s.max_ts >= snap.low(s.group_id, start_ms)]
        return {c: duckdb_type(k) for c, k in segment_fields(segs).items()}

    def bind(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
    ) -> str:
        """Expose the groups' events in [start_ms, end_ms) on `con`; return a view name."""
        return self.bind_typed(con, groups=groups, start_ms=start_ms, end_ms=end_ms)[0]

    def bind_typed(
        self,
        con: duckdb.DuckDBPyConnection,
        *,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
    ) -> tuple[str, dict[str, str]]:
        """`bind`, and the view's `f.` columns that hold their own path as every segment
        read it (name -> DuckDB type): those a filter pattern may read for a JSON path.
        Left out: a column that merged paths spelled differently (`Level`, `level`), and
        a text column that holds numbers or booleans some segment read as such."""
        snap = self._snapshot(groups, start_ms, end_ms)
        n = next(self._names)
        by_group: dict[int, list[SegmentRecord]] = {}
        for seg in snap.segments:
            if seg.max_ts < snap.low(seg.group_id, start_ms) or seg.min_ts >= end_ms:
                continue
            try:
                self._files.verify(seg)
            except SegmentDamaged as exc:
                self._on_damaged(seg, str(exc))
                continue
            by_group.setdefault(seg.group_id, []).append(seg)
        # The engine turns off DuckDB's file access once bind() returns: allow-list ours.
        allowed = [self._files.full(s.path) for segs in by_group.values() for s in segs]
        if allowed:
            con.execute("SET allowed_paths = ?", [allowed])
        kinds, merged = _fields_and_merged([s for segs in by_group.values() for s in segs])
        base = ", ".join(sql_ident(c) for c in SEGMENT_BASE_SCHEMA.names)
        selects = []
        for gid, segs in sorted(by_group.items()):
            present = {c.lower() for c in segment_fields(segs)}
            typed = []
            for col, kind in kinds.items():
                value = (
                    f"TRY_CAST({sql_ident(col)} AS {duckdb_type(kind)})"
                    if col.lower() in present
                    else f"NULL::{duckdb_type(kind)}"
                )
                typed.append(f"{value} AS {sql_ident(col)}")
            paths = ", ".join(sql_string(self._files.full(s.path)) for s in segs)
            cols = ", ".join([base, *typed])
            lo = snap.low(gid, start_ms)
            selects.append(
                f'SELECT {sql_string(snap.names[gid])} AS "group", {cols} '  # noqa: S608 - only integers, quoted literals and identifiers are interpolated
                f"FROM read_parquet([{paths}], union_by_name = true) "
                f"WHERE timestamp >= {lo} AND timestamp < {end_ms} "
                f"AND {visible_sql(snap.tombstones.get(gid, {}))}"
            )
        mem = list(
            scan_batches(
                Snapshot(snap.names, snap.cutoffs, [], snap.pieces, snap.tombstones),
                self._files,
                start_ms,
                end_ms,
                on_damaged=self._on_damaged,
            )
        )
        mem_name = f"logd_mem_{n}"
        con.register(mem_name, pa.Table.from_batches(mem, schema=EVENT_SCHEMA))
        mem_cols = [sql_ident(c) for c in EVENT_SCHEMA.names]
        mem_cols += [
            f"{extract_one_sql(c[len(FIELD_PREFIX) :], k)} AS {sql_ident(c)}"
            for c, k in kinds.items()
        ]
        selects.append(f"SELECT {', '.join(mem_cols)} FROM {mem_name}")  # noqa: S608 - only integers, quoted literals and identifiers are interpolated
        view = f"logd_events_{n}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {' UNION ALL '.join(selects)}")
        exact = {c: duckdb_type(k) for c, k in kinds.items() if c not in merged}
        return view, exact
