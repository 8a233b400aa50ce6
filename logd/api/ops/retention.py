"""Retention: PutRetentionPolicy, DeleteRetentionPolicy (reads hide expired events at once)."""

from __future__ import annotations

from logd import errors
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext, blocking
from logd.model import RETENTION_DAYS


async def put_retention_policy(ctx: OpContext, req: Body) -> Body:
    days = req["retentionInDays"]
    if days not in RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in RETENTION_DAYS)
        raise errors.InvalidParameterException(
            f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
            f"satisfy constraint: Member must satisfy enum value set: [{allowed}]"
        )
    await blocking(ctx.store.catalog.put_retention, req["logGroupName"], days)
    return {}


async def delete_retention_policy(ctx: OpContext, req: Body) -> Body:
    await blocking(ctx.store.catalog.delete_retention, req["logGroupName"])
    return {}


OPERATIONS = {
    "PutRetentionPolicy": Operation(put_retention_policy),
    "DeleteRetentionPolicy": Operation(delete_retention_policy),
}
