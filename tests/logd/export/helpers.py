"""Events for export tests, a reader over them, and an independent model of the output.

`TableReader` is an `EventReader` over an Arrow table (the store's scan semantics:
`[start, end)`, batches in no particular order). `expected_objects` renders what an
export must contain with plain Python (datetime, sorted, a greedy loop), not with the
code under test.
"""

from __future__ import annotations

import datetime as dt
import gzip
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

SCHEMA = pa.schema(
    [
        ("group", pa.string()),
        ("stream", pa.string()),
        ("timestamp", pa.int64()),
        ("ingestion_time", pa.int64()),
        ("seq", pa.int64()),
        ("message", pa.string()),
    ]
)

BASE_MS = 1_714_557_600_000  # 2024-05-01T10:00:00Z
STREAMS = ("web-1", "web-2", "app/worker", "db", "émoji-☃")


def make_events(
    n: int, *, seed: int = 1, group: str = "/app/web", streams: Sequence[str] = STREAMS
) -> pa.Table:
    rng = random.Random(seed)
    words = ["GET", "/health", "200", "ms", "ERROR", "timeout", '{"k":"v"}', "naïve", "日本"]
    rows_stream, rows_ts, rows_msg = [], [], []
    for i in range(n):
        rows_stream.append(rng.choice(streams))
        rows_ts.append(BASE_MS + rng.randrange(0, 3_600_000))
        size = rng.choice([1, 3, 8, 20, 60])
        text = " ".join(rng.choice(words) for _ in range(size))
        if i % 97 == 0:
            text += "\n\tat stack.Frame(line)"  # multi-line event
        if i % 211 == 0:
            text = ""
        rows_msg.append(f"{i} {text}")
    # Duplicate timestamps, so ordering by (timestamp, seq) matters.
    for i in range(0, n, 50):
        rows_ts[i] = BASE_MS + 1_000
    return pa.table(
        {
            "group": [group] * n,
            "stream": rows_stream,
            "timestamp": rows_ts,
            "ingestion_time": [BASE_MS + 3_600_000] * n,
            "seq": list(range(1, n + 1)),
            "message": rows_msg,
        },
        schema=SCHEMA,
    )


class TableReader:
    """An EventReader over a table: filters like the store, yields shuffled batches."""

    def __init__(self, table: pa.Table, *, seed: int = 7, batch_rows: int = 997) -> None:
        self.table = table
        self._seed = seed
        self._batch_rows = batch_rows
        self.calls: list[dict[str, object]] = []

    def __call__(
        self,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        self.calls.append({"start": start_ms, "end": end_ms, "streams": streams})
        t = self.table
        mask = pc.and_(
            pc.is_in(t["group"], value_set=pa.array(list(groups), pa.string())),
            pc.and_(pc.greater_equal(t["timestamp"], start_ms), pc.less(t["timestamp"], end_ms)),
        )
        if streams is not None:
            mask = pc.and_(mask, pc.is_in(t["stream"], value_set=pa.array(list(streams))))
        if stream_prefix:
            mask = pc.and_(mask, pc.starts_with(t["stream"], stream_prefix))
        t = t.filter(mask)
        if columns is not None:
            t = t.select(list(columns))
        batches = t.to_batches(max_chunksize=self._batch_rows)
        random.Random(self._seed).shuffle(batches)
        yield from batches


def iso(ms: int) -> str:
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def expected_objects(
    table: pa.Table,
    *,
    start: int,
    end_inclusive: int,
    stream_prefix: str | None = None,
    max_object_bytes: int = 64 * 1024 * 1024,
) -> dict[tuple[str, int], bytes]:
    """(stream, part) → the uncompressed object text an export must write."""
    rows = [
        r
        for r in table.to_pylist()
        if start <= r["timestamp"] <= end_inclusive
        and (not stream_prefix or r["stream"].startswith(stream_prefix))
    ]
    out: dict[tuple[str, int], bytes] = {}
    for stream in sorted({r["stream"] for r in rows}):
        events = sorted(
            (r for r in rows if r["stream"] == stream), key=lambda r: (r["timestamp"], r["seq"])
        )
        part, current = 0, b""
        for r in events:
            line = f"{iso(r['timestamp'])} {r['message']}\n".encode()
            if current and len(current) + len(line) > max_object_bytes:
                out[(stream, part)] = current
                part, current = part + 1, b""
            current += line
        if current:
            out[(stream, part)] = current
    return out


def read_local_export(root: Path, bucket: str, prefix: str, task_id: str) -> dict[str, bytes]:
    """Relative key under the task folder → stored bytes."""
    folder = root / bucket / prefix / task_id
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
