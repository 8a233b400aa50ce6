"""Log streams: CreateLogStream, DeleteLogStream, DescribeLogStreams.

DescribeLogStreams pages in the catalog's order (`list_streams`: by name, or by
(last event time, name), either direction); the token holds the sort key of the last
stream returned and names the ordering it belongs to.
"""

from __future__ import annotations

from logd import errors
from logd.api import pagination
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext, blocking, one_group
from logd.store.catalog import StreamKey, StreamRecord, stream_sort_key


def describe_stream(ctx: OpContext, group: str, stream: StreamRecord) -> Body:
    """A `LogStream` of the wire (logs-api.md §5.6)."""
    out: Body = {
        "logStreamName": stream.name,
        "creationTime": stream.creation_time,
        "arn": ctx.scope.log_stream_arn(group, stream.name),
        "storedBytes": 0,
    }
    if stream.first_event_ts is not None:
        out["firstEventTimestamp"] = stream.first_event_ts
    if stream.last_event_ts is not None:
        out["lastEventTimestamp"] = stream.last_event_ts
    if stream.last_ingestion_time is not None:
        out["lastIngestionTime"] = stream.last_ingestion_time
        out["uploadSequenceToken"] = str(stream.last_ingestion_time)
    return out


async def create_log_stream(ctx: OpContext, req: Body) -> Body:
    await blocking(
        ctx.store.catalog.create_stream,
        req["logGroupName"],
        req["logStreamName"],
        now_ms=ctx.clock.now_ms(),
    )
    return {}


async def delete_log_stream(ctx: OpContext, req: Body) -> Body:
    await ctx.store.delete_stream(req["logGroupName"], req["logStreamName"])
    return {}


def _key_of_token(token: str, kind: str, by_time: bool) -> StreamKey:
    key = pagination.decode(token, kind)
    if by_time:
        if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
            raise errors.InvalidParameterException(pagination.INVALID)
        return (key[0], key[1])
    if len(key) != 1 or not isinstance(key[0], str):
        raise errors.InvalidParameterException(pagination.INVALID)
    return str(key[0])


async def describe_log_streams(ctx: OpContext, req: Body) -> Body:
    group = one_group(req)
    prefix = req.get("logStreamNamePrefix")
    order_by = req.get("orderBy", "LogStreamName")
    descending = bool(req.get("descending", False))
    limit = req.get("limit", 50)
    if prefix is not None and order_by == "LastEventTime":
        raise errors.InvalidParameterException(
            "Cannot order by LastEventTime with a logStreamNamePrefix."
        )
    by_time = order_by == "LastEventTime"
    kind = f"streams:{order_by}:{int(descending)}"
    after = _key_of_token(req["nextToken"], kind, by_time) if "nextToken" in req else None
    page = await blocking(
        ctx.store.catalog.list_streams,
        group,
        prefix=prefix,
        order_by=order_by,
        descending=descending,
        after=after,
        limit=limit + 1,
    )
    out: Body = {"logStreams": [describe_stream(ctx, group, s) for s in page[:limit]]}
    if len(page) > limit:
        last = stream_sort_key(page[limit - 1], order_by)
        out["nextToken"] = pagination.encode(kind, *(last if isinstance(last, tuple) else [last]))
    return out


OPERATIONS = {
    "CreateLogStream": Operation(create_log_stream),
    "DeleteLogStream": Operation(delete_log_stream),
    "DescribeLogStreams": Operation(describe_log_streams),
}
