"""Delivery through real sinks: Kafka on Tansu, the webhook on a loopback server.

R-12 (slow, 429 and 503 webhooks), R-13 (poison events end in the dead-letter store,
nothing else stalls) and the order per stream, event by event.
"""

from __future__ import annotations

import email.utils
import itertools
import time

import aiokafka
import orjson
import pytest

from logd.model import event_id
from tests.support.webhook import Reply

from .support import append, arn, ensure, file_events, running, until

_topics = itertools.count()


def kafka(tansu, topic, **kw):
    return {
        "type": "kafka",
        "bootstrap_servers": [tansu.bootstrap],
        "topic": topic,
        "enable_idempotence": False,
        **kw,
    }


def webhook(server, **kw):
    return {"type": "webhook", "url": server.url, "allow_insecure": True, "timeout_s": 1.0, **kw}


async def consume(bootstrap, topic, count, timeout_s=30.0):
    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            for messages in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


async def produce(service, group, streams, per_stream, marker=lambda s, i: ""):
    """Append `per_stream` events to each stream, interleaved; (stream, seq, message)."""
    sent = []
    for i in range(per_stream):
        for stream in streams:
            messages = [f"{stream} event {i}.{j}{marker(stream, i * 3 + j)}" for j in range(3)]
            first = await append(service, group, stream, messages)
            sent += [(stream, first + j, m) for j, m in enumerate(messages)]
    return sent


async def test_kafka_receives_every_event_in_stream_order(tmp_path, tansu):
    topic = f"subs-{next(_topics)}"
    async with running(tmp_path / "data", {"k": kafka(tansu, topic)}) as service:
        ensure(service, "g", "a", "b", "c")
        await service.put_subscription_filter(
            group="g", name="all", pattern="", destination_arn=arn("k")
        )
        sent = await produce(service, "g", ["a", "b", "c"], 40)
        await until(lambda: service.figures()[0].delivered_events == len(sent))
    records = await consume(tansu.bootstrap, topic, len(sent))
    got = [orjson.loads(r.value) for r in records]
    assert len(got) == len(sent)
    for stream in ("a", "b", "c"):
        mine = [g for g in got if g["logStream"] == stream]
        assert {r.key for r in records if r.key == stream.encode()} == {stream.encode()}
        expected = [(event_id(seq), m) for s, seq, m in sent if s == stream]
        assert [(g["id"], g["message"]) for g in mine] == expected
        assert {g["subscriptionFilter"] for g in mine} == {"all"}


async def test_webhook_gets_a_control_message_then_data(tmp_path, webhook_server):
    async with running(tmp_path / "data", {"w": webhook(webhook_server)}) as service:
        ensure(service, "g", "a")
        await service.put_subscription_filter(
            group="g", name="f", pattern="event", destination_arn=arn("w")
        )
        control = webhook_server.received[0]
        assert control.header("X-Logd-Event") == "CONTROL_MESSAGE"
        assert control.envelope()["messageType"] == "CONTROL_MESSAGE"
        sent = await produce(service, "g", ["a"], 5)
        await until(lambda: len(webhook_server.delivered()) == len(sent) + 1)
    data = webhook_server.received[1].envelope()
    assert (data["messageType"], data["logGroup"], data["subscriptionFilters"]) == (
        "DATA_MESSAGE",
        "g",
        ["f"],
    )
    assert webhook_server.delivered()[1:] == [(event_id(s), m) for _, s, m in sent]


async def test_control_message_refused_means_put_refused(tmp_path, webhook_server):
    from logd.errors import InvalidParameterException

    webhook_server.reply(Reply(400))
    async with running(tmp_path / "data", {"w": webhook(webhook_server)}) as service:
        ensure(service, "g", "a")
        with pytest.raises(InvalidParameterException, match="Could not deliver test message"):
            await service.put_subscription_filter(
                group="g", name="f", pattern="", destination_arn=arn("w")
            )
        assert service.describe_subscription_filters(group="g")[0] == []


async def test_r12_slow_throttling_and_failing_webhook(tmp_path, webhook_server):
    """5 s answers (timeout 1 s), 429 with Retry-After (seconds, then an HTTP date), 503:
    everything arrives once the endpoint recovers, in order; a file subscription on the
    same group is not held up."""
    sinks = {"w": webhook(webhook_server), "f": {"type": "file", "root": str(tmp_path / "out")}}
    async with running(tmp_path / "data", sinks, retry_cap_ms=300) as service:
        ensure(service, "g", "a", "b")
        for name, sink in (("hook", "w"), ("file", "f")):
            await service.put_subscription_filter(
                group="g", name=name, pattern="", destination_arn=arn(sink)
            )
        date = email.utils.formatdate(time.time() + 1, usegmt=True)
        webhook_server.reply(
            Reply(503, delay_s=5),
            Reply(429, {"Retry-After": "1"}),
            Reply(429, {"Retry-After": date}),
            Reply(503),
            Reply(503),
        )
        sent = await produce(service, "g", ["a", "b"], 10)
        await until(lambda: len(file_events(tmp_path / "out")) == len(sent))
        assert webhook_server.delivered()[1:] == []  # the file sink did not wait for it
        hook = next(f for f in service.figures() if f.filter == "hook")
        await until(
            lambda: (
                next(f for f in service.figures() if f.filter == "hook").delivered_events
                == len(sent)
            )
        )
        hook = next(f for f in service.figures() if f.filter == "hook")
    assert hook.retries_by_class.get("RetryableError", 0) >= 4
    assert hook.dead_lettered_events == 0
    delivered = webhook_server.delivered()[1:]
    for stream in ("a", "b"):
        expected = [(event_id(s), m) for st, s, m in sent if st == stream]
        mine = [d for d in delivered if d[1].startswith(stream)]
        assert [d for d in dict.fromkeys(mine)] == expected  # repeats only of whole batches


async def test_r13_poison_events_are_dead_lettered_alone(tmp_path, webhook_server, tansu):
    webhook_server.poison = "POISON"
    topic = f"subs-{next(_topics)}"
    sinks = {
        "w": webhook(webhook_server, rendering="ndjson"),  # the server sees the marker
        "k": kafka(tansu, topic, max_request_size=4096),
    }
    poison = {5, 17, 18, 40}
    big = {7, 33}

    def mark(stream, n):
        if stream == "a" and n in poison:
            return " POISON"
        if stream == "b" and n in big:
            return " " + "x" * 6000
        return ""

    async with running(tmp_path / "data", sinks) as service:
        ensure(service, "g", "a", "b")
        for name, sink in (("hook", "w"), ("kafka", "k")):
            await service.put_subscription_filter(
                group="g", name=name, pattern="", destination_arn=arn(sink)
            )
        sent = await produce(service, "g", ["a", "b"], 20, marker=mark)
        total = len(sent)

        def settled(name, dead):
            f = next(f for f in service.figures() if f.filter == name)
            return f.delivered_events + f.dead_lettered_events == total and (
                f.dead_lettered_events == dead
            )

        try:
            await until(lambda: settled("hook", len(poison)) and settled("kafka", len(big)))
        except TimeoutError:
            raise AssertionError(repr(service.figures())) from None
        letters = {
            name: list(service.deadletters.letters(f"g:{name}")) for name in ("hook", "kafka")
        }
    hook_dead = [e["message"] for letter in letters["hook"] for e in letter.events]
    assert sorted(hook_dead) == sorted(m for _, _, m in sent if "POISON" in m)
    assert all(letter.sink == "w" and "400" in letter.reason for letter in letters["hook"])
    kafka_dead = [e["message"] for letter in letters["kafka"] for e in letter.events]
    assert sorted(kafka_dead) == sorted(m for _, _, m in sent if "xxxx" in m)
    assert all("max_request_size 4096" in letter.reason for letter in letters["kafka"])
    hooked = webhook_server.delivered()
    for stream in ("a", "b"):
        good = [(event_id(s), m) for st, s, m in sent if st == stream and "POISON" not in m]
        assert [d for d in hooked if d[1].startswith(stream)] == good
    records = await consume(tansu.bootstrap, topic, total - len(big))
    got = [(orjson.loads(r.value)["id"], orjson.loads(r.value)["message"]) for r in records]
    for stream in ("a", "b"):
        expected = [(event_id(s), m) for st, s, m in sent if st == stream and "xxxx" not in m]
        assert [g for g in got if g[1].startswith(stream)] == expected


async def test_a_cloudwatch_sink_gets_a_control_message_when_it_starts(tmp_path, webhook_server):
    data = tmp_path / "data"
    async with running(data, {"w": webhook(webhook_server)}) as service:
        ensure(service, "g", "a")
        await service.put_subscription_filter(
            group="g", name="f", pattern="", destination_arn=arn("w")
        )
    assert len(webhook_server.received) == 1
    async with running(data, {"w": webhook(webhook_server)}) as service:
        await until(lambda: len(webhook_server.received) == 2)
        await append(service, "g", "a", ["after the restart"])
        await until(lambda: len(webhook_server.delivered()) == 3)
    kinds = [r.header("X-Logd-Event") for r in webhook_server.received]
    assert kinds == ["CONTROL_MESSAGE", "CONTROL_MESSAGE", "DATA_MESSAGE"]
