"""Logs Insights operations (logs-api.md §7.16, §7.17): StartQuery, GetQueryResults,
StopQuery, DescribeQueries, the query definitions, GetLogRecord and GetLogGroupFields.

Each handler takes the `QueryService` and the decoded body (already checked against
botocore's model: types, lengths, ranges, enums) and returns the response body. Tokens
are `logd.api.pagination`'s: a position (row offset of an immutable result, history
ordinal, definition (name, id)), never a page number.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from logd.api import pagination
from logd.errors import InvalidParameterException
from logd.queries import QueryService
from logd.queries.history import QueryParameter

Body = dict[str, Any]
MAX_ITEMS = 10_000


def _language(body: Body) -> None:
    language = body.get("queryLanguage", "CWLI")
    if language != "CWLI":
        raise InvalidParameterException(f"queryLanguage {language} is not supported by logd.")


def _one_of(body: Body, *names: str) -> str | None:
    given = [n for n in names if body.get(n) is not None]
    if len(given) > 1:
        raise InvalidParameterException(f"Specify only one of {', '.join(names)}.")
    return given[0] if given else None


async def start_query(svc: QueryService, body: Body) -> Body:
    _language(body)
    member = _one_of(body, "logGroupName", "logGroupNames", "logGroupIdentifiers")
    groups: list[str] | None = None
    if member == "logGroupName":
        groups = [body[member]]
    elif member is not None:
        groups = list(body[member])
    for name in ("startTime", "endTime", "queryString"):
        if body.get(name) is None:
            raise InvalidParameterException(f"Missing required parameter: {name}")
    query_id = await svc.start_query(
        body["queryString"],
        groups=groups,
        start_time=int(body["startTime"]),
        end_time=int(body["endTime"]),
        limit=body.get("limit"),
    )
    return {"queryId": query_id}


async def get_query_results(svc: QueryService, body: Body) -> Body:
    query_id = str(body.get("queryId", ""))
    offset = 0
    if body.get("nextToken"):
        token_id, offset = pagination.decode(body["nextToken"], "GetQueryResults")
        if token_id != query_id or not isinstance(offset, int) or offset < 0:
            raise InvalidParameterException(pagination.INVALID)
    size = int(body.get("maxItems") or MAX_ITEMS)
    got = await svc.get_query_results(query_id)
    rows = got.result.to_cloudwatch() if got.result is not None else []
    out: Body = {
        "queryLanguage": "CWLI",
        "results": rows[offset : offset + size],
        "statistics": got.statistics,
        "status": got.status,
    }
    if offset + size < len(rows):
        out["nextToken"] = pagination.encode("GetQueryResults", query_id, offset + size)
    return out


async def stop_query(svc: QueryService, body: Body) -> Body:
    return {"success": await svc.stop_query(str(body.get("queryId", "")))}


async def describe_queries(svc: QueryService, body: Body) -> Body:
    if body.get("queryLanguage", "CWLI") != "CWLI":
        return {"queries": []}
    before = None
    if body.get("nextToken"):
        (before,) = pagination.decode(body["nextToken"], "DescribeQueries")
        if not isinstance(before, int):
            raise InvalidParameterException(pagination.INVALID)
    limit = int(body.get("maxResults") or 1000)
    found = await svc.describe_queries(
        group=body.get("logGroupName"), status=body.get("status"), limit=limit + 1, before=before
    )
    out: Body = {"queries": [q.to_wire() for q in found[:limit]]}
    if len(found) > limit:
        out["nextToken"] = pagination.encode("DescribeQueries", found[limit - 1].ordinal)
    return out


async def put_query_definition(svc: QueryService, body: Body) -> Body:
    _language(body)
    params = [
        QueryParameter(p["name"], p.get("defaultValue"), p.get("description"))
        for p in body.get("parameters") or []
    ]
    definition_id = await svc.definitions.put(
        name=body["name"],
        query_string=body["queryString"],
        definition_id=body.get("queryDefinitionId"),
        log_group_names=list(body.get("logGroupNames") or []),
        parameters=params,
        client_token=body.get("clientToken"),
    )
    return {"queryDefinitionId": definition_id}


async def describe_query_definitions(svc: QueryService, body: Body) -> Body:
    if body.get("queryLanguage", "CWLI") != "CWLI":
        return {"queryDefinitions": []}
    after = None
    if body.get("nextToken"):
        key = pagination.decode(body["nextToken"], "DescribeQueryDefinitions")
        if len(key) != 2 or not all(isinstance(k, str) for k in key):
            raise InvalidParameterException(pagination.INVALID)
        after = (key[0], key[1])
    limit = int(body.get("maxResults") or 1000)
    found = await svc.definitions.describe(
        prefix=body.get("queryDefinitionNamePrefix"), after=after, limit=limit + 1
    )
    out: Body = {"queryDefinitions": [d.to_wire() for d in found[:limit]]}
    if len(found) > limit:
        last = found[limit - 1]
        out["nextToken"] = pagination.encode("DescribeQueryDefinitions", last.name, last.id)
    return out


async def delete_query_definition(svc: QueryService, body: Body) -> Body:
    await svc.definitions.delete(str(body.get("queryDefinitionId", "")))
    return {"success": True}


async def get_log_record(svc: QueryService, body: Body) -> Body:
    return {"logRecord": await svc.get_log_record(str(body.get("logRecordPointer", "")))}


async def get_log_group_fields(svc: QueryService, body: Body) -> Body:
    member = _one_of(body, "logGroupName", "logGroupIdentifier")
    if member is None:
        raise InvalidParameterException(
            "Exactly one of logGroupName or logGroupIdentifier must be specified."
        )
    when = body.get("time")
    fields = await svc.log_group_fields(body[member], None if when is None else int(when) * 1000)
    return {"logGroupFields": fields}


#: Operation name → handler, for the API's dispatch table.
OPERATIONS: dict[str, Callable[[QueryService, Body], Awaitable[Body]]] = {
    "StartQuery": start_query,
    "GetQueryResults": get_query_results,
    "StopQuery": stop_query,
    "DescribeQueries": describe_queries,
    "PutQueryDefinition": put_query_definition,
    "DescribeQueryDefinitions": describe_query_definitions,
    "DeleteQueryDefinition": delete_query_definition,
    "GetLogRecord": get_log_record,
    "GetLogGroupFields": get_log_group_fields,
}
