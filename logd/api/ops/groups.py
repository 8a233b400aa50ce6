"""Log groups: CreateLogGroup, DeleteLogGroup, DescribeLogGroups, ListLogGroups.

Listings page by name through the catalog (`list_groups(prefix, after, limit)`); the
token holds the last name returned, so groups created or deleted between pages are
neither repeated nor skipped (logs-api.md §8). Filters the catalog cannot apply
(name pattern, class, identifiers) are applied here while paging on.
"""

from __future__ import annotations

from collections.abc import Callable

from logd import errors
from logd.api import pagination
from logd.api.auth import group_from_identifier
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext, blocking
from logd.store.catalog import GroupRecord

DEFAULT_CLASS = "STANDARD"
#: DescribeLogGroups with one of these classes returns both (logs-api.md §5.7).
LOW_COST_CLASSES = frozenset({"INFREQUENT_ACCESS", "ESSENTIALS"})


def describe_group(ctx: OpContext, group: GroupRecord) -> Body:
    """A `LogGroup` of the wire (logs-api.md §5.5) from a catalog record."""
    arn = ctx.scope.log_group_arn(group.name)
    out: Body = {
        "logGroupName": group.name,
        "creationTime": group.creation_time,
        "metricFilterCount": ctx.store.catalog.metric_filter_count(group.id),
        "arn": f"{arn}:*",
        "storedBytes": group.stored_bytes,
        "logGroupClass": group.log_group_class or DEFAULT_CLASS,
        "logGroupArn": arn,
        "deletionProtectionEnabled": group.deletion_protection,
    }
    if group.retention_days is not None:
        out["retentionInDays"] = group.retention_days
    if group.kms_key_id:
        out["kmsKeyId"] = group.kms_key_id
    return out


async def create_log_group(ctx: OpContext, req: Body) -> Body:
    await blocking(
        ctx.store.catalog.create_group,
        req["logGroupName"],
        now_ms=ctx.clock.now_ms(),
        log_group_class=req.get("logGroupClass", DEFAULT_CLASS),
        kms_key_id=req.get("kmsKeyId") or None,
        tags=req.get("tags") or {},
        deletion_protection=bool(req.get("deletionProtectionEnabled", False)),
    )
    return {}


async def delete_log_group(ctx: OpContext, req: Body) -> Body:
    group = ctx.store.catalog.require_group(req["logGroupName"])
    if group.deletion_protection:
        raise errors.ValidationException(
            "Deletion protection is enabled for this log group; disable it first."
        )
    await ctx.store.delete_group(group.name)
    return {}


async def _collect(
    ctx: OpContext,
    prefix: str | None,
    after: str | None,
    limit: int,
    keep: Callable[[GroupRecord], bool],
) -> tuple[list[GroupRecord], bool]:
    """Up to `limit` kept groups after `after`, and whether more may follow."""
    found: list[GroupRecord] = []
    while True:
        batch = await blocking(
            ctx.store.catalog.list_groups, prefix=prefix, after=after, limit=limit + 1
        )
        for group in batch:
            if not keep(group):
                after = group.name
                continue
            if len(found) == limit:
                return found, True
            found.append(group)
            after = group.name
        if len(batch) <= limit:
            return found, False


async def describe_log_groups(ctx: OpContext, req: Body) -> Body:
    prefix, pattern = req.get("logGroupNamePrefix"), req.get("logGroupNamePattern")
    identifiers = req.get("logGroupIdentifiers")
    if prefix is not None and pattern is not None:
        raise errors.InvalidParameterException(
            "logGroupNamePrefix and logGroupNamePattern are mutually exclusive."
        )
    if identifiers is not None and (prefix is not None or pattern is not None):
        raise errors.InvalidParameterException(
            "logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern."
        )
    wanted = req.get("logGroupClass")
    classes = LOW_COST_CLASSES if wanted in LOW_COST_CLASSES else {wanted}
    names = {group_from_identifier(i) for i in identifiers} if identifiers else None

    def keep(group: GroupRecord) -> bool:
        return (
            (pattern is None or pattern in group.name)
            and (names is None or group.name in names)
            and (wanted is None or (group.log_group_class or DEFAULT_CLASS) in classes)
        )

    after = pagination.decode(req["nextToken"], "groups")[0] if "nextToken" in req else None
    found, more = await _collect(ctx, prefix, after, req.get("limit", 50), keep)
    out: Body = {"logGroups": []}
    for group in found:
        item = describe_group(ctx, group)
        if pattern is not None:
            item = {k: item[k] for k in ("logGroupName", "creationTime", "arn")}
        out["logGroups"].append(item)
    if more and found:
        out["nextToken"] = pagination.encode("groups", found[-1].name)
    return out


async def list_log_groups(ctx: OpContext, req: Body) -> Body:
    terms = [t for t in (req.get("logGroupNamePattern") or "").split("|") if t]
    wanted = req.get("logGroupClass")

    def keep(group: GroupRecord) -> bool:
        if wanted and (group.log_group_class or DEFAULT_CLASS) != wanted:
            return False
        name = group.name
        return not terms or any(
            name.startswith(t[1:]) if t.startswith("^") else t in name for t in terms
        )

    after = pagination.decode(req["nextToken"], "list")[0] if "nextToken" in req else None
    found, more = await _collect(ctx, None, after, req.get("limit", 50), keep)
    out: Body = {
        "logGroups": [
            {
                "logGroupName": g.name,
                "logGroupArn": ctx.scope.log_group_arn(g.name),
                "logGroupClass": g.log_group_class or DEFAULT_CLASS,
            }
            for g in found
        ]
    }
    if more and found:
        out["nextToken"] = pagination.encode("list", found[-1].name)
    return out


OPERATIONS = {
    "CreateLogGroup": Operation(create_log_group),
    "DeleteLogGroup": Operation(delete_log_group),
    "DescribeLogGroups": Operation(describe_log_groups),
    "ListLogGroups": Operation(list_log_groups),
}
