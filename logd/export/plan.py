"""Reading a task's events in bounded pieces, each stream in (timestamp, seq) order.

Pass 1 scans only `stream` and `timestamp` to count events per stream; the plan then
groups small streams into one scan and cuts a big stream into time windows, so no scan
holds more than about `scan_chunk_events` events (a window never splits equal
timestamps, since scans select by time). Pass 2 reads each unit with every column,
sorts it in Arrow and yields one stream run at a time, streams in name order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logd.export.columns import ColumnBuffers
from logd.export.layout import line_bytes

if TYPE_CHECKING:
    from logd.export.tasks import EventReader


@dataclass(frozen=True, slots=True)
class ScanUnit:
    streams: tuple[str, ...]
    start_ms: int
    end_ms: int  # exclusive
    events: int
    every_stream: bool = False
    """The unit holds every stream of the task: scan it by the task's prefix alone."""


@dataclass(frozen=True, slots=True)
class Run:
    """One stream's events of a unit, in (timestamp, seq) order: row `i` of the run is
    row `index[i]` of `messages` (the gather is left to the writer's threads)."""

    stream: str
    timestamps: np.ndarray
    seqs: np.ndarray
    sizes: np.ndarray  # rendered line bytes per event
    messages: pa.Array
    index: np.ndarray


@dataclass(frozen=True, slots=True)
class Plan:
    units: tuple[ScanUnit, ...]
    events: int
    streams: int


COLUMNS = ("stream", "timestamp", "seq", "message")


def _table(batches: Iterator[pa.RecordBatch], columns: Sequence[str]) -> pa.Table:
    selected = [batch.select(list(columns)) for batch in batches if batch.num_rows]
    if not selected:
        return pa.table({c: pa.array([], _TYPES[c]) for c in columns})
    return pa.Table.from_batches(selected)


_TYPES = {"stream": pa.string(), "timestamp": pa.int64(), "seq": pa.int64(), "message": pa.string()}


def make_plan(
    reader: EventReader,
    group: str,
    start_ms: int,
    end_ms: int,
    stream_prefix: str | None,
    chunk_events: int,
) -> Plan:
    """`end_ms` exclusive. Streams outside the prefix are dropped here too, so a reader
    that ignores `stream_prefix` still gives the right export."""
    table = _table(
        reader(
            [group], start_ms, end_ms, stream_prefix=stream_prefix, columns=("stream", "timestamp")
        ),
        ("stream", "timestamp"),
    )
    if stream_prefix:
        table = table.filter(pc.starts_with(table["stream"], stream_prefix))
    table = table.filter(
        pc.and_(pc.greater_equal(table["timestamp"], start_ms), pc.less(table["timestamp"], end_ms))
    )
    if table.num_rows == 0:
        return Plan(units=(), events=0, streams=0)
    # Counts per stream from a dictionary encoding: no string sort over the rows.
    encoded = pc.dictionary_encode(table["stream"].combine_chunks())
    names: list[str] = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(codes, minlength=len(names))
    stamps = table["timestamp"].to_numpy()
    units: list[ScanUnit] = []
    packed: list[str] = []
    packed_events = 0

    def flush_packed() -> None:
        nonlocal packed, packed_events
        if packed:
            units.append(ScanUnit(tuple(packed), start_ms, end_ms, packed_events))
        packed, packed_events = [], 0

    for code in sorted(range(len(names)), key=names.__getitem__):
        name, count = names[code], int(counts[code])
        if count == 0:
            continue
        if count <= chunk_events:
            if packed_events + count > chunk_events:
                flush_packed()
            packed.append(name)
            packed_events += count
            continue
        flush_packed()
        mine = np.sort(stamps[codes == code])
        units.extend(_windows(name, mine, start_ms, end_ms, chunk_events))
    flush_packed()
    streams = int(np.count_nonzero(counts))
    if len(units) == 1 and len(units[0].streams) == streams:
        # One scan holds the whole task: it needs no stream list (the prefix still
        # applies), and a reader that filters by a list would only copy every row.
        units = [replace(units[0], every_stream=True)]
    return Plan(units=tuple(units), events=table.num_rows, streams=streams)


def _windows(
    name: str, stamps: np.ndarray, start_ms: int, end_ms: int, chunk_events: int
) -> list[ScanUnit]:
    cuts = sorted({int(stamps[i]) for i in range(chunk_events, len(stamps), chunk_events)})
    edges = [start_ms, *(c for c in cuts if c > start_ms), end_ms]
    out = []
    for low, high in itertools.pairwise(edges):
        lo = int(np.searchsorted(stamps, low, side="left"))
        hi = int(np.searchsorted(stamps, high, side="left"))
        out.append(ScanUnit((name,), low, high, hi - lo))
    return out


def read_runs(
    reader: EventReader,
    group: str,
    unit: ScanUnit,
    stream_prefix: str | None = None,
    buffers: ColumnBuffers | None = None,
) -> Iterator[Run]:
    """The unit's streams in name order, each sorted.

    Sorting runs in numpy on (stream rank, timestamp, seq) with the stream column
    dictionary-encoded: no string comparisons per row, and no message moves here (the
    message column is concatenated into `buffers`, memory reused from unit to unit).
    """
    if unit.every_stream:
        scan = reader(
            [group], unit.start_ms, unit.end_ms, stream_prefix=stream_prefix, columns=COLUMNS
        )
    else:
        scan = reader(
            [group], unit.start_ms, unit.end_ms, streams=list(unit.streams), columns=COLUMNS
        )
    table = _table(scan, COLUMNS)
    if table.num_rows == 0:
        return
    encoded = pc.dictionary_encode(table["stream"].combine_chunks())
    names: list[str] = encoded.dictionary.to_pylist()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    wanted = set(unit.streams)
    allowed = np.array([name in wanted for name in names], dtype=bool)
    stamps = table["timestamp"].to_numpy()
    seqs = table["seq"].to_numpy()
    keep = allowed[codes] & (stamps >= unit.start_ms) & (stamps < unit.end_ms)
    index = np.arange(len(codes)) if keep.all() else np.flatnonzero(keep)
    ranks = rank[codes[index]]
    index = index[np.lexsort((seqs[index], stamps[index], ranks))]
    ranks = rank[codes[index]]
    stamps, seqs = stamps[index], seqs[index]
    messages = (buffers or ColumnBuffers()).concat(table["message"])
    sizes = line_bytes(messages)[index]
    starts = [0, *(np.flatnonzero(np.diff(ranks)) + 1).tolist()]
    ends = [*starts[1:], len(index)]
    for first, last in zip(starts, ends, strict=True):
        if last > first:
            yield Run(
                stream=names[order[int(ranks[first])]],
                timestamps=stamps[first:last],
                seqs=seqs[first:last],
                sizes=sizes[first:last],
                messages=messages,
                index=index[first:last],
            )
