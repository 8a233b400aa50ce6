"""CreateExportTask, DescribeExportTasks, CancelExportTask (logs-api.md §7.15).

Each handler takes the `ExportService` and the decoded JSON body, checks the members
against botocore's model (types, lengths, patterns, enums) and returns the response
body. Errors are `logd.errors.*`; `logd/api/errors.py` maps them to the wire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from logd.errors import InvalidParameterException
from logd.export.records import StatusCode
from logd.export.tasks import ExportService
from logd.model import LOG_GROUP_NAME_RE, LOG_STREAM_NAME_RE


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


def _required(body: dict[str, Any], name: str) -> str:
    value = _string(body, name, required=True)
    if value is None:  # unreachable: required
        raise InvalidParameterException(f"Missing required parameter: {name}")
    return value


def _long(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if value is None:
        raise InvalidParameterException(f"Missing required parameter: {name}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterException(f"Parameter {name} must be an integer.")
    if value < 0:
        raise InvalidParameterException(f"Parameter {name} must be at least 0.")
    return value


async def create_export_task(ctx: ExportService, body: dict[str, Any]) -> dict[str, Any]:
    group = _required(body, "logGroupName")
    if not LOG_GROUP_NAME_RE.fullmatch(group):
        raise InvalidParameterException("Invalid logGroupName pattern.")
    stream_prefix = _string(body, "logStreamNamePrefix")
    if stream_prefix is not None and not LOG_STREAM_NAME_RE.fullmatch(stream_prefix):
        raise InvalidParameterException("Invalid logStreamNamePrefix pattern.")
    destination = _required(body, "destination")
    prefix = _string(body, "destinationPrefix", low=0, high=1024)
    task_id = await ctx.create_export_task(
        task_name=_string(body, "taskName"),
        log_group_name=group,
        log_stream_name_prefix=stream_prefix,
        from_ms=_long(body, "from"),
        to_ms=_long(body, "to"),
        destination=destination,
        destination_prefix=prefix,
    )
    return {"taskId": task_id}


async def describe_export_tasks(ctx: ExportService, body: dict[str, Any]) -> dict[str, Any]:
    status = _string(body, "statusCode")
    if status is not None and status not in set(StatusCode):
        raise InvalidParameterException(
            f"Invalid statusCode {status!r}: one of {', '.join(sorted(StatusCode))}."
        )
    limit = body.get("limit", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        raise InvalidParameterException("Parameter limit must be between 1 and 50.")
    tasks, token = await ctx.describe_export_tasks(
        task_id=_string(body, "taskId"),
        status_code=status,
        limit=limit,
        next_token=_string(body, "nextToken", high=1 << 16),
    )
    out: dict[str, Any] = {"exportTasks": [t.to_wire() for t in tasks]}
    if token is not None:
        out["nextToken"] = token
    return out


async def cancel_export_task(ctx: ExportService, body: dict[str, Any]) -> dict[str, Any]:
    task_id = _required(body, "taskId")
    await ctx.cancel_export_task(task_id)
    return {}


#: Operation name → handler, for the API's dispatch table.
OPERATIONS: dict[str, Callable[[ExportService, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "CreateExportTask": create_export_task,
    "DescribeExportTasks": describe_export_tasks,
    "CancelExportTask": cancel_export_task,
}
