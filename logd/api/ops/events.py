"""Events: PutLogEvents (the hot path) and GetLogEvents.

PutLogEvents validates its ``logEvents`` member itself: the body's list of objects
becomes two columns (`InputEvents`) in one pass, checked with whole-column tests; only
a batch that fails them goes through the generic model validator, to get AWS's exact
messages. CloudWatch's ingest rules (existence, sizes, order, time window, span) are the
store's (``logd/store/ingest.py``); this module maps its `AppendResult` to the wire.

GetLogEvents pages through one stream in (timestamp, seq) order with ``f/``/``b/``
tokens (`logd.api.pagination`); at the end of a direction it returns the token it was
given, byte-identical, until new events arrive.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from logd import errors
from logd.api import pagination
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext, one_group
from logd.api.validation import raise_failures
from logd.model import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, InputEvents

SEQUENCE_TOKEN_DIGITS = 56


def _columns(ctx: OpContext, req: Body) -> InputEvents:
    raw = req.get("logEvents")
    try:
        timestamps = [e["timestamp"] for e in raw]  # type: ignore[union-attr]
        messages = [e["message"] for e in raw]  # type: ignore[union-attr]
        ok = (
            isinstance(raw, list)
            and 1 <= len(raw) <= MAX_BATCH_EVENTS
            and all(type(t) is int for t in timestamps)
            and all(type(m) is str for m in messages)
            and min(timestamps) >= 0
            and min(map(len, messages)) >= 1
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        failures: list[str] = []
        ctx.validator.check_for("PutLogEvents")(req, "", failures)
        raise_failures(failures)
        raise errors.SerializationException("logEvents must be a list of InputLogEvent objects.")
    return InputEvents(timestamps, messages)


async def put_log_events(ctx: OpContext, req: Body) -> Body:
    started = ctx.clock.monotonic()
    events = _columns(ctx, req)
    if ctx.store.appends_wait:  # a retryable error now, not a request left hanging
        ctx.metrics.ingest_rejected.inc(len(events), reason="log_full")
        raise errors.ServiceUnavailableException(
            "The log store is full and waits for its readers (sealing, subscriptions) to "
            "catch up; the events were not stored. Retry later."
        )
    try:
        result = await ctx.store.append(req["logGroupName"], req["logStreamName"], events)
    except errors.InvalidParameterException:
        ctx.metrics.ingest_rejected.inc(len(events), reason="invalid_request")
        raise
    out: Body = {"nextSequenceToken": f"{result.last_seq or 0:0{SEQUENCE_TOKEN_DIGITS}d}"}
    ctx.metrics.ingest_events.inc(result.accepted, path="http")
    rejected = result.rejected
    if rejected is not None:
        info: Body = {}
        if rejected.too_old_end is not None:
            info["tooOldLogEventEndIndex"] = rejected.too_old_end
            ctx.metrics.ingest_rejected.inc(rejected.too_old_end, reason="too_old")
        if rejected.expired_end is not None:
            info["expiredLogEventEndIndex"] = rejected.expired_end
            ctx.metrics.ingest_rejected.inc(
                rejected.expired_end - (rejected.too_old_end or 0), reason="expired"
            )
        if rejected.too_new_start is not None:
            info["tooNewLogEventStartIndex"] = rejected.too_new_start
            ctx.metrics.ingest_rejected.inc(len(events) - rejected.too_new_start, reason="too_new")
        out["rejectedLogEventsInfo"] = info
    if result.accepted:
        size = sum(len(m.encode()) for m in events.messages) + EVENT_OVERHEAD_BYTES * len(events)
        ctx.metrics.ingest_bytes.inc(size * result.accepted / len(events), path="http")
    ctx.metrics.ingest_ack_seconds.observe(ctx.clock.monotonic() - started)
    return out


EVENT_COLUMNS = ["timestamp", "ingestion_time", "seq", "message"]
EMPTY = pa.schema(
    [("timestamp", pa.int64()), ("ingestion_time", pa.int64()), ("seq", pa.int64()),
     ("message", pa.string())]
)  # fmt: skip
FAR_FUTURE_MS = 2**62


def _stream_events(ctx: OpContext, group: str, stream: str, start: int, end: int) -> pa.Table:
    """The stream's events in [start, end), sorted by (timestamp, seq)."""
    batches = ctx.store.scan([group], start, end, streams=[stream], columns=EVENT_COLUMNS)
    tables = [pa.Table.from_batches([b]).select(EVENT_COLUMNS).cast(EMPTY) for b in batches]
    table = pa.concat_tables(tables) if tables else EMPTY.empty_table()
    return table.sort_by([("timestamp", "ascending"), ("seq", "ascending")])


def _after(table: pa.Table, ts: int, seq: int) -> Any:
    t, s = table["timestamp"], table["seq"]
    return pc.or_(pc.greater(t, ts), pc.and_(pc.equal(t, ts), pc.greater(s, seq)))


def _before(table: pa.Table, ts: int, seq: int) -> Any:
    t, s = table["timestamp"], table["seq"]
    return pc.or_(pc.less(t, ts), pc.and_(pc.equal(t, ts), pc.less(s, seq)))


def _fit(sizes: list[int], limit: int, from_end: bool) -> int:
    """How many events (from the start or the end) fit in `limit` and 1 MB."""
    total = 0
    count = 0
    for size in reversed(sizes) if from_end else sizes:
        if count == limit or total + size > MAX_BATCH_BYTES:
            break
        total += size
        count += 1
    return count


def _page(table: pa.Table, limit: int, forward: bool) -> pa.Table:
    """The first (forward) or last `limit` events of `table` that fit in 1 MB."""
    window = table.slice(0, limit) if forward else table.slice(max(table.num_rows - limit, 0))
    sizes = pc.add(pc.binary_length(window["message"]), EVENT_OVERHEAD_BYTES).to_pylist()
    count = _fit(sizes, limit, from_end=not forward)
    return window.slice(0, count) if forward else window.slice(window.num_rows - count, count)


async def get_log_events(ctx: OpContext, req: Body) -> Body:
    group = one_group(req)
    stream = req["logStreamName"]
    record = ctx.store.catalog.get_stream(group, stream)  # raises for a missing group
    if record is None:
        raise errors.ResourceNotFoundException("The specified log stream does not exist.")
    start = req.get("startTime", 0)
    end = req.get("endTime", FAR_FUTURE_MS)
    limit = req.get("limit", MAX_BATCH_EVENTS)
    token = req.get("nextToken")
    if token is not None:
        direction, ts, seq = pagination.parse_event_token(token)
        forward = direction == "f"
        # only the side of the position the token points to needs reading
        start, end = (max(start, ts), end) if forward else (start, min(end, ts + 1))
    else:
        forward = bool(req.get("startFromHead", False))
    table = await asyncio.to_thread(_stream_events, ctx, group, stream, start, end)
    # DeleteLogStream drops the catalog row but not (yet) the events: a stream created
    # again under the same name must not show them. Its events were all ingested after
    # it was created (the store's ingestion time never goes back within a group).
    table = table.filter(pc.greater_equal(table["ingestion_time"], record.creation_time))
    if token is not None:
        table = table.filter(_after(table, ts, seq) if forward else _before(table, ts, seq))
    page = _page(table, limit, forward)
    if page.num_rows == 0:
        if token is not None:
            return {"events": [], "nextForwardToken": token, "nextBackwardToken": token}
        edge = pagination.event_token("f", 0, 0)
        return {"events": [], "nextForwardToken": edge, "nextBackwardToken": "b" + edge[1:]}
    ts_col = page["timestamp"].to_pylist()
    seq_col = page["seq"].to_pylist()
    events = [
        {"timestamp": t, "message": m, "ingestionTime": i}
        for t, m, i in zip(
            ts_col, page["message"].to_pylist(), page["ingestion_time"].to_pylist(), strict=True
        )
    ]
    return {
        "events": events,
        "nextForwardToken": pagination.event_token("f", ts_col[-1], seq_col[-1]),
        "nextBackwardToken": pagination.event_token("b", ts_col[0], seq_col[0]),
    }


OPERATIONS = {
    "PutLogEvents": Operation(put_log_events, skip_validation=frozenset({"logEvents"})),
    "GetLogEvents": Operation(get_log_events),
}
