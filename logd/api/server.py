"""The HTTP server: CloudWatch Logs' JSON protocol on aiohttp, plus health and metrics.

``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>``; per request, in order:
read the body (bounded), authenticate (SigV4 or anonymous), resolve the operation,
parse JSON (orjson), validate against botocore's model, authorize (action on groups),
run the handler, answer ``application/x-amz-json-1.1``. Every response, success or
error, carries ``x-amzn-RequestId`` and ``Date``. Errors become wire bodies only in
`logd.api.errors.to_wire`.

Streaming operations (StartLiveTail, `logd.api.start_live_tail`) go through the same
steps up to authorisation; their opener then checks the request and registers the
session (errors are still JSON bodies), and the answer is a chunked
``application/vnd.amazon.eventstream`` response written until the session ends.

Operations in the model that logd does not implement answer
``InvalidOperationException`` "<Op> is not supported by logd", except the read-only
listings in `EMPTY_LISTS`, which return an empty page (logs-api.md §3).

``GET /healthz`` (the loop answers), ``GET /readyz`` (the daemon says it is ready;
503 with a reason otherwise) and ``GET /metrics`` (Prometheus text) share the listener.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from email.utils import formatdate
from typing import Any, Protocol

import orjson
from aiohttp import web

from logd import errors
from logd.api.auth import Authenticator, authorize, groups_named
from logd.api.errors import to_wire
from logd.api.ops import Body, Operation
from logd.api.validation import Validator
from logd.clock import Clock
from logd.model import Scope
from logd.telemetry.logs import fields
from logd.telemetry.metrics import CONTENT_TYPE, DaemonMetrics

log = logging.getLogger("logd.api")

TARGET_PREFIX = "Logs_20140328"
JSON_TYPE = "application/x-amz-json-1.1"

#: P3 read-only listings answered with an empty page: operation → (list member).
EMPTY_LISTS: dict[str, str] = {
    "ListLogAnomalyDetectors": "anomalyDetectors",
    "ListAnomalies": "anomalies",
    "ListIntegrations": "integrationSummaries",
    "ListSourcesForS3TableIntegration": "sources",
    "DescribeImportTasks": "imports",
    "DescribeLookupTables": "lookupTables",
    "ListScheduledQueries": "scheduledQueries",
    "ListSyslogConfigurations": "syslogConfigurations",
    "ListAggregateLogGroupSummaries": "aggregateLogGroupSummaries",
    "DescribeConfigurationTemplates": "configurationTemplates",
}

Readiness = Callable[[], tuple[bool, str]]


class StreamingReply(Protocol):
    """A streaming operation's answer, opened (and checked) before any byte is sent."""

    content_type: str

    async def run(self, response: web.StreamResponse) -> None: ...
    def close(self) -> None: ...


#: A streaming operation (StartLiveTail): (validated request body, request id) → reply.
StreamOpener = Callable[[Body, str], Awaitable[StreamingReply]]


class ApiServer:
    """Builds the aiohttp application and serves it on one TCP listener."""

    def __init__(
        self,
        *,
        operations: Mapping[str, Operation],
        context: object,
        authenticator: Authenticator,
        clock: Clock,
        scope: Scope,
        metrics: DaemonMetrics,
        readiness: Readiness,
        validator: Validator | None = None,
        max_body_bytes: int = 8_388_608,
        serve_metrics: bool = True,
        routes: Sequence[Callable[[web.Application], None]] = (),
        streaming: Mapping[str, StreamOpener] | None = None,
    ) -> None:
        self.operations = dict(operations)
        self.streaming = dict(streaming or {})  # operations answered with an event stream
        self.context = context
        self.authenticator = authenticator
        self.clock = clock
        self.scope = scope
        self.metrics = metrics
        self.readiness = readiness
        self.validator = validator or Validator()
        self.max_body_bytes = max_body_bytes
        self.serve_metrics = serve_metrics
        self.routes = list(routes)  # more endpoints on the same listener (GET /v1/tail)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ app

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post("/", self.handle_api)
        app.router.add_get("/healthz", self.handle_healthz)
        app.router.add_get("/readyz", self.handle_readyz)
        if self.serve_metrics:
            app.router.add_get("/metrics", self.handle_metrics)
        for add_routes in self.routes:
            add_routes(app)
        return app

    async def start(
        self, host: str, port: int, *, shutdown_timeout_s: float = 10.0
    ) -> tuple[str, int]:
        """Bind and serve; returns the bound address (port 0 picks one)."""
        self._runner = web.AppRunner(
            self.application(), access_log=None, shutdown_timeout=shutdown_timeout_s
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to the timeout), close."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ------------------------------------------------------------- protocol

    def _response(self, status: int, payload: Body, request_id: str) -> web.Response:
        return web.Response(
            body=orjson.dumps(payload),
            status=status,
            headers={
                "Content-Type": JSON_TYPE,
                "x-amzn-RequestId": request_id,
                "Date": formatdate(self.clock.now_ms() / 1000, usegmt=True),
            },
        )

    async def handle_api(self, request: web.Request) -> web.StreamResponse:
        started = self.clock.monotonic()
        request_id = str(uuid.uuid4())
        operation = "Unknown"
        self.metrics.api_in_flight.inc()
        reply: StreamingReply | None = None
        payload: Body
        try:
            operation, answer = await self._dispatch(request, request_id)
            status = 200
            if isinstance(answer, dict):
                payload = answer
            else:
                reply, payload = answer, {}
        except Exception as exc:  # the one place failures meet the wire
            status, payload = to_wire(exc)
            if not isinstance(exc, errors.LogdError):
                log.exception(
                    "Request failed unexpectedly.",
                    extra=fields(operation=operation, request_id=request_id),
                )
        finally:
            self.metrics.api_in_flight.inc(-1)
        label = operation if operation in self.validator.operations else "Unknown"
        self.metrics.api_requests.inc(operation=label, code=str(status))
        self.metrics.api_request_seconds.observe(self.clock.monotonic() - started, operation=label)
        if reply is not None:
            return await self._stream(request, reply, request_id)
        return self._response(status, payload, request_id)

    async def _stream(
        self, request: web.Request, reply: StreamingReply, request_id: str
    ) -> web.StreamResponse:
        """Send a streaming operation's answer; the client may leave at any time."""
        response = web.StreamResponse(
            headers={
                "Content-Type": reply.content_type,
                "x-amzn-RequestId": request_id,
                "Date": formatdate(self.clock.now_ms() / 1000, usegmt=True),
            }
        )
        try:
            await response.prepare(request)
            await reply.run(response)
        except ConnectionError:
            pass
        finally:
            reply.close()
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    async def _dispatch(
        self, request: web.Request, request_id: str
    ) -> tuple[str, Body | StreamingReply]:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise errors.SerializationException(
                f"Request body exceeds the limit of {self.max_body_bytes} bytes."
            ) from None
        target = request.headers.get("X-Amz-Target", "")
        principal = self.authenticator.authenticate(
            method=request.method,
            raw_path=request.raw_path.split("?", 1)[0],
            query=request.query_string,
            headers=list(request.headers.items()),
            body=body,
            now_ms=self.clock.now_ms(),
        )
        prefix, _, operation = target.partition(".")
        if prefix != TARGET_PREFIX or not self.validator.knows(operation):
            raise errors.UnknownOperationException(f"Unknown operation: {target or '(none)'}")
        params = _parse_body(body)
        opener = self.streaming.get(operation)
        if opener is not None:
            self.validator.validate(operation, params)
            authorize(principal, operation, groups_named(params), self.scope.log_group_arn)
            return operation, await opener(params, request_id)
        entry = self.operations.get(operation)
        if entry is None:
            return operation, self._unsupported(operation, params)
        self.validator.validate(operation, params, entry.skip_validation)
        authorize(principal, operation, groups_named(params), self.scope.log_group_arn)
        return operation, await entry.handler(self.context, params)

    def _unsupported(self, operation: str, params: Body) -> Body:
        self.validator.validate(operation, params)
        member = EMPTY_LISTS.get(operation)
        if member is None:
            raise errors.InvalidOperationException(f"{operation} is not supported by logd")
        return {member: []}

    # --------------------------------------------------------------- health

    async def handle_healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def handle_readyz(self, request: web.Request) -> web.Response:
        ready, reason = self.readiness()
        if ready:
            return web.json_response({"ready": True})
        return web.json_response({"ready": False, "reason": reason}, status=503)

    async def handle_metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.registry.expose().encode())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response


def _parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise errors.SerializationException("Request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise errors.SerializationException("Request body must be a JSON object.")
    return params
