"""The webhook sink against a real aiohttp endpoint on loopback."""

import email.utils
import gzip

import orjson
import pytest

from sinks import (
    AuthorizationError,
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    SinkContext,
    SinkOptionsError,
)
from sinks.testing import SinkContract, make_batch
from sinks.webhook import WebhookOptions, WebhookSink, parse_retry_after, sign, verify
from tests.support.kafka import free_port
from tests.support.webhook import Reply

SECRET = "whsec_test_1"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0, step: float = 0.0) -> None:
        self.now, self.step = now, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def webhook(url, clock=None, environ=None, **options):
    context = SinkContext.create(
        "webhook", "test", environ={"HOOK_SECRET": SECRET, **(environ or {})}, now=clock or Clock()
    )
    data = {"url": url, "allow_insecure": True, "signing_secrets_env": ["HOOK_SECRET"], **options}
    return WebhookSink(WebhookOptions.from_dict(data), context)


class TestWebhookContract(SinkContract):
    @pytest.fixture
    def sink(self, webhook_server):
        return webhook(webhook_server.url)

    @pytest.fixture
    def delivered(self, webhook_server):
        return webhook_server.delivered

    @pytest.fixture
    def broken_sink(self):
        return webhook(f"http://127.0.0.1:{free_port()}/closed")


class TestWebhookNdjsonGzipContract(TestWebhookContract):
    @pytest.fixture
    def sink(self, webhook_server):
        return webhook(webhook_server.url, rendering="ndjson", compression="gzip")


async def test_body_is_a_lambda_event_signed_over_timestamp_and_body(webhook_server):
    clock = Clock()
    batch = make_batch(3)
    async with webhook(webhook_server.url, clock) as sink:
        await sink.send(batch)
    [req] = webhook_server.received
    assert req.header("Content-Type") == "application/json"
    assert req.header("Content-Encoding") is None
    assert orjson.loads(req.body) == orjson.loads(batch.to_awslogs_event())
    assert req.envelope()["logEvents"] == [
        {"id": i, "timestamp": t, "message": m}
        for i, t, m in zip(batch.ids, batch.timestamps, batch.messages, strict=True)
    ]
    assert req.header("X-Logd-Timestamp") == str(int(clock.now))
    expected = sign(SECRET, int(clock.now), req.body)
    assert req.header("X-Logd-Signature") == f"v1={expected}"
    assert verify(SECRET, req.headers, req.body, now=clock.now)
    assert not verify("other-secret", req.headers, req.body, now=clock.now)
    assert not verify(SECRET, req.headers, req.body + b" ", now=clock.now)
    assert not verify(SECRET, req.headers, req.body, now=clock.now + 301)
    assert req.header("X-Logd-Delivery") == batch.id
    assert req.header("X-Logd-Attempt") == "1"
    assert req.header("X-Logd-Event") == "DATA_MESSAGE"


async def test_every_retry_is_signed_afresh(webhook_server):
    clock = Clock(step=7.0)  # time moves between attempts
    webhook_server.reply(Reply(503), Reply(503))
    batch = make_batch(2)
    async with webhook(webhook_server.url, clock) as sink:
        for attempt in (1, 2, 3):
            try:
                await sink.send(make_batch(2, attempt=attempt))
            except RetryableError:
                assert attempt < 3
    stamps = [int(r.header("X-Logd-Timestamp")) for r in webhook_server.received]
    assert len(set(stamps)) == 3
    signatures = {r.header("X-Logd-Signature") for r in webhook_server.received}
    assert len(signatures) == 3
    for req, stamp in zip(webhook_server.received, stamps, strict=True):
        assert verify(SECRET, req.headers, req.body, now=stamp)
    assert {r.header("X-Logd-Delivery") for r in webhook_server.received} == {batch.id}
    assert [r.header("X-Logd-Attempt") for r in webhook_server.received] == ["1", "2", "3"]
    assert webhook_server.delivered() == list(zip(batch.ids, batch.messages, strict=True))


async def test_gzip_ndjson_is_signed_as_sent(webhook_server):
    clock = Clock()
    batch = make_batch(4)
    async with webhook(webhook_server.url, clock, rendering="ndjson", compression="gzip") as sink:
        await sink.send(batch)
    [req] = webhook_server.received
    assert req.header("Content-Encoding") == "gzip"
    assert req.header("Content-Type") == "application/x-ndjson"
    assert gzip.decompress(req.body) == batch.to_ndjson()
    assert verify(SECRET, req.headers, req.body, now=clock.now)


async def test_rotation_sends_one_signature_per_secret(webhook_server):
    clock = Clock()
    environ = {"OLD": "old-secret"}
    sink = webhook(webhook_server.url, clock, environ, signing_secrets_env=["HOOK_SECRET", "OLD"])
    async with sink:
        await sink.send(make_batch(1))
    [req] = webhook_server.received
    assert req.header("X-Logd-Signature").count("v1=") == 2
    assert verify("old-secret", req.headers, req.body, now=clock.now)
    assert verify(["nope", SECRET], req.headers, req.body, now=clock.now)


async def test_static_and_env_headers(webhook_server):
    environ = {"TOKEN": "Bearer abc"}
    sink = webhook(
        webhook_server.url,
        environ=environ,
        headers={"X-Team": "logs"},
        headers_from_env={"Authorization": "TOKEN"},
    )
    async with sink:
        await sink.send(make_batch(1))
    [req] = webhook_server.received
    assert (req.header("X-Team"), req.header("Authorization")) == ("logs", "Bearer abc")


def test_a_missing_secret_is_a_startup_error():
    with pytest.raises(
        SinkOptionsError, match=r"headers_from_env.Authorization: environment variable TOKEN"
    ):
        webhook("http://127.0.0.1:1/", headers_from_env={"Authorization": "TOKEN"})
    context = SinkContext.create("webhook", "t")
    options = WebhookOptions.from_dict({"url": "https://x.example/", "signing_secrets_env": ["S"]})
    with pytest.raises(SinkOptionsError, match=r"signing_secrets_env\[0\]: environment variable S"):
        WebhookSink(options, context)


@pytest.mark.parametrize(
    ("reply", "kind", "retry_after"),
    [
        (Reply(429, {"Retry-After": "3"}), RetryableError, 3.0),
        (Reply(503), RetryableError, None),
        (Reply(500), RetryableError, None),
        (Reply(408), RetryableError, None),
        (Reply(401), AuthorizationError, 600.0),
        (Reply(403, {"Retry-After": "120"}), AuthorizationError, 120.0),
        (Reply(400, body=b"bad event"), FatalError, None),
        (Reply(422), FatalError, None),
        (Reply(404), FatalError, None),
        (Reply(413), PayloadTooLargeError, None),
        (Reply(301, {"Location": "/elsewhere"}), RetryableError, 60.0),
        (Reply(204), None, None),
    ],
)
async def test_status_classification(webhook_server, reply, kind, retry_after):
    webhook_server.reply(reply)
    async with webhook(webhook_server.url) as sink:
        if kind is None:
            await sink.send(make_batch(1))
            return
        with pytest.raises(kind) as info:
            await sink.send(make_batch(1))
    assert type(info.value) is kind
    assert getattr(info.value, "retry_after", None) == retry_after
    assert str(reply.status) in str(info.value)
    if reply.body:
        assert reply.body.decode() in str(info.value)


async def test_retry_after_as_http_date(webhook_server):
    clock = Clock()
    when = email.utils.formatdate(clock.now + 3, usegmt=True)
    webhook_server.reply(Reply(429, {"Retry-After": when}))
    async with webhook(webhook_server.url, clock) as sink:
        with pytest.raises(RetryableError) as info:
            await sink.send(make_batch(1))
    assert info.value.retry_after == pytest.approx(3.0, abs=1.0)


def test_parse_retry_after():
    now = 1_800_000_000.0
    assert parse_retry_after("3", now) == 3.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after(email.utils.formatdate(now + 10, usegmt=True), now) == 10.0
    assert parse_retry_after(email.utils.formatdate(now - 10, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-4", now) is None
    assert parse_retry_after(None, now) is None


async def test_slow_endpoint_times_out_as_retryable(webhook_server):
    webhook_server.reply(Reply(200, delay_s=5.0))
    async with webhook(webhook_server.url, timeout_s=0.3) as sink:
        with pytest.raises(RetryableError, match="timed out"):
            await sink.send(make_batch(1))
        await sink.send(make_batch(1, first_seq=2))  # the next attempt goes through


async def test_connection_refused_is_retryable():
    async with webhook(f"http://127.0.0.1:{free_port()}/") as sink:
        with pytest.raises(RetryableError, match="request failed"):
            await sink.send(make_batch(1))


async def test_poison_event_is_fatal_and_halves_isolate_it(webhook_server):
    webhook_server.poison = "POISON"
    batch = make_batch(4, message=lambda s: "POISON" if s == 3 else f"ok {s}")
    left, right = batch.split()
    async with webhook(webhook_server.url, rendering="ndjson") as sink:
        with pytest.raises(FatalError):
            await sink.send(batch)
        await sink.send(left)
        with pytest.raises(FatalError):
            await sink.send(right)
        r1, r2 = right.split()
        with pytest.raises(FatalError):
            await sink.send(r1)
        await sink.send(r2)
    assert [m for _, m in webhook_server.delivered()] == ["ok 1", "ok 2", "ok 4"]


async def test_body_over_the_limit_is_refused_before_sending(webhook_server):
    async with webhook(webhook_server.url, max_body_bytes=100) as sink:
        with pytest.raises(PayloadTooLargeError) as info:
            await sink.send(make_batch(5))
    assert info.value.limit == 100
    assert info.value.size > 100
    assert webhook_server.received == []


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"url": "http://x.example/"}, "url"),
        ({"url": "ftp://x.example/"}, "url"),
        ({"url": "https://x.example/", "timeout_s": 0}, "timeout_s"),
        (
            {"url": "https://x.example/", "headers": {"X-Logd-Delivery": "x"}},
            "headers.X-Logd-Delivery",
        ),
        ({"url": "https://x.example/", "headers": {"Content-Type": "x"}}, "headers.Content-Type"),
        ({"url": "https://x.example/", "compression": "br"}, "compression"),
        ({"url": "https://x.example/", "tls_cert_file": "c.pem"}, "tls_cert_file"),
    ],
)
def test_bad_options_name_their_key(options, where):
    with pytest.raises(SinkOptionsError) as info:
        WebhookOptions.from_dict(options, path="sinks.hook")
    assert [w for w, _ in info.value.problems] == [f"sinks.hook.{where}"]
