"""The API handlers and `logd export` through real boto3 over HTTP.

A minimal CloudWatch JSON endpoint (aiohttp on 127.0.0.1, errors as `__type`) stands in
for logd's API server, which wires the same handlers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aiohttp import web

from logd.api.ops import export as ops
from logd.cli import export as cli
from logd.errors import LogdError
from logd.export.tasks import ExportService
from tests.logd.export.conftest import GROUP, GatedReader
from tests.logd.export.helpers import BASE_MS, TableReader, make_events

JSON = "application/x-amz-json-1.1"


@contextlib.asynccontextmanager
async def api(service: ExportService) -> AsyncIterator[str]:
    async def handle(request: web.Request) -> web.Response:
        operation = request.headers["X-Amz-Target"].split(".", 1)[1]
        body = json.loads(await request.read() or b"{}")
        try:
            result = await ops.OPERATIONS[operation](service, body)
        except LogdError as exc:
            error = {"__type": exc.type_name, "message": exc.message}
            return web.Response(status=400, text=json.dumps(error), content_type=JSON)
        return web.Response(text=json.dumps(result), content_type=JSON)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def _logs(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "logs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="k",
        aws_secret_access_key="s",
    )


async def test_boto3_round_trip_and_errors(make_service) -> None:
    reader = GatedReader(make_events(300))
    service = await make_service(reader)
    async with api(service) as endpoint:
        client = _logs(endpoint)
        try:
            created = await asyncio.to_thread(
                client.create_export_task,
                taskName="nightly",
                logGroupName=GROUP,
                fromTime=BASE_MS,
                to=BASE_MS + 3_600_000,
                destination="api-bucket",
            )
            task_id = created["taskId"]
            with pytest.raises(client.exceptions.LimitExceededException):
                await asyncio.to_thread(
                    client.create_export_task,
                    logGroupName=GROUP,
                    fromTime=0,
                    to=1,
                    destination="api-bucket",
                )
            reader.gate.set()
            await service.wait(task_id)
            reply = await asyncio.to_thread(client.describe_export_tasks, taskId=task_id)
            (task,) = reply["exportTasks"]
            assert task["status"] == {"code": "COMPLETED", "message": "Completed successfully"}
            assert task["taskName"] == "nightly"
            assert task["destinationPrefix"] == "exportedlogs"
            with pytest.raises(client.exceptions.InvalidOperationException):
                await asyncio.to_thread(client.cancel_export_task, taskId=task_id)
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                await asyncio.to_thread(client.cancel_export_task, taskId="nope")
            with pytest.raises(client.exceptions.InvalidParameterException):
                await asyncio.to_thread(
                    client.create_export_task,
                    logGroupName=GROUP,
                    fromTime=0,
                    to=1,
                    destination="api-bucket",
                    destinationPrefix="../../x",
                )
            with pytest.raises(client.exceptions.ResourceNotFoundException):
                await asyncio.to_thread(
                    client.create_export_task,
                    logGroupName="/missing",
                    fromTime=0,
                    to=1,
                    destination="api-bucket",
                )
        finally:
            client.close()


@pytest.mark.parametrize(
    "body",
    [
        {"logGroupName": GROUP, "from": 0, "destination": "b-1"},
        {"logGroupName": GROUP, "from": "0", "to": 1, "destination": "b-1"},
        {"logGroupName": GROUP, "from": True, "to": 1, "destination": "b-1"},
        {"logGroupName": "bad name!", "from": 0, "to": 1, "destination": "b-1"},
        {"logGroupName": GROUP, "from": -1, "to": 1, "destination": "b-1"},
        {"logGroupName": GROUP, "from": 0, "to": 1, "destination": ""},
        {"logGroupName": GROUP, "from": 0, "to": 1, "destination": "b-1", "taskName": ""},
        {
            "logGroupName": GROUP,
            "logStreamNamePrefix": "a*",
            "from": 0,
            "to": 1,
            "destination": "b-1",
        },
    ],
)
async def test_create_member_checks(make_service, body: dict[str, Any]) -> None:
    service = await make_service(TableReader(make_events(5)))
    with pytest.raises(LogdError) as info:
        await ops.create_export_task(service, body)
    assert info.value.type_name == "InvalidParameterException"


async def test_describe_member_checks(make_service) -> None:
    service = await make_service(TableReader(make_events(5)))
    for body in ({"limit": 0}, {"limit": "5"}, {"statusCode": "DONE"}, {"nextToken": ""}):
        with pytest.raises(LogdError):
            await ops.describe_export_tasks(service, body)
    assert await ops.describe_export_tasks(service, {}) == {"exportTasks": []}


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="logd")
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


async def test_cli_export_then_verify(make_service, export_root: Path, capsys) -> None:
    service = await make_service(TableReader(make_events(800)), max_object_bytes=4096)
    async with api(service) as endpoint:
        argv = ["export", GROUP, "--from", "2024-05-01T10:00:00Z", "--to", str(BASE_MS + 3_600_000)]
        argv += ["--to-dir", "cli-out", "--endpoint-url", endpoint, "--poll-interval", "0.05"]
        code = await asyncio.to_thread(cli.run, _args(argv))
    assert code == 0
    out, err = capsys.readouterr()
    task_id = out.strip().splitlines()[-1]
    assert "completed: cli-out/exportedlogs/" in err
    assert "COMPLETED" in err
    folder = str(export_root / "cli-out")
    assert await asyncio.to_thread(cli.run, _args(["export", "verify", folder, "--json"])) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[-1]["summary"]["errors"] == 0
    assert lines[-1]["summary"]["objects"] > 3
    victim = next((export_root / "cli-out" / "exportedlogs" / task_id).rglob("*.gz"))
    await asyncio.to_thread(victim.write_bytes, b"not the same bytes")
    assert await asyncio.to_thread(cli.run, _args(["export", "verify", folder])) == 1
    assert "MODIFIED" in capsys.readouterr().out


def test_cli_usage_errors(capsys) -> None:
    assert cli.run(_args(["export", GROUP, "--from", "1", "--to", "2"])) == 2
    assert cli.run(_args(["export", GROUP, "--from", "5", "--to", "2", "--to-dir", "x"])) == 2
    assert (
        cli.run(_args(["export", GROUP, "--from", "yesterday", "--to", "2", "--to-dir", "x"])) == 2
    )
    assert cli.run(_args(["export", "verify", "/nonexistent/folder"])) == 2
    assert cli.parse_time("1714557600") == 1_714_557_600_000
    assert cli.parse_time("1714557600123") == 1_714_557_600_123
    assert cli.parse_time("2024-05-01") == 1_714_521_600_000
    assert cli.parse_time("2024-05-01 10:00") == 1_714_557_600_000
    assert cli.parse_time("2024-05-01T12:00:00+02:00") == 1_714_557_600_000
