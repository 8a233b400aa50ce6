"""The Insights operations through real boto3 clients, on the API server over a real store.

The server here carries only the queries family (its context is the `QueryService`),
on a loopback port; the whole-daemon tests (`logd serve`) cover the wiring.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from logd.api.auth import Authenticator
from logd.api.ops import Operation
from logd.api.ops.queries import OPERATIONS
from logd.api.server import ApiServer
from logd.api.validation import Validator
from logd.clock import ManualClock
from logd.model import Scope
from logd.queries import QueryOptions, QueryService
from logd.store.store import Store
from logd.telemetry.metrics import DaemonMetrics
from tests.logd.queries.support import BASE_S, NOW, EndlessSource, fill, open_store

VALIDATOR = Validator()
END_S = BASE_S + 10


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path, ManualClock(NOW))
    await fill(s)
    yield s
    await s.close()


@pytest.fixture
async def serve(store: Store) -> AsyncIterator[Callable[..., Any]]:
    opened: list[tuple[ApiServer, QueryService]] = []

    async def start(endless: bool = False, **options: Any) -> Any:
        svc = QueryService(
            store,
            QueryOptions(**options),
            store.clock,
            source=EndlessSource if endless else None,
        )
        await svc.start()
        server = ApiServer(
            operations={name: Operation(h) for name, h in OPERATIONS.items()},
            context=svc, authenticator=Authenticator("none", {}), clock=store.clock,
            scope=Scope(), metrics=DaemonMetrics(), readiness=lambda: (True, ""),
            validator=VALIDATOR,
        )  # fmt: skip
        host, port = await server.start("127.0.0.1", 0)
        opened.append((server, svc))
        return boto3.client(
            "logs", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
            aws_access_key_id="AK", aws_secret_access_key="SK",
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip

    yield start
    for server, svc in opened:
        await server.stop()
        await svc.close()


async def call(c: Any, op: str, **kwargs: Any) -> Any:
    return await asyncio.to_thread(getattr(c, op), **kwargs)


async def error_of(c: Any, op: str, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        await call(c, op, **kwargs)
    return dict(info.value.response)


async def until(c: Any, query_id: str, *statuses: str) -> dict[str, Any]:
    for _ in range(3000):
        page: dict[str, Any] = await call(c, "get_query_results", queryId=query_id)
        if page["status"] in statuses:
            return page
        await asyncio.sleep(0.01)
    raise AssertionError(f"{query_id} never reached {statuses}")


async def test_query_lifecycle(serve: Callable[..., Any]) -> None:
    c = await serve()
    started = await call(
        c, "start_query", logGroupNames=["app-a", "app-b"], startTime=BASE_S, endTime=END_S,
        queryString="filter level = 'ERROR' | fields ms | sort ms desc",
    )  # fmt: skip
    page = await until(c, started["queryId"], "Complete", "Failed")
    assert page["status"] == "Complete"
    shown = [[(f["field"], f["value"]) for f in r if f["field"] != "@ptr"] for r in page["results"]]
    assert shown == [[("ms", "50")], [("ms", "30")], [("ms", "5")]]
    assert page["statistics"]["recordsMatched"] == 3.0
    assert page["statistics"]["recordsScanned"] == 6.0
    assert page["statistics"]["logGroupsScanned"] == 2.0
    first = await call(c, "get_query_results", queryId=started["queryId"], maxItems=2)
    assert len(first["results"]) == 2
    rest = await call(
        c, "get_query_results", queryId=started["queryId"], nextToken=first["nextToken"]
    )
    assert first["results"] + rest["results"] == page["results"]
    assert "nextToken" not in rest
    ptr = next(f["value"] for f in page["results"][1] if f["field"] == "@ptr")
    record = (await call(c, "get_log_record", logRecordPointer=ptr))["logRecord"]
    assert (record["user"], record["@logStream"]) == ("bob", "web-1")
    fields = await call(c, "get_log_group_fields", logGroupName="app-a", time=BASE_S + 5)
    assert {"name": "level", "percent": 80} in fields["logGroupFields"]

    second = await call(
        c, "start_query", logGroupIdentifiers=[Scope().log_group_arn("app-b")],
        startTime=BASE_S, endTime=END_S, queryString="stats count(*) as n",
    )  # fmt: skip
    await until(c, second["queryId"], "Complete")
    paginator = c.get_paginator("describe_queries")
    pages = await asyncio.to_thread(
        lambda: list(paginator.paginate(PaginationConfig={"PageSize": 1}))
    )
    infos = [q for p in pages for q in p["queries"]]
    assert [q["queryId"] for q in infos] == [second["queryId"], started["queryId"]]
    assert infos[1]["logGroupName"] == "app-a"
    assert {q["status"] for q in infos} == {"Complete"}
    only_b = await call(c, "describe_queries", logGroupName="app-b")
    assert [q["queryId"] for q in only_b["queries"]] == [started["queryId"], second["queryId"]][
        ::-1
    ]
    err = await error_of(c, "stop_query", queryId=second["queryId"])
    assert err["Error"]["Code"] == "InvalidParameterException"


async def test_errors_have_cloudwatch_shapes(serve: Callable[..., Any]) -> None:
    c = await serve()
    err = await error_of(
        c, "start_query", logGroupName="app-a", startTime=BASE_S, endTime=END_S,
        queryString="stats count(*) by\n| frobnicate",
    )  # fmt: skip
    assert err["Error"]["Code"] == "MalformedQueryException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    compile_error = err["queryCompileError"]
    assert set(compile_error) == {"location", "message"}
    assert (
        compile_error["location"]["startCharOffset"] <= compile_error["location"]["endCharOffset"]
    )
    assert compile_error["message"].startswith("line ")
    for kwargs, code in [
        ({"logGroupName": "nope"}, "ResourceNotFoundException"),
        ({"logGroupName": "app-a", "logGroupNames": ["app-b"]}, "InvalidParameterException"),
        ({"logGroupName": "app-a", "queryLanguage": "SQL"}, "InvalidParameterException"),
        ({"logGroupName": "app-a", "endTime": BASE_S - 1}, "InvalidParameterException"),
    ]:
        body = {"startTime": BASE_S, "endTime": END_S, "queryString": "fields @message", **kwargs}
        assert (await error_of(c, "start_query", **body))["Error"]["Code"] == code, kwargs
    for op, kwargs in [
        ("get_query_results", {"queryId": "missing"}),
        ("stop_query", {"queryId": "missing"}),
        ("delete_query_definition", {"queryDefinitionId": "missing"}),
    ]:
        assert (await error_of(c, op, **kwargs))["Error"]["Code"] == "ResourceNotFoundException"


async def test_stop_and_timeout(serve: Callable[..., Any]) -> None:
    c = await serve(endless=True, max_running=1)
    body = {"logGroupName": "app-a", "startTime": 0, "endTime": 1, "queryString": "stats count(*)"}
    running = (await call(c, "start_query", **body))["queryId"]
    queued = (await call(c, "start_query", **body))["queryId"]
    await until(c, running, "Running")
    assert (await call(c, "get_query_results", queryId=queued))["status"] == "Scheduled"
    assert (await call(c, "stop_query", queryId=running))["success"] is True
    assert (await call(c, "get_query_results", queryId=running))["status"] == "Cancelled"
    await until(c, queued, "Running")
    assert (await call(c, "stop_query", queryId=queued))["success"] is True
    cancelled = await call(c, "describe_queries", status="Cancelled")
    assert {q["queryId"] for q in cancelled["queries"]} == {running, queued}

    t = await serve(endless=True, timeout_ms=50)
    timed = (await call(t, "start_query", **body))["queryId"]
    page = await until(t, timed, "Timeout", "Complete", "Failed")
    assert (page["status"], page["results"]) == ("Timeout", [])


async def test_query_definitions(serve: Callable[..., Any]) -> None:
    c = await serve()
    made = await call(
        c, "put_query_definition", name="ops/errors", queryString="filter level = '{{level}}'",
        logGroupNames=["app-a"], parameters=[{"name": "level", "defaultValue": "ERROR"}],
        clientToken="c" * 36,
    )  # fmt: skip
    same = await call(
        c, "put_query_definition", name="ops/errors", queryString="x", clientToken="c" * 36
    )
    assert same["queryDefinitionId"] == made["queryDefinitionId"]
    other = await call(c, "put_query_definition", name="ops/all", queryString="fields @message")
    await call(
        c, "put_query_definition", queryDefinitionId=other["queryDefinitionId"],
        name="ops/all", queryString="fields @message | limit 5",
    )  # fmt: skip
    page = await call(
        c, "describe_query_definitions", queryDefinitionNamePrefix="ops/", maxResults=1
    )
    assert [d["name"] for d in page["queryDefinitions"]] == ["ops/all"]
    assert page["queryDefinitions"][0]["queryString"] == "fields @message | limit 5"
    assert page["queryDefinitions"][0]["logGroupNames"] == []
    rest = await call(c, "describe_query_definitions", nextToken=page["nextToken"])
    [saved] = rest["queryDefinitions"]
    assert saved["parameters"] == [{"name": "level", "defaultValue": "ERROR"}]
    assert saved["logGroupNames"] == ["app-a"]
    deleted = await call(c, "delete_query_definition", queryDefinitionId=other["queryDefinitionId"])
    assert deleted["success"] is True
    left = await call(c, "describe_query_definitions")
    assert [d["queryDefinitionId"] for d in left["queryDefinitions"]] == [made["queryDefinitionId"]]
    missing = await error_of(
        c, "put_query_definition", queryDefinitionId="nope", name="n", queryString="fields a"
    )
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
