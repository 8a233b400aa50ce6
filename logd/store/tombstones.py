"""Deleted streams, hidden at read time (DeleteLogStream) until compaction drops them.

Deleting a stream records a tombstone `(group id, stream, below_seq)` in the catalog in
the same transaction that removes the stream: `below_seq` is the group's next sequence
number at that moment, so every event the stream ever had (acknowledged or queued) has a
smaller seq, and a stream re-created under the same name only gets larger ones. Every
read (scan, StoreSource, sealer, compaction) drops rows with `stream = name AND seq <
below_seq`, exactly as retention drops rows before its cutoff. The sweep rewrites the
segments that still hold such rows, and once none is left (and the memtable was sealed
past the deletion) it forgets the tombstone.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from logd.store.fields import sql_ident, sql_string

Tombstones = Mapping[int, Mapping[str, int]]
"""group id -> stream name -> hide events with seq below this."""


def hidden(stream: pa.ChunkedArray, seq: pa.ChunkedArray, tomb: Mapping[str, int]) -> pa.Array:
    """Boolean mask over one group's rows: those of a deleted stream, written before."""
    names = pa.array(list(tomb), pa.string())
    below = pa.array(list(tomb.values()), pa.int64())
    limit = pc.take(below, pc.index_in(stream, value_set=names))
    return pc.fill_null(pc.less(seq, limit), False)


def visible_sql(tomb: Mapping[str, int]) -> str:
    """DuckDB condition keeping one group's rows that no tombstone hides."""
    if not tomb:
        return "TRUE"
    cases = " ".join(f"WHEN {sql_string(s)} THEN {int(b)}" for s, b in sorted(tomb.items()))
    return f"{sql_ident('seq')} >= (CASE {sql_ident('stream')} {cases} ELSE 0 END)"
