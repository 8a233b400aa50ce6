"""The protocol framework with real boto3 clients on a real loopback listener.

Operations here are tiny handlers registered for the test (the seam the ops modules
plug into), so routing, validation from botocore's model, SigV4, permissions, error
bodies and headers are tested without a store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import boto3
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

from logd.api.auth import Authenticator, Credential, Policy
from logd.api.ops import Body, Operation
from logd.api.server import ApiServer
from logd.api.validation import Validator
from logd.clock import SystemClock
from logd.model import Scope
from logd.telemetry.metrics import DaemonMetrics

VALIDATOR = Validator()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Body]] = []

    def operation(self, name: str, reply: Body | None = None) -> Operation:
        async def handler(ctx: object, req: Body) -> Body:
            self.calls.append((name, req))
            return reply or {}

        return Operation(handler)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    servers: list[ApiServer] = []

    async def start(
        mode: str = "none",
        credentials: dict[str, Credential] | None = None,
        clock: Any = None,
        recorder: Recorder | None = None,
    ) -> tuple[str, Recorder]:
        recorder = recorder or Recorder()
        ops = {
            "CreateLogGroup": recorder.operation("CreateLogGroup"),
            "DeleteLogGroup": recorder.operation("DeleteLogGroup"),
            "DescribeLogGroups": recorder.operation("DescribeLogGroups", {"logGroups": []}),
        }
        server = ApiServer(
            operations=ops, context=None,
            authenticator=Authenticator(mode, credentials or {}),
            clock=clock or SystemClock(), scope=Scope(), metrics=DaemonMetrics(),
            readiness=lambda: (True, ""), validator=VALIDATOR,
        )  # fmt: skip
        host, port = await server.start("127.0.0.1", 0)
        servers.append(server)
        return f"http://{host}:{port}", recorder

    yield start
    for server in servers:
        await server.stop()


def client(endpoint: str, key: str = "AK", secret: str = "SK") -> Any:  # noqa: S107 - test key
    return boto3.client(
        "logs", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip


async def call(c: Any, op: str, **kwargs: Any) -> Any:
    return await asyncio.to_thread(getattr(c, op), **kwargs)


async def error_of(c: Any, op: str, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        await call(c, op, **kwargs)
    err = info.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


async def test_a_registered_operation_runs_with_its_body(serve: Any) -> None:
    endpoint, rec = await serve()
    response = await call(client(endpoint), "create_log_group", logGroupName="app/web")
    assert rec.calls == [("CreateLogGroup", {"logGroupName": "app/web"})]
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-requestid"]
    assert headers["date"].endswith("GMT")
    assert headers["content-type"] == "application/x-amz-json-1.1"


async def test_validation_errors_use_aws_wording(serve: Any) -> None:
    endpoint, rec = await serve()
    # botocore's own client-side validation is off: the server's is under test
    logs = boto3.client(
        "logs", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AK",
        aws_secret_access_key="SK",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )  # fmt: skip
    code, message, status = await error_of(logs, "create_log_group", logGroupName="a:b")
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == (
        "1 validation error detected: Value 'a:b' at 'logGroupName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
    )
    code, message, _ = await error_of(logs, "create_log_group", logGroupName="x" * 513)
    assert message.endswith("Member must have length less than or equal to 512")
    code, message, _ = await error_of(logs, "describe_log_groups", limit=51, logGroupNamePrefix="")
    assert message.startswith("3 validation errors detected: ")  # length, pattern, range
    assert "Member must have value less than or equal to 50" in message
    assert "Member must have length greater than or equal to 1" in message
    code, message, _ = await error_of(
        logs, "create_log_group", logGroupName="g", logGroupClass="GOLD"
    )
    classes = ", ".join(VALIDATOR.model["shapes"]["LogGroupClass"]["enum"])
    assert message.endswith(f"Member must satisfy enum value set: [{classes}]")
    assert rec.calls == []


def raw_post(endpoint: str, target: str, body: bytes) -> tuple[int, dict[str, Any], Any]:
    http = urllib3.PoolManager()
    try:
        r = http.request(
            "POST", endpoint + "/", body=body,
            headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
        )  # fmt: skip
        import json

        return r.status, dict(r.headers), json.loads(r.data)
    finally:
        http.clear()


async def test_protocol_errors(serve: Any) -> None:
    endpoint, _ = await serve()
    status, headers, body = await asyncio.to_thread(raw_post, endpoint, "Logs_20140328.Nope", b"{}")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    assert "x-amzn-RequestId" in headers
    assert "Date" in headers
    status, _, body = await asyncio.to_thread(
        raw_post, endpoint, "Logs_20140328.CreateLogGroup", b"{not json"
    )
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = await asyncio.to_thread(
        raw_post, endpoint, "Logs_20140328.CreateLogGroup", b'{"logGroupName": 5}'
    )
    assert (status, body["__type"]) == (400, "SerializationException")
    status, _, body = await asyncio.to_thread(
        raw_post,
        endpoint,
        "Logs_20140328.CreateLogGroup",
        b'{"logGroupName": "ok", "newMember": 1}',
    )
    assert status == 200


async def test_unimplemented_operations(serve: Any) -> None:
    endpoint, _ = await serve()
    c = client(endpoint)
    code, message, _ = await error_of(c, "put_transformer", logGroupIdentifier="g",
                                      transformerConfig=[{"parseJSON": {}}])  # fmt: skip
    assert (code, message) == (
        "InvalidOperationException",
        "PutTransformer is not supported by logd",
    )
    assert (await call(c, "list_log_anomaly_detectors"))["anomalyDetectors"] == []


async def test_sigv4_outcomes(serve: Any) -> None:
    creds = {
        "AK": Credential("AK", "SK", Policy()),
        "WRITER": Credential(
            "WRITER", "W", Policy(("logs:PutLogEvents", "logs:Create*"), ("app/*",))
        ),
    }
    endpoint, rec = await serve("sigv4", creds)
    await call(client(endpoint), "create_log_group", logGroupName="any")
    code, _, status = await error_of(
        client(endpoint, secret="wrong"), "create_log_group", logGroupName="g"
    )
    assert (code, status) == ("InvalidSignatureException", 403)
    code, message, status = await error_of(
        client(endpoint, key="NOPE"), "create_log_group", logGroupName="g"
    )
    assert (code, status) == ("UnrecognizedClientException", 400)
    assert message == "The security token included in the request is invalid."
    writer = client(endpoint, key="WRITER", secret="W")
    await call(writer, "create_log_group", logGroupName="app/x")
    code, message, _ = await error_of(writer, "delete_log_group", logGroupName="app/x")
    assert code == "AccessDeniedException"
    assert "logs:DeleteLogGroup" in message
    code, _, _ = await error_of(writer, "create_log_group", logGroupName="sys/x")
    assert code == "AccessDeniedException"
    assert [c[1]["logGroupName"] for c in rec.calls] == ["any", "app/x"]
    status, _, body = await asyncio.to_thread(
        raw_post, endpoint, "Logs_20140328.DescribeLogGroups", b"{}"
    )
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")


class SkewedClock(SystemClock):
    def __init__(self, skew_ms: int) -> None:
        self.skew_ms = skew_ms

    def now_ms(self) -> int:
        return super().now_ms() + self.skew_ms


@pytest.mark.parametrize("skew_ms", [6 * 60_000, -6 * 60_000])
async def test_clock_skew_past_five_minutes(serve: Any, skew_ms: int) -> None:
    endpoint, _ = await serve(
        "sigv4", {"AK": Credential("AK", "SK", Policy())}, SkewedClock(skew_ms)
    )
    code, message, status = await error_of(client(endpoint), "describe_log_groups")
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("Signature expired" if skew_ms > 0 else "Signature not yet current")


def signed_post(endpoint: str, body: bytes, sent: bytes) -> tuple[int, Any]:
    """Sign `body` with botocore's signer, then send `sent` with those headers."""
    import json

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {"X-Amz-Target": "Logs_20140328.CreateLogGroup",
               "Content-Type": "application/x-amz-json-1.1"}  # fmt: skip
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    SigV4Auth(Credentials("AK", "SK"), "logs", "us-east-1").add_auth(request)
    http = urllib3.PoolManager()
    try:
        r = http.request("POST", endpoint + "/", body=sent, headers=dict(request.headers.items()))
        return r.status, json.loads(r.data)
    finally:
        http.clear()


async def test_tampered_body_is_rejected(serve: Any) -> None:
    endpoint, rec = await serve("sigv4", {"AK": Credential("AK", "SK", Policy())})
    good = b'{"logGroupName": "app"}'
    status, _ = await asyncio.to_thread(signed_post, endpoint, good, good)
    assert status == 200
    status, body = await asyncio.to_thread(signed_post, endpoint, good, b'{"logGroupName": "evil"}')
    assert (status, body["__type"]) == (403, "InvalidSignatureException")
    assert rec.calls == [("CreateLogGroup", {"logGroupName": "app"})]


async def test_health_ready_and_metrics(serve: Any) -> None:
    endpoint, _ = await serve()
    await call(client(endpoint), "create_log_group", logGroupName="g")
    http = urllib3.PoolManager()
    try:
        assert (await asyncio.to_thread(http.request, "GET", endpoint + "/healthz")).status == 200
        assert (await asyncio.to_thread(http.request, "GET", endpoint + "/readyz")).status == 200
        text = (await asyncio.to_thread(http.request, "GET", endpoint + "/metrics")).data.decode()
    finally:
        http.clear()
    assert 'logd_api_requests_total{operation="CreateLogGroup",code="200"} 1' in text
    assert 'logd_api_request_seconds_count{operation="CreateLogGroup"} 1' in text
