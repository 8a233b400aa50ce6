"""`GET /v1/tail`: live tail as NDJSON over a chunked HTTP response.

Query: `group` (required; a name or a log-group ARN), `filterPattern`, `since` (epoch
ms: replay events with timestamp >= since first), `after` (an event id: resume after
it; no gap, no repeat), `stream` (repeatable) or `streamPrefix`, `follow` (`0` =
history only). Each line is an event `{"eventId", "logGroupName", "logStreamName",
"timestamp", "ingestionTime", "message"}`, or `{"missed": n}` when the client read too
slowly and `n` events were dropped (reconnect with `after=` to fetch them). An empty
line every `HEARTBEAT_S` keeps idle connections alive. Errors before the stream starts
are ordinary JSON error bodies (`logd.api.errors.to_wire`). Authenticated like the
API (SigV4 over the GET, or anonymous) and authorised as `logs:StartLiveTail`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from logd import errors
from logd.api.auth import Authenticator, authorize
from logd.api.errors import to_wire
from logd.clock import Clock
from logd.model import Scope, seq_of_event_id
from logd.subscriptions.livetail import LiveTail, TailRequest

PATH = "/v1/tail"
HEARTBEAT_S = 10.0


def parse_request(query: Any) -> TailRequest:
    group = query.get("group")
    if not group:
        raise errors.InvalidParameterException("Missing required parameter: group")
    if group.startswith("arn:"):
        group = group.split(":log-group:", 1)[-1].removesuffix(":*")
    streams = tuple(query.getall("stream", ()))
    prefix = query.get("streamPrefix")
    if streams and prefix is not None:
        raise errors.InvalidParameterException("stream and streamPrefix are mutually exclusive.")
    since = _int(query.get("since"), "since")
    after = None
    if query.get("after"):
        after = seq_of_event_id(query["after"])
        if after is None:
            raise errors.InvalidParameterException("after must be an event id.")
    return TailRequest(
        group=group,
        streams=streams,
        stream_prefix=prefix,
        pattern=query.get("filterPattern", ""),
        since_ms=since,
        after_seq=after,
        follow=query.get("follow", "1") not in ("0", "false"),
    )


def _int(text: str | None, name: str) -> int | None:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.InvalidParameterException(f"{name} must be epoch milliseconds.") from None


class TailEndpoint:
    def __init__(
        self, livetail: LiveTail, authenticator: Authenticator, clock: Clock, scope: Scope
    ) -> None:
        self.livetail = livetail
        self.authenticator = authenticator
        self.clock = clock
        self.scope = scope

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(PATH, self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            principal = self.authenticator.authenticate(
                method="GET",
                raw_path=PATH,
                query=request.query_string,
                headers=list(request.headers.items()),
                body=b"",
                now_ms=self.clock.now_ms(),
            )
            tail = parse_request(request.query)
            authorize(principal, "StartLiveTail", [tail.group], self.scope.log_group_arn)
            stream = self.livetail.open(tail)  # unknown group, bad pattern: raised here
        except Exception as exc:
            status, payload = to_wire(exc)
            return web.json_response(payload, status=status)
        try:
            response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            lines = stream.lines()
            try:
                await _pump(lines, response)
            finally:
                await lines.aclose()
        finally:
            stream.close()
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response


async def _pump(events: AsyncIterator[dict[str, Any]], response: web.StreamResponse) -> None:
    pending = asyncio.ensure_future(anext(events, None))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_S)
            if not done:
                await response.write(b"\n")
                continue
            line = pending.result()
            if line is None:
                return
            await response.write(orjson.dumps(line) + b"\n")
            pending = asyncio.ensure_future(anext(events, None))
    except ConnectionError:
        return
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await pending
