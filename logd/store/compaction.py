"""Compaction: merge small segments of one group and day, crash-safely.

`plan` (pure) picks runs of small segments; `merge` (worker thread) writes the merged
segment — rows past retention dropped, fields rediscovered. The store then swaps old for
new in one catalog transaction and only after that deletes the old files (after a grace
period for running readers). A crash before the swap leaves an orphan new file, after it
orphan old files; both are removed by the next open or sweep (R-23). Retention rewrites
of partially expired segments go through `merge` with a run of one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc

from logd.store.catalog import NewSegment, SegmentRecord
from logd.store.options import StoreOptions
from logd.store.schema import SEGMENT_BASE_SCHEMA
from logd.store.sealer import extraction_connection, sort_rows, write_sorted
from logd.store.segments import SegmentFiles
from logd.store.tombstones import hidden


def plan(segments: Sequence[SegmentRecord], options: StoreOptions) -> list[list[SegmentRecord]]:
    """Runs of small segments (same group and day) worth merging, each ≤ the target size."""
    by_key: dict[tuple[int, str], list[SegmentRecord]] = defaultdict(list)
    for s in segments:
        if s.bytes < options.compaction_small_bytes:
            by_key[(s.group_id, s.day)].append(s)
    runs: list[list[SegmentRecord]] = []
    for key in sorted(by_key):
        small = sorted(by_key[key], key=lambda s: (s.min_seq, s.id))
        if len(small) < options.compaction_min_segments:
            continue
        run: list[SegmentRecord] = []
        size = rows = 0
        for s in small:
            if run and (
                size + s.bytes > options.segment_target_bytes
                or rows + s.rows > options.segment_max_rows
            ):
                if len(run) >= 2:
                    runs.append(run)
                run, size, rows = [], 0, 0
            run.append(s)
            size += s.bytes
            rows += s.rows
        if len(run) >= 2:
            runs.append(run)
    return runs


def merge(
    run: Sequence[SegmentRecord],
    cutoff: int | None,
    files: SegmentFiles,
    options: StoreOptions,
    tombstones: Mapping[str, int] | None = None,
) -> list[NewSegment]:
    """Write the rows of `run` (minus expired and deleted-stream ones) as new segments;
    the old ones stay untouched. Fields are rediscovered for the merged rows."""
    tables = [files.read_table(s, list(SEGMENT_BASE_SCHEMA.names)) for s in run]
    table = pa.concat_tables([t.cast(SEGMENT_BASE_SCHEMA) for t in tables])
    keep = []
    if cutoff is not None:
        keep.append(pc.greater_equal(table["timestamp"], cutoff))
    if tombstones:
        keep.append(pc.invert(hidden(table["stream"], table["seq"], tombstones)))
    if keep:
        table = table.filter(reduce(pc.and_, keep))
    if table.num_rows == 0:
        return []
    table = sort_rows(table, ["timestamp", "seq"])
    con = extraction_connection()
    try:
        return write_sorted(con, table, run[0].group_id, files, options)
    finally:
        con.close()
