"""FilterLogEvents' query: one page of a group's matching events after a cursor.

Order is (timestamp, seq) ascending (descending when the caller reads from the tail).
Sequence numbers grow with ingestion time inside a group, so this is CloudWatch's order
(timestamp, ingestionTime, event id). A page resumes strictly after the cursor, the
(timestamp, seq) of the last event the previous page returned: no event is repeated or
lost between pages, whatever is sealed, compacted or appended meanwhile (new events
before the cursor are, by definition, not part of the rest of this search).

Two engines give the same pages:

- ``sql``: the pattern's DuckDB form (``FilterPattern.sql``) over the
  store's `StoreSource` (pruned Parquet segments + memtable) with every user value a
  bound parameter, ``ORDER BY timestamp, seq LIMIT n`` (a top-n, columnar end to end);
- ``predicate``: ``Store.scan`` batches (the cursor pushed into the Parquet scan) through
  ``FilterPattern.match_batch``, then sorted with Arrow.

``auto`` (the default) picks by pattern family, from ``bench/filter_events.py`` over 1M
sealed events (2 cores): DuckDB wins for terms, regexes and JSON (its ``contains``,
RE2 and JSON functions are vectorised, and JSON patterns pre-check typed columns) and,
since pages share one database (`PageDatabase`), for match-all too (about 1.45x the
predicate's events per CPU second); the predicate wins for space-delimited patterns
(DuckDB's ``regexp_extract_all`` field cut is slow).
Everything here blocks (DuckDB, Parquet): the API runs it in a thread. The daemon keeps
one `PageDatabase` for it: each window's query opens a cursor on that database (about
0.03 ms) rather than a database of its own (about 15 ms, more than a whole small page).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from logd.errors import InvalidParameterException
from logd.model import EVENT_OVERHEAD_BYTES, event_id
from logd.store.store import Store
from query import FilterPattern, FilterPatternError, compile_filter_pattern

Engine = Literal["auto", "sql", "predicate"]
Cursor = tuple[int, int]  # (timestamp, seq) of the last event returned

#: A page holds at most this many bytes of events (message UTF-8 bytes + 26 each).
MAX_PAGE_BYTES = 1_048_576
MAX_LIMIT = 10_000
#: no end time: everything up to the end of representable time
END_OF_TIME = 2**62
MIN_WINDOW_MS = 1_000
#: `auto`: the engine per pattern family (see the module docstring)
AUTO_ENGINE: dict[str, Engine] = {
    "all": "sql",
    "terms": "sql",
    "regex": "sql",
    "json": "sql",
    "space": "predicate",
}
_COLUMNS = ("stream", "timestamp", "ingestion_time", "seq", "message")


@dataclass(frozen=True, slots=True)
class FilterQuery:
    """What FilterLogEvents searches; the page size and the cursor are not part of it."""

    group: str
    start_ms: int = 0  # inclusive
    end_ms: int = END_OF_TIME  # inclusive (the model: "later than this time are not returned")
    pattern: str = ""
    streams: tuple[str, ...] | None = None
    stream_prefix: str | None = None
    ascending: bool = True

    def digest(self) -> str:
        """A short hash of the query, carried in tokens so one cannot resume another query."""
        raw = orjson.dumps(
            [
                self.group,
                self.start_ms,
                self.end_ms,
                self.pattern,
                self.streams,
                self.stream_prefix,
                self.ascending,
            ]
        )
        return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class FilterPage:
    events: list[dict[str, Any]]  # wire form: logStreamName, timestamp, message, ...
    cursor: Cursor | None  # resume after this; None when the search is complete
    width_hint: int | None = None  # first window width for the next page (ms)


class PageDatabase:
    """One in-memory DuckDB database shared by FilterLogEvents' pages (thread-safe).

    Each query takes `connection()`, a cursor: a connection of its own (its temporary
    views and registered tables go when it closes) on the shared database."""

    def __init__(self) -> None:
        self._db = duckdb.connect()
        self._lock = threading.Lock()

    def connection(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._db.cursor()

    def close(self) -> None:
        with self._lock:
            self._db.close()


def compile_query_pattern(text: str) -> FilterPattern:
    try:
        return compile_filter_pattern(text)
    except FilterPatternError as exc:
        raise InvalidParameterException(f"Invalid filter pattern: {exc.headline()}") from exc


def filter_events(
    store: Store,
    query: FilterQuery,
    *,
    after: Cursor | None = None,
    limit: int = MAX_LIMIT,
    max_bytes: int = MAX_PAGE_BYTES,
    engine: Engine = "auto",
    width_hint: int | None = None,
    database: PageDatabase | None = None,
) -> FilterPage:
    """One page: at most `limit` events and `max_bytes` bytes after `after` (blocking).

    The search reads time windows in order (see `_first_window`); `width_hint`, the
    `FilterPage.width_hint` of the previous page, sizes the first one. `database`: where
    the SQL engine opens its connections (None: a database of its own per window).
    """
    pattern = compile_query_pattern(query.pattern)
    store.catalog.require_group(query.group)
    if query.streams is not None and not query.streams:
        return FilterPage([], None)
    bounds = _first_window(store, query, after, limit + 1, max_bytes)
    if bounds is None:
        return FilterPage([], None)
    lo, hi, width = bounds
    if width_hint is not None:
        width = max(MIN_WINDOW_MS, width_hint)
    if engine == "auto":
        engine = AUTO_ENGINE[pattern.family]
    run = functools.partial(_sql_rows, database) if engine == "sql" else _predicate_rows
    want = limit + 1  # one more than the page: is there anything after it?
    found: list[pa.Table] = []
    rows = size = 0
    origin = lo if query.ascending else hi
    while lo < hi:
        # Every event of a window sorts before every event of the next one, so the
        # search ends at the first window that completes the page.
        w_lo, w_hi = (lo, min(hi, lo + width)) if query.ascending else (max(lo, hi - width), hi)
        table = run(store, query, pattern, after, want, w_lo, w_hi)
        got, got_bytes = table.num_rows, _bytes(table) if table.num_rows else 0
        if got:
            found.append(table)
            rows, size = rows + got, size + got_bytes
        if rows >= want or size > max_bytes:  # the page is full and something follows it
            break
        lo, hi = (w_hi, hi) if query.ascending else (lo, w_lo)
        # grow by what the window's density says is still missing (x1.25), 1x to 16x
        missing = min((want - rows) / got, (max_bytes - size) / got_bytes) if got else 16.0
        width = int(width * min(16.0, max(1.0, 1.25 * missing)))
    if not found:
        return FilterPage([], None)
    page = _page(pa.concat_tables(found), limit, max_bytes)
    if page.cursor is not None:
        covered = abs(page.cursor[0] - origin) + 1
        page = FilterPage(page.events, page.cursor, max(MIN_WINDOW_MS, covered * 5 // 4))
    return page


def _bytes(table: pa.Table) -> int:
    """What events weigh against the page limit: message UTF-8 bytes + 26 each."""
    messages = table.column("message")
    total = pc.sum(pc.binary_length(messages)).as_py() or 0
    return int(total) + EVENT_OVERHEAD_BYTES * len(messages)


def _first_window(
    store: Store, query: FilterQuery, after: Cursor | None, want: int, max_bytes: int
) -> tuple[int, int, int] | None:
    """(lo, hi, width): the range still to search, clipped to where the group has data,
    and a first window width that should hold a few pages' worth of events (a page:
    `want` events or `max_bytes` bytes) at the stored density. None: nothing to search."""
    lo, hi = query.start_ms, min(query.end_ms, END_OF_TIME - 1) + 1
    if after is not None:
        if query.ascending:
            lo = max(lo, after[0])
        else:
            hi = min(hi, after[0] + 1)
    if lo >= hi:
        return None
    snap = store.snapshot([query.group], lo, hi)
    gids = set(snap.names)
    spans = [(s.min_ts, s.max_ts, s.rows, s.stored_bytes) for s in snap.segments]
    spans += [
        (p.min_ts, p.max_ts, p.data.num_rows, sum(p.group_bytes.get(g, 0) for g in gids))
        for p in snap.pieces
        if p.gids & gids
    ]
    if not spans:
        return None
    lo = max(lo, min(s[0] for s in spans))
    hi = min(hi, max(s[1] for s in spans) + 1)
    if lo >= hi:
        return None
    stored = max(1, sum(s[2] for s in spans))
    per_event = max(EVENT_OVERHEAD_BYTES, sum(s[3] for s in spans) // stored)
    page = max(1, min(want, max_bytes // per_event))
    return lo, hi, max(MIN_WINDOW_MS, int((hi - lo) * min(1.0, 4 * page / stored)))


def _page(table: pa.Table, limit: int, max_bytes: int) -> FilterPage:
    """Cut the (limit + 1)-row table to the page and decide whether more may follow."""
    n = min(table.num_rows, limit)
    if n:
        sizes = pc.add(pc.binary_length(table.column("message")), EVENT_OVERHEAD_BYTES)
        total = pc.cumulative_sum(sizes).to_numpy()
        fits = int((total <= max_bytes).sum())
        n = max(1, min(n, fits))  # one event always fits: events are at most 1 MB
    more = table.num_rows > n
    page = table.slice(0, n)
    streams = page.column("stream").to_pylist()
    timestamps = page.column("timestamp").to_pylist()
    ingestion = page.column("ingestion_time").to_pylist()
    seqs = page.column("seq").to_pylist()
    messages = page.column("message").to_pylist()
    events = [
        {
            "logStreamName": s,
            "timestamp": t,
            "message": m,
            "ingestionTime": i,
            "eventId": event_id(q),
        }
        for s, t, m, i, q in zip(streams, timestamps, messages, ingestion, seqs, strict=True)
    ]
    cursor = (timestamps[-1], seqs[-1]) if more and events else None
    return FilterPage(events, cursor)


def _sql_rows(
    database: PageDatabase | None,
    store: Store,
    query: FilterQuery,
    pattern: FilterPattern,
    after: Cursor | None,
    n: int,
    start: int,
    end: int,
) -> pa.Table:
    con = database.connection() if database is not None else duckdb.connect()
    try:
        view, typed = store.source().bind_typed(
            con, groups=[query.group], start_ms=start, end_ms=end
        )
        sql = _sql_text(view, typed, query, pattern, after, n)
        return con.sql(sql[0], params=sql[1]).to_arrow_table()
    finally:
        con.close()


def _sql_text(
    view: str,
    typed: dict[str, str],
    query: FilterQuery,
    pattern: FilterPattern,
    after: Cursor | None,
    n: int,
) -> tuple[str, list[object]]:
    """The page's query over the bound view; a JSON pattern reads the typed `f.` columns
    the view holds exactly (`bind_typed`) to skip most JSON parsing."""
    predicate, params = pattern.sql("message", typed)
    args: list[object] = list(params)

    def param(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    where = [predicate]
    if query.streams is not None:
        where.append(f"list_contains({param(list(query.streams))}::VARCHAR[], stream)")
    if query.stream_prefix:
        where.append(f"starts_with(stream, {param(query.stream_prefix)})")
    if after is not None:
        ts, seq = param(after[0]), param(after[1])
        op = ">" if query.ascending else "<"
        where.append(f"(timestamp {op} {ts} OR (timestamp = {ts} AND seq {op} {seq}))")
    direction = "ASC" if query.ascending else "DESC"
    sql = (
        f"SELECT {', '.join(_COLUMNS)} FROM {view} WHERE {' AND '.join(where)} "  # noqa: S608 - only our identifiers and $n parameters; user values are bound
        f"ORDER BY timestamp {direction}, seq {direction} LIMIT {int(n)}"
    )
    return sql, args


def _predicate_rows(
    store: Store,
    query: FilterQuery,
    pattern: FilterPattern,
    after: Cursor | None,
    n: int,
    start: int,
    end: int,
) -> pa.Table:
    expr: pc.Expression | None = None
    if after is not None:
        ts, seq = pc.field("timestamp"), pc.field("seq")
        if query.ascending:
            expr = (ts > after[0]) | ((ts == after[0]) & (seq > after[1]))
        else:
            expr = (ts < after[0]) | ((ts == after[0]) & (seq < after[1]))
    order = "ascending" if query.ascending else "descending"
    keys = [("timestamp", order), ("seq", order)]
    kept: list[pa.Table] = []
    rows = 0
    everything = pattern.family == "all"
    for batch in store.scan(
        [query.group],
        start,
        end,
        streams=query.streams,
        stream_prefix=query.stream_prefix,
        columns=_COLUMNS,
        predicate=expr,
    ):
        if not everything:
            mask = pattern.match_batch(_strings(batch.column("message")))
            batch = batch.filter(pa.array(mask, pa.bool_()))
        if batch.num_rows:
            kept.append(pa.Table.from_batches([batch]))
            rows += batch.num_rows
        if rows > 4 * n + 65_536:  # keep memory bounded: only the best n can be returned
            kept = [_top(kept, keys, n)]
            rows = kept[0].num_rows
    if not kept:
        return pa.table({c: pa.array([], t) for c, t in _types().items()})
    return _top(kept, keys, n)


def _top(tables: list[pa.Table], keys: list[tuple[str, str]], n: int) -> pa.Table:
    table = pa.concat_tables(tables)
    return table.take(pc.sort_indices(table, sort_keys=keys)[:n])


def _strings(column: pa.Array) -> Sequence[str]:
    values: list[str] = column.to_pylist()
    return values


def _types() -> dict[str, pa.DataType]:
    return {
        "stream": pa.string(),
        "timestamp": pa.int64(),
        "ingestion_time": pa.int64(),
        "seq": pa.int64(),
        "message": pa.string(),
    }
