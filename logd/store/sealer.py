"""The sealer: unsealed events (a frozen log range) → time-sorted Parquet segments.

`seal(frozen)` runs in a worker thread. It drops rows of deleted groups and rows
already past retention, splits the rest by group and UTC day, sorts each part by
(timestamp, seq), discovers JSON fields on a sample, fills the `f.<path>` columns in
DuckDB (one JSON parse per message) and writes each part with `SegmentFiles.write`.
The store then records the segments, the log position and the sequence counters in
one catalog transaction, releases the frozen memtable pieces and advances the log
cursor "sealer" — in that order, so a crash anywhere leaves either orphan files (removed
on open) or a committed seal whose range recovery does not replay.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from logd.model import DAY_MS
from logd.store.catalog import NewSegment
from logd.store.fields import FieldTypes, discover, extract_sql
from logd.store.memtable import Frozen, concat
from logd.store.options import StoreOptions
from logd.store.segments import SegmentFiles

BASE = "stream, timestamp, ingestion_time, seq, message"


@dataclass(slots=True)
class SealResult:
    segments: list[NewSegment] = field(default_factory=list)
    next_seqs: dict[int, int] = field(default_factory=dict)
    stored_delta: dict[int, int] = field(default_factory=dict)


def build_parts(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    where: str,
    rows: int,
    options: StoreOptions,
) -> list[tuple[pa.Table, FieldTypes]]:
    """Sorted tables (≤ segment_max_rows each) with discovered fields, from `relation`."""
    step = max(1, rows // options.discovery_sample_rows)
    sample = con.sql(
        f"SELECT message FROM {relation} WHERE {where} AND seq % {step} = 0 "  # noqa: S608 - only integers and quoted identifiers are interpolated
        f"LIMIT {options.discovery_sample_rows}"
    ).fetchall()
    fields = discover(
        [r[0] for r in sample],
        max_fields=options.discovered_fields_max,
        max_depth=options.discovered_fields_depth,
    )
    inner, outer = extract_sql(fields)
    if fields:
        query = (
            f"SELECT {BASE}, {', '.join(outer)} FROM "  # noqa: S608 - only integers and quoted identifiers are interpolated
            f"(SELECT {BASE}, {inner} FROM {relation} WHERE {where}) ORDER BY timestamp, seq"
        )
    else:
        query = f"SELECT {BASE} FROM {relation} WHERE {where} ORDER BY timestamp, seq"  # noqa: S608 - only integers and quoted identifiers are interpolated
    table = con.sql(query).to_arrow_table()
    step_rows = options.segment_max_rows
    parts = [table.slice(i, step_rows) for i in range(0, table.num_rows, step_rows)]
    return [(part, fields) for part in parts if part.num_rows]


def write_group_day(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    gid: int,
    day_start_ms: int,
    cutoff: int | None,
    rows: int,
    files: SegmentFiles,
    options: StoreOptions,
    *,
    gid_column: bool = True,
) -> list[NewSegment]:
    lo = day_start_ms if cutoff is None else max(day_start_ms, cutoff)
    where = f"timestamp >= {lo} AND timestamp < {day_start_ms + DAY_MS}"
    if gid_column:
        where = f"gid = {gid} AND {where}"
    out = []
    for table, fields in build_parts(con, relation, where, rows, options):
        out.append(files.write(table, gid, json.dumps(fields)))
    return out


def seal(
    frozen: Frozen,
    retention: Mapping[int, int | None],
    cutoffs: Mapping[int, int | None],
    files: SegmentFiles,
    options: StoreOptions,
) -> SealResult:
    """Write the frozen rows as segments. `retention` lists the live groups."""
    result = SealResult()
    table = concat(frozen.pieces)
    if table.num_rows == 0:
        return result
    con = duckdb.connect()
    try:
        con.register("frozen", table)
        parts = con.sql(
            f"SELECT gid, timestamp // {DAY_MS} AS day, count(*), max(seq) "  # noqa: S608 - only integers and quoted identifiers are interpolated
            "FROM frozen GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        memtable_bytes: dict[int, int] = {}
        for piece in frozen.pieces:
            for gid, n in piece.group_bytes.items():
                memtable_bytes[gid] = memtable_bytes.get(gid, 0) + n
        for gid, day, rows, max_seq in parts:
            if gid not in retention:
                continue  # deleted meanwhile: its rows vanish here
            result.next_seqs[gid] = max(result.next_seqs.get(gid, 1), max_seq + 1)
            result.segments += write_group_day(
                con, "frozen", gid, day * DAY_MS, cutoffs.get(gid), rows, files, options
            )
        for gid in result.next_seqs:
            kept = sum(s.stored_bytes for s in result.segments if s.group_id == gid)
            result.stored_delta[gid] = kept - memtable_bytes.get(gid, 0)
    finally:
        con.close()
    return result
