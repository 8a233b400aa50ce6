"""FilterLogEvents (logs-api.md §6.2, §7.10): a group's matching events, page by page.

The query itself is `logd.filterevents` (run in a thread: DuckDB and Parquet block). This
module reads the request, checks what the model cannot (one of logGroupName /
logGroupIdentifier, logStreamNames xor logStreamNamePrefix, startFromHead=false only from
2024), and builds the token: ``pagination.encode("filter", digest, ascending, timestamp,
seq, width)``: the (timestamp, seq) of the last event returned plus a hash of the query,
so a token resumes exactly where its page ended and is refused by any other query
(`width` only sizes the next page's first time window: a speed hint, never a position). The
direction comes from the token when one is given. `unmask` and `interleaved` are accepted
and change nothing (no data protection; always interleaved).
"""

from __future__ import annotations

import asyncio
from typing import Any

from logd import errors
from logd.api import pagination
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext, one_group
from logd.filterevents import END_OF_TIME, MAX_LIMIT, Engine, FilterQuery, filter_events

#: by pattern family, as bench/filter_events.py measured (logd/filterevents.py)
ENGINE: Engine = "auto"
LISTING_KIND = "filter"
#: AWS accepts startFromHead=false only for startTime >= 2024-01-01T00:00:00Z
TAIL_READ_EARLIEST_MS = 1_704_067_200_000


def _query(req: Body, ascending: bool) -> FilterQuery:
    names, prefix = req.get("logStreamNames"), req.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise errors.InvalidParameterException(
            "logStreamNames and logStreamNamePrefix are mutually exclusive."
        )
    start = int(req.get("startTime", 0))
    end = int(req.get("endTime", END_OF_TIME))
    return FilterQuery(
        group=one_group(req),
        start_ms=start,
        end_ms=end,
        pattern=str(req.get("filterPattern") or ""),
        streams=tuple(str(n) for n in names) if names is not None else None,
        stream_prefix=str(prefix) if prefix else None,
        ascending=ascending,
    )


def _resume(token: str) -> tuple[str, bool, tuple[int, int], int]:
    """(query digest, ascending, cursor, window width hint) from a token."""
    key = pagination.decode(token, LISTING_KIND)
    if (
        len(key) != 5
        or not isinstance(key[0], str)
        or not isinstance(key[1], bool)
        or not all(type(v) is int and v >= 0 for v in key[2:])
    ):
        raise errors.InvalidParameterException(pagination.INVALID)
    return key[0], key[1], (key[2], key[3]), key[4]


async def filter_log_events(ctx: OpContext, req: Body) -> Body:
    token = req.get("nextToken")
    after = hint = None
    if token is not None:
        digest, ascending, after, hint = _resume(str(token))
    else:
        ascending = bool(req.get("startFromHead", True))
    query = _query(req, ascending)
    if token is not None and digest != query.digest():
        raise errors.InvalidParameterException(pagination.INVALID)
    if not ascending and query.start_ms < TAIL_READ_EARLIEST_MS:
        raise errors.InvalidParameterException(
            "startFromHead=false requires a startTime on or after 2024-01-01T00:00:00Z."
        )
    limit = int(req.get("limit", MAX_LIMIT))
    page = await asyncio.to_thread(
        filter_events,
        ctx.store,
        query,
        after=after,
        limit=limit,
        engine=ENGINE,
        width_hint=hint,
        database=ctx.filter_database,
    )
    out: dict[str, Any] = {"events": page.events, "searchedLogStreams": []}
    if page.cursor is not None:
        hint = page.width_hint or 0
        out["nextToken"] = pagination.encode(
            LISTING_KIND, query.digest(), ascending, *page.cursor, hint
        )
    return out


#: Operation name → `Operation`, for the API's registry.
OPERATIONS: dict[str, Operation] = {"FilterLogEvents": Operation(filter_log_events)}
