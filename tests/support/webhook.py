"""A real HTTP endpoint for webhook tests: aiohttp on a free loopback port.

Replies are scripted (`reply(Reply(429, {"Retry-After": "3"}), Reply(503), ...)`); when
the script is empty it answers 200. A reply can be slow (`delay_s`). `poison` makes it
answer 400 to any body containing that text. Every request is recorded with its raw
headers and body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    body: bytes = b""


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    reply: Reply

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def decoded(self) -> bytes:
        """The body before Content-Encoding."""
        if self.header("Content-Encoding") == "gzip":
            return gzip.decompress(self.body)
        return self.body

    def envelope(self) -> dict[str, object]:
        """The CloudWatch envelope inside an awslogs body."""
        event = orjson.loads(self.decoded())
        return orjson.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))

    def events(self) -> list[tuple[str, str]]:
        if self.header("Content-Type") == "application/x-ndjson":
            lines = [orjson.loads(line) for line in self.decoded().splitlines()]
            return [(e["id"], e["message"]) for e in lines]
        log_events = self.envelope()["logEvents"]
        assert isinstance(log_events, list)
        return [(e["id"], e["message"]) for e in log_events]


class WebhookServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.poison: str | None = None
        self._script: deque[Reply] = deque()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def reply(self, *replies: Reply) -> None:
        self._script.extend(replies)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        reply = self._script.popleft() if self._script else Reply()
        record = Received(dict(request.headers), body, reply)
        if self.poison is not None and self.poison.encode() in record.decoded():
            reply = Reply(400, body=b"poison")
            record = Received(record.headers, body, reply)
        self.received.append(record)
        if reply.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), reply.delay_s)
        return web.Response(status=reply.status, headers=reply.headers, body=reply.body)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, auto_decompress=False
        )  # bodies are recorded exactly as sent, for signatures
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self.url

    async def close(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def delivered(self) -> list[tuple[str, str]]:
        """Events of every request answered 2xx, in arrival order."""
        return [e for r in self.received if 200 <= r.reply.status < 300 for e in r.events()]


@pytest.fixture
async def webhook_server() -> AsyncIterator[WebhookServer]:
    server = WebhookServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
