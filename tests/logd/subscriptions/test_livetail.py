"""Live tail against a real store: history then live, resume without gap or repeat,
bounded queues that report misses, and the NDJSON endpoint over a real socket."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import orjson
import pytest
from aiohttp import web

from logd.api.auth import Authenticator
from logd.api.tail import TailEndpoint
from logd.clock import SystemClock
from logd.errors import InvalidParameterException, ResourceNotFoundException
from logd.model import InputEvents, Scope, event_id
from logd.store.options import StoreOptions
from logd.store.store import Store
from logd.subscriptions.livetail import LiveTail, TailRequest
from logd.subscriptions.options import SubscriptionOptions

QUIET = {"seal_interval_ms": 3_600_000, "retention_sweep_interval_ms": 3_600_000}


@contextlib.asynccontextmanager
async def tail_on(tmp_path, **options):
    store = await Store.open(tmp_path / "data", StoreOptions(**QUIET), SystemClock())
    hub = LiveTail(store, SubscriptionOptions(**options))
    hub.start()
    try:
        now = int(time.time() * 1000)
        store.catalog.create_group("g", now_ms=now)
        for s in ("a", "b"):
            store.catalog.create_stream("g", s, now_ms=now)
        yield store, hub
    finally:
        await hub.close()
        await store.close()


async def put(store, stream, messages, ts=None):
    now = int(time.time() * 1000) if ts is None else ts
    await store.append("g", stream, InputEvents([now] * len(messages), list(messages)))


async def take(lines, n):
    out = []
    async with asyncio.timeout(10):
        while len(out) < n:
            out.append(await anext(lines))
    return out


async def test_history_then_live_with_filters(tmp_path):
    async with tail_on(tmp_path) as (store, hub):
        await put(store, "a", ["ERROR old-a", "INFO old-a"])
        await put(store, "b", ["ERROR old-b"])
        stream = hub.open(TailRequest(group="g", pattern="ERROR", since_ms=0, streams=("a",)))
        lines = stream.lines()
        try:
            assert [line["message"] for line in await take(lines, 1)] == ["ERROR old-a"]
            await put(store, "b", ["ERROR live-b"])
            await put(store, "a", ["INFO live-a", "ERROR live-a"])
            (line,) = await take(lines, 1)
            assert (line["message"], line["logStreamName"], line["eventId"]) == (
                "ERROR live-a",
                "a",
                event_id(6),
            )
        finally:
            await lines.aclose()
        assert hub.sessions == 0


async def test_resume_after_reconnect_has_no_gap_and_no_repeat(tmp_path):
    """A producer appends all the time; the client disconnects twice and resumes with
    `after` = the last event id it saw: it sees every event exactly once, in order."""
    total = 600
    async with tail_on(tmp_path) as (store, hub):

        async def producer():
            for i in range(0, total, 3):
                await put(store, "ab"[i % 2], [f"e{i + j}" for j in range(3)])
                await asyncio.sleep(0.001)

        task = asyncio.create_task(producer())
        seen: list[int] = []
        after = None
        try:
            for chunk in (100, 200, total):
                req = TailRequest(group="g", since_ms=0, after_seq=after)
                lines = hub.open(req).lines()
                try:
                    while len(seen) < chunk:
                        (line,) = await take(lines, 1)
                        seen.append(int(line["eventId"]))
                finally:
                    await lines.aclose()
                after = seen[-1]
        finally:
            await task
    assert seen == list(range(1, total + 1))


async def test_a_slow_client_is_told_what_it_missed(tmp_path):
    async with tail_on(tmp_path, live_tail_queue_events=10) as (store, hub):
        lines = hub.open(TailRequest(group="g")).lines()
        try:
            first = asyncio.ensure_future(anext(lines))
            await asyncio.sleep(0)
            for i in range(5):
                await put(store, "a", [f"m{i}.{j}" for j in range(10)])
            got = [await first]
            await asyncio.sleep(0.05)  # let the hub queue the rest while nobody reads
            got += await take(lines, 1)
            assert any("message" in g for g in got)
        finally:
            await lines.aclose()
        # a session that read nothing at all: the oldest were dropped and counted
        stream = hub.open(TailRequest(group="g"))
        for i in range(3):
            await put(store, "b", [f"n{i}.{j}" for j in range(10)])
        async with asyncio.timeout(5):
            while stream.session.missed < 20:
                await asyncio.sleep(0.01)
        lines = stream.lines()
        try:
            missed, *rest = await take(lines, 11)
            assert missed == {"missed": 20}
            assert [r["message"] for r in rest] == [f"n2.{j}" for j in range(10)]
        finally:
            await lines.aclose()


async def test_refusals_come_before_any_output(tmp_path):
    async with tail_on(tmp_path) as (_, hub):
        with pytest.raises(ResourceNotFoundException):
            hub.open(TailRequest(group="nope"))
        with pytest.raises(InvalidParameterException, match="filter pattern"):
            hub.open(TailRequest(group="g", pattern='{ $.a = "x'))
        assert hub.sessions == 0


async def test_the_http_endpoint_streams_ndjson(tmp_path):
    async with tail_on(tmp_path) as (store, hub):
        app = web.Application()
        TailEndpoint(hub, Authenticator("none", {}), SystemClock(), Scope()).add_routes(app)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}/v1/tail"
        try:
            await put(store, "a", ["one", "two"])
            async with aiohttp.ClientSession() as http:
                async with http.get(base, params={"group": "nope"}) as r:
                    assert r.status == 400
                    assert (await r.json())["__type"] == "ResourceNotFoundException"
                params = {"group": "g", "since": "0", "follow": "0"}
                async with http.get(base, params=params) as r:
                    assert r.headers["Content-Type"] == "application/x-ndjson"
                    body = [orjson.loads(x) for x in (await r.read()).splitlines() if x]
                assert [b["message"] for b in body] == ["one", "two"]
                params = {"group": "g", "since": "0", "after": body[0]["eventId"]}
                async with http.get(base, params=params) as r:
                    assert orjson.loads(await r.content.readline())["message"] == "two"
                    await put(store, "b", ["three"])
                    assert orjson.loads(await r.content.readline())["message"] == "three"
        finally:
            await runner.cleanup()
