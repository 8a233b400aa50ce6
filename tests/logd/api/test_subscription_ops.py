"""PutSubscriptionFilter, DescribeSubscriptionFilters, DeleteSubscriptionFilter through
boto3 on a real listener, against a real store, service and file sink."""

from __future__ import annotations

import asyncio
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from logd.api.auth import Authenticator
from logd.api.ops import Operation
from logd.api.ops import subscriptions as ops
from logd.api.server import ApiServer
from logd.api.validation import Validator
from logd.clock import SystemClock
from logd.model import Scope
from logd.telemetry.metrics import DaemonMetrics
from tests.logd.subscriptions.support import append, arn, ensure, file_events, running, until


@pytest.fixture
async def logs(tmp_path):
    sinks = {"files": {"type": "file", "root": str(tmp_path / "out")}}
    async with running(tmp_path / "data", sinks, max_filters_per_group=3) as service:
        ensure(service, "app/web", "web-1")
        server = ApiServer(
            operations={name: Operation(h) for name, h in ops.OPERATIONS.items()},
            context=service, authenticator=Authenticator("none", {}), clock=SystemClock(),
            scope=Scope(), metrics=DaemonMetrics(), readiness=lambda: (True, ""),
            validator=Validator(),
        )  # fmt: skip
        host, port = await server.start("127.0.0.1", 0)
        client = boto3.client(
            "logs", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
            aws_access_key_id="AK", aws_secret_access_key="SK",
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip
        try:
            yield client, service
        finally:
            client.close()
            await server.stop()


async def call(client: Any, op: str, **kw: Any) -> Any:
    return await asyncio.to_thread(getattr(client, op), **kw)


async def error(client: Any, op: str, **kw: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        await call(client, op, **kw)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


async def test_put_describe_delete_with_boto3(logs, tmp_path):
    client, service = logs
    for name in ("c-errors", "a-all", "b-warn"):
        await call(
            client, "put_subscription_filter", logGroupName="app/web", filterName=name,
            filterPattern="ERROR" if name == "c-errors" else "", destinationArn=arn("files"),
            roleArn="arn:aws:iam::123456789012:role/logd", distribution="ByLogStream",
        )  # fmt: skip
    paginator = client.get_paginator("describe_subscription_filters")
    pages = await asyncio.to_thread(
        lambda: list(paginator.paginate(logGroupName="app/web", PaginationConfig={"PageSize": 2}))
    )
    names = [f["filterName"] for p in pages for f in p["subscriptionFilters"]]
    assert names == ["a-all", "b-warn", "c-errors"]
    assert len(pages) == 2
    first = pages[0]["subscriptionFilters"][0]
    assert first["destinationArn"] == arn("files")
    assert first["roleArn"] == "arn:aws:iam::123456789012:role/logd"
    assert first["distribution"] == "ByLogStream"
    assert isinstance(first["creationTime"], int)

    code, message = await error(
        client, "put_subscription_filter", logGroupName="app/web", filterName="d",
        filterPattern="", destinationArn=arn("files"),
    )  # fmt: skip
    assert (code, message) == ("LimitExceededException", "Resource limit exceeded.")
    code, _ = await error(
        client, "put_subscription_filter", logGroupName="app/web", filterName="a-all",
        filterPattern='{ $.x = "', destinationArn=arn("files"),
    )  # fmt: skip
    assert code == "InvalidParameterException"
    code, _ = await error(
        client, "put_subscription_filter", logGroupName="app/web", filterName="a-all",
        filterPattern="", destinationArn="arn:aws:lambda:us-east-1:1:function:f",
    )  # fmt: skip
    assert code == "InvalidParameterException"
    code, _ = await error(client, "describe_subscription_filters", logGroupName="nope")
    assert code == "ResourceNotFoundException"

    await append(service, "app/web", "web-1", ["ERROR one", "INFO two"])
    await until(lambda: len(file_events(tmp_path / "out")) == 5)  # 2 + 2 + 1

    await call(client, "delete_subscription_filter", logGroupName="app/web", filterName="a-all")
    code, message = await error(
        client, "delete_subscription_filter", logGroupName="app/web", filterName="a-all"
    )
    assert (code, message) == (
        "ResourceNotFoundException",
        "The specified subscription filter does not exist.",
    )
    left = await call(client, "describe_subscription_filters", logGroupName="app/web")
    assert [f["filterName"] for f in left["subscriptionFilters"]] == ["b-warn", "c-errors"]
