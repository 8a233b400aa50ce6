"""`logd dlq` on a real dead-letter store and `logd tail` against a real endpoint."""

from __future__ import annotations

import argparse
import asyncio
import time

from aiohttp import web

from logd.api.auth import Authenticator
from logd.api.tail import TailEndpoint
from logd.cli import dlq, tail
from logd.clock import SystemClock
from logd.model import Scope
from logd.subscriptions.livetail import LiveTail
from logd.subscriptions.options import SubscriptionOptions
from tests.logd.subscriptions.support import append, arn, ensure, running, until


def parse(module, argv):
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


async def test_dlq_list_show_replay_purge(tmp_path, webhook_server, capsys):
    webhook_server.poison = "POISON"
    data = tmp_path / "data"
    hook = {
        "type": "webhook",
        "url": webhook_server.url,
        "allow_insecure": True,
        "rendering": "ndjson",
    }
    async with running(data, {"w": hook}) as service:
        ensure(service, "g", "a")
        await service.put_subscription_filter(
            group="g", name="f", pattern="", destination_arn=arn("w")
        )
        await append(service, "g", "a", ["ok 1", "POISON 2", "ok 3"])
        await until(lambda: service.figures()[0].dead_lettered_events == 1)
        await until(lambda: service.figures()[0].delivered_events == 2)
    letters = list(service.deadletters.letters("g:f"))
    assert [e["message"] for x in letters for e in x.events] == ["POISON 2"]

    assert dlq.run(parse(dlq, ["dlq", "list", "--data-dir", str(data)])) == 0
    assert capsys.readouterr().out.startswith("g:f\t1 batches\t1 events\tw")
    assert dlq.run(parse(dlq, ["dlq", "show", "g:f", "--data-dir", str(data)])) == 0
    assert letters[0].idempotency_key in capsys.readouterr().out

    config = tmp_path / "logd.toml"
    config.write_text(
        f'[daemon]\ndata_dir = "{data}"\n\n[sinks.w]\ntype = "webhook"\n'
        f'url = "{webhook_server.url}"\nallow_insecure = true\nrendering = "ndjson"\n'
    )
    args = parse(dlq, ["dlq", "replay", "g:f", "--config", str(config)])
    assert await asyncio.to_thread(dlq.run, args) == 1  # still poison: it stays
    assert len(list(service.deadletters.letters("g:f"))) == 1
    webhook_server.poison = None  # the receiver is fixed
    assert await asyncio.to_thread(dlq.run, args) == 0
    replayed = webhook_server.received[-1]
    assert replayed.events() == [(letters[0].events[0]["id"], "POISON 2")]
    assert replayed.header("X-Logd-Delivery") == letters[0].idempotency_key
    assert list(service.deadletters.letters("g:f")) == []
    capsys.readouterr()
    assert dlq.run(parse(dlq, ["dlq", "purge", "g:f", "--data-dir", str(data)])) == 0


def test_since_forms():
    now = 1_700_000_000_000
    assert tail.parse_since("10m", now) == now - 600_000
    assert tail.parse_since("2h", now) == now - 7_200_000
    assert tail.parse_since("1700000000", now) == now
    assert tail.parse_since("2023-11-14T22:13:20Z", now) == now


async def test_tail_prints_history_filtered(tmp_path, capsys):
    async with running(tmp_path / "data", {}) as service:
        ensure(service, "g", "web-1", "db-1")
        await append(service, "g", "web-1", ["ERROR a", "INFO b"])
        await append(service, "g", "db-1", ["ERROR c"])
        hub = LiveTail(service.store, SubscriptionOptions())
        hub.start()
        app = web.Application()
        TailEndpoint(hub, Authenticator("none", {}), SystemClock(), Scope()).add_routes(app)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            argv = ["tail", "g", "--since", "1h", "--stream-prefix", "web"]
            argv += ["--filter-pattern", "ERROR", "--endpoint", endpoint]
            assert await asyncio.to_thread(tail.run, parse(tail, argv)) == 0
            out = capsys.readouterr().out.splitlines()
            assert [line.split(" ", 1)[1] for line in out] == ["web-1 ERROR a"]
            year = time.gmtime().tm_year
            assert out[0].startswith(str(year))
            argv = ["tail", "nope", "--endpoint", endpoint]
            assert await asyncio.to_thread(tail.run, parse(tail, argv)) == 1
            assert "ResourceNotFoundException" in capsys.readouterr().err
        finally:
            await runner.cleanup()
            await hub.close()
