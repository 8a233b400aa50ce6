"""Tags: TagResource, UntagResource, ListTagsForResource and the legacy by-name forms.

Taggable resources are log groups, named by their ARN without ``:*`` (logs-api.md §7.12).
The catalog checks keys and values and merges atomically; the 50-tag limit is checked
here first so that `TooManyTagsException` carries the ``resourceName`` member.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from logd import errors
from logd.api.auth import group_from_identifier
from logd.api.ops import Body, Operation
from logd.api.ops.base import OpContext, blocking
from logd.store.catalog import check_tags

MAX_TAGS = 50


def _group_of_arn(ctx: OpContext, arn: str) -> str:
    if ":log-group:" not in arn or arn.endswith(":*"):
        raise errors.InvalidParameterException(f"Invalid resource ARN: {arn}")
    name = group_from_identifier(arn)
    if arn != ctx.scope.log_group_arn(name):
        raise errors.ResourceNotFoundException(f"The specified resource does not exist: {arn}")
    return name


async def _tag(ctx: OpContext, group: str, tags: Mapping[str, str], resource: str) -> None:
    check_tags(tags)  # the request's own faults come before the resource's state
    current = ctx.store.catalog.require_group(group).tags
    if len({*current, *tags}) > MAX_TAGS:
        raise errors.TooManyTagsException(
            f"A resource can have no more than {MAX_TAGS} tags.", resourceName=resource
        )
    await blocking(ctx.store.catalog.tag_group, group, tags)


async def _untag(ctx: OpContext, group: str, keys: Iterable[str]) -> None:
    await blocking(ctx.store.catalog.untag_group, group, list(keys))


def _tags_of(ctx: OpContext, group: str) -> Body:
    return {"tags": dict(ctx.store.catalog.require_group(group).tags)}


async def tag_resource(ctx: OpContext, req: Body) -> Body:
    arn = req["resourceArn"]
    await _tag(ctx, _group_of_arn(ctx, arn), req["tags"], arn)
    return {}


async def untag_resource(ctx: OpContext, req: Body) -> Body:
    await _untag(ctx, _group_of_arn(ctx, req["resourceArn"]), req["tagKeys"])
    return {}


async def list_tags_for_resource(ctx: OpContext, req: Body) -> Body:
    return _tags_of(ctx, _group_of_arn(ctx, req["resourceArn"]))


async def tag_log_group(ctx: OpContext, req: Body) -> Body:
    name = req["logGroupName"]
    await _tag(ctx, name, req["tags"], ctx.scope.log_group_arn(name))
    return {}


async def untag_log_group(ctx: OpContext, req: Body) -> Body:
    await _untag(ctx, req["logGroupName"], req["tags"])  # the member holds a list of keys
    return {}


async def list_tags_log_group(ctx: OpContext, req: Body) -> Body:
    return _tags_of(ctx, req["logGroupName"])


OPERATIONS = {
    "TagResource": Operation(tag_resource),
    "UntagResource": Operation(untag_resource),
    "ListTagsForResource": Operation(list_tags_for_resource),
    "TagLogGroup": Operation(tag_log_group),
    "UntagLogGroup": Operation(untag_log_group),
    "ListTagsLogGroup": Operation(list_tags_log_group),
}
