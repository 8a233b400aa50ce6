"""PutSubscriptionFilter, DescribeSubscriptionFilters, DeleteSubscriptionFilter
(logs-api.md §7.13, subscriptions-and-export.md §1).

Each handler takes the `SubscriptionService` and the decoded JSON body (already checked
against botocore's model by the server; the checks here cover what a direct caller
could still get wrong) and returns the response body. Errors are `logd.errors.*`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from logd.errors import InvalidParameterException
from logd.model import LOG_GROUP_NAME_RE, LOG_STREAM_NAME_RE
from logd.subscriptions.service import SubscriptionService


def _string(
    body: dict[str, Any], name: str, *, required: bool = False, low: int = 1, high: int = 512
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidParameterException(f"Missing required parameter: {name}")
        return None
    if not isinstance(value, str):
        raise InvalidParameterException(f"Parameter {name} must be a string.")
    if not low <= len(value) <= high:
        raise InvalidParameterException(
            f"Parameter {name} must be between {low} and {high} characters long."
        )
    return value


def _group(body: dict[str, Any]) -> str:
    group = _string(body, "logGroupName", required=True)
    if group is None or not LOG_GROUP_NAME_RE.fullmatch(group):
        raise InvalidParameterException("Invalid logGroupName pattern.")
    return group


def _filter_name(body: dict[str, Any], member: str = "filterName") -> str | None:
    name = _string(body, member, required=member == "filterName")
    if name is not None and not LOG_STREAM_NAME_RE.fullmatch(name):  # [^:*]*
        raise InvalidParameterException(f"Invalid {member} pattern.")
    return name


async def put_subscription_filter(ctx: SubscriptionService, body: dict[str, Any]) -> dict[str, Any]:
    pattern = _string(body, "filterPattern", required=True, low=0, high=1024)
    destination = _string(body, "destinationArn", required=True, high=2048)
    system_fields = body.get("emitSystemFields")
    if system_fields is not None and not (
        isinstance(system_fields, list) and all(isinstance(v, str) for v in system_fields)
    ):
        raise InvalidParameterException("Parameter emitSystemFields must be a list of strings.")
    transformed = body.get("applyOnTransformedLogs", False)
    if not isinstance(transformed, bool):
        raise InvalidParameterException("Parameter applyOnTransformedLogs must be a boolean.")
    await ctx.put_subscription_filter(
        group=_group(body),
        name=_filter_name(body) or "",
        pattern=pattern or "",
        destination_arn=destination or "",
        role_arn=_string(body, "roleArn", high=2048),
        distribution=_string(body, "distribution"),
        apply_on_transformed_logs=transformed,
        field_selection_criteria=_string(body, "fieldSelectionCriteria", low=0, high=2000),
        emit_system_fields=system_fields,
    )
    return {}


async def describe_subscription_filters(
    ctx: SubscriptionService, body: dict[str, Any]
) -> dict[str, Any]:
    limit = body.get("limit", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        raise InvalidParameterException("Parameter limit must be between 1 and 50.")
    filters, token = ctx.describe_subscription_filters(
        group=_group(body),
        prefix=_filter_name(body, "filterNamePrefix"),
        limit=limit,
        next_token=_string(body, "nextToken", high=1 << 16),
    )
    out: dict[str, Any] = {"subscriptionFilters": filters}
    if token is not None:
        out["nextToken"] = token
    return out


async def delete_subscription_filter(
    ctx: SubscriptionService, body: dict[str, Any]
) -> dict[str, Any]:
    await ctx.delete_subscription_filter(group=_group(body), name=_filter_name(body) or "")
    return {}


#: Operation name → handler, for the API's dispatch table.
OPERATIONS: dict[
    str, Callable[[SubscriptionService, dict[str, Any]], Awaitable[dict[str, Any]]]
] = {
    "PutSubscriptionFilter": put_subscription_filter,
    "DescribeSubscriptionFilters": describe_subscription_filters,
    "DeleteSubscriptionFilter": delete_subscription_filter,
}
