"""The Kafka sink against a real broker (Tansu): produce, consume, compare event by event.

Tansu 0.6.0 cannot start an idempotent aiokafka producer (see tests/support/kafka.py), so
these tests run with `enable_idempotence = false`; everything else is as configured in
production (`acks = "all"`). Messages are counted by consuming them.
"""

import asyncio
import gzip
import hashlib
import itertools
import time

import aiokafka
import aiokafka.codec
import aiokafka.errors
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
from sinks.kafka import KafkaOptions, KafkaSink, map_kafka_error, topic_for
from sinks.testing import SinkContract, make_batch
from tests.support.kafka import free_port

_topics = itertools.count()


def kafka_sink(bootstrap, **options):
    data = {"bootstrap_servers": [bootstrap], "enable_idempotence": False, **options}
    return KafkaSink(KafkaOptions.from_dict(data), SinkContext.create("kafka", "test"))


@pytest.fixture
def topic(request):
    return f"t{next(_topics)}-{request.node.name[:40]}".replace("[", "_").replace("]", "_")


async def consume(bootstrap, topic, count, timeout_s=20.0):
    """Read `count` records from the start of `topic` (Tansu: never trust end offsets)."""
    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(records) < count and time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=200)
            for messages in got.values():
                records.extend(messages)
    finally:
        await consumer.stop()
    return records


async def consume_all(bootstrap, topic, idle_s=0.5, first_s=10.0):
    """Every record of a non-empty `topic`: wait up to `first_s` for the first record,
    then read until nothing new arrives for `idle_s` (everything was acknowledged
    before, so only the consumer's own start-up is waited for)."""
    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records = []
    try:
        quiet_since = time.monotonic() + first_s - idle_s
        while time.monotonic() - quiet_since < idle_s:
            got = await consumer.getmany(timeout_ms=100)
            for messages in got.values():
                records.extend(messages)
                quiet_since = time.monotonic()
    finally:
        await consumer.stop()
    return records


class TestKafkaSinkContract(SinkContract):
    @pytest.fixture
    def sink(self, tansu, topic):
        return kafka_sink(tansu.bootstrap, topic=topic)

    @pytest.fixture
    def delivered(self, tansu, topic):
        async def events():
            records = await consume_all(tansu.bootstrap, topic)
            # one stream, one key, one partition: offsets give the delivery order
            lines = [orjson.loads(r.value) for r in records]
            return [(e["id"], e["message"]) for e in lines]

        return events

    @pytest.fixture
    def broken_sink(self):
        return kafka_sink(f"127.0.0.1:{free_port()}", request_timeout_ms=2000)


async def test_ndjson_records_event_by_event_keyed_by_stream(tansu, topic):
    batches = [
        make_batch(4, first_seq=1 + 4 * i, stream=f"web-{i % 2}", group="/app/web")
        for i in range(6)
    ]
    async with kafka_sink(tansu.bootstrap, topic=topic, compression="gzip") as sink:
        for batch in batches:
            await sink.send(batch)
    records = await consume(tansu.bootstrap, topic, 24)
    assert len(records) == 24
    expected = {}
    for batch in batches:
        for line, eid, ts in zip(batch.ndjson_lines(), batch.ids, batch.timestamps, strict=True):
            expected[eid] = (batch, line, ts)
    per_stream: dict[bytes, list[str]] = {}
    for record in records:
        headers = dict(record.headers)
        eid = headers["logd-event-id"].decode()
        batch, line, ts = expected.pop(eid)
        assert record.value == line
        assert record.key == batch.stream.encode()
        assert record.timestamp == ts
        assert headers["logd-group"] == b"/app/web"
        assert headers["logd-stream"] == batch.stream.encode()
        assert headers["logd-filter"] == b"test-filter"
        assert headers["logd-owner"] == b"123456789012"
        assert headers["logd-format"] == b"ndjson"
        assert headers["logd-message-type"] == b"DATA_MESSAGE"
        assert headers["logd-idempotency-key"] == batch.id.encode()
        per_stream.setdefault(record.key, []).append(eid)
    assert expected == {}
    # Order per stream: one key, one partition, offsets in send order.
    for stream, ids in per_stream.items():
        wanted = [i for b in batches if b.stream.encode() == stream for i in b.ids]
        assert ids == wanted


async def test_cloudwatch_rendering_is_one_payload_record_per_batch(tansu, topic):
    batches = [make_batch(3, first_seq=1), make_batch(3, first_seq=4)]
    async with kafka_sink(tansu.bootstrap, topic=topic, rendering="cloudwatch") as sink:
        for batch in batches:
            await sink.send(batch)
    records = await consume(tansu.bootstrap, topic, 2)
    assert [r.value for r in records] == [b.to_cloudwatch_payload() for b in batches]
    envelope = orjson.loads(gzip.decompress(records[0].value))
    assert [e["id"] for e in envelope["logEvents"]] == list(batches[0].ids)
    headers = dict(records[1].headers)
    assert headers["logd-content-encoding"] == b"gzip"
    assert headers["logd-format"] == b"cloudwatch"
    assert headers["logd-event-id"] == batches[1].ids[0].encode()
    assert records[1].timestamp == batches[1].timestamps[0]
    assert {r.key for r in records} == {b"stream-1"}


async def test_random_distribution_sends_no_key(tansu, topic):
    async with kafka_sink(tansu.bootstrap, topic=topic) as sink:
        await sink.send(make_batch(2, distribution="Random"))
    assert [r.key for r in await consume(tansu.bootstrap, topic, 2)] == [None, None]


async def test_topic_template(tansu, topic):
    batch = make_batch(1, group="/app/web", stream="w 1")
    async with kafka_sink(tansu.bootstrap, topic=topic + ".{group}.{stream}") as sink:
        await sink.send(batch)
    assert len(await consume(tansu.bootstrap, topic + "._app_web.w_1", 1)) == 1
    assert topic_for("{owner}-{filter}-{group}", batch) == "123456789012-test-filter-_app_web"


async def test_an_event_over_the_limit_is_refused_before_sending(tansu, topic):
    big = make_batch(3, message=lambda s: "x" * 5000 if s == 2 else f"small {s}")
    async with kafka_sink(tansu.bootstrap, topic=topic, max_request_size=2000) as sink:
        with pytest.raises(PayloadTooLargeError, match=big.ids[1]) as info:
            await sink.send(big)
        assert info.value.limit == 2000
        assert info.value.size > 5000
        left, right = big.split()  # what the dispatcher does: halve until alone
        await sink.send(left)
        with pytest.raises(PayloadTooLargeError):
            await sink.send(right.split()[0])
        await sink.send(right.split()[1])
    records = await consume(tansu.bootstrap, topic, 2)
    assert [orjson.loads(r.value)["message"] for r in records] == ["small 1", "small 3"]


async def test_a_cloudwatch_batch_over_the_limit_is_fatal_for_the_batch(tansu, topic):
    def noise(s):
        return hashlib.sha256(str(s).encode()).hexdigest() * 2  # barely compresses

    batch = make_batch(40, message=noise)
    options = {"topic": topic, "rendering": "cloudwatch", "max_request_size": 2500}
    async with kafka_sink(tansu.bootstrap, **options) as sink:
        with pytest.raises(PayloadTooLargeError, match="the batch"):
            await sink.send(batch)
        left, right = batch.split()
        for half in (*left.split(), *right.split()):
            await sink.send(half)
    assert len(await consume(tansu.bootstrap, topic, 4)) == 4


async def test_unreachable_broker_is_retryable():
    sink = kafka_sink(f"127.0.0.1:{free_port()}", request_timeout_ms=2000)
    with pytest.raises(RetryableError):
        await sink.start()
    await sink.close()
    with pytest.raises(RetryableError, match="not started"):
        await sink.send(make_batch(1))


def test_library_errors_are_mapped_by_retriable():
    errors = aiokafka.errors
    assert type(map_kafka_error(errors.RequestTimedOutError())) is RetryableError
    assert type(map_kafka_error(errors.NotLeaderForPartitionError())) is RetryableError
    assert type(map_kafka_error(errors.KafkaConnectionError())) is RetryableError
    too_big = map_kafka_error(errors.MessageSizeTooLargeError(), limit=10)
    assert isinstance(too_big, PayloadTooLargeError)
    assert too_big.limit == 10
    assert isinstance(map_kafka_error(errors.TopicAuthorizationFailedError()), AuthorizationError)
    assert type(map_kafka_error(errors.InvalidTopicError())) is FatalError
    unknown = map_kafka_error(errors.IllegalStateError())
    assert type(unknown) is RetryableError
    assert "unclassified" in str(unknown)


@pytest.mark.parametrize(
    ("options", "where"),
    [
        ({"bootstrap_servers": []}, "bootstrap_servers"),
        ({"security_protocol": "SASL_SSL"}, "security_protocol"),
        ({"sasl_mechanism": "PLAIN"}, "sasl_mechanism"),
        ({"sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
        ({"ssl_certfile": "c.pem"}, "ssl_certfile"),
        ({"max_request_size": 0}, "max_request_size"),
        ({"acks": 1}, "acks"),
    ],
)
def test_bad_options_name_their_key(options, where):
    with pytest.raises(SinkOptionsError) as info:
        KafkaOptions.from_dict(options, path="sinks.central")
    assert [w for w, _ in info.value.problems] == [f"sinks.central.{where}"]


@pytest.mark.parametrize("codec", ["snappy", "lz4", "zstd"])
def test_a_missing_codec_library_is_a_config_error(codec):
    if getattr(aiokafka.codec, f"has_{codec}")():
        assert KafkaOptions.from_dict({"compression": codec}).compression == codec
    else:
        with pytest.raises(SinkOptionsError, match=f"compression: '{codec}' needs the cramjam"):
            KafkaOptions.from_dict({"compression": codec})


async def test_sasl_password_comes_from_the_environment():
    options = KafkaOptions.from_dict(
        {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "logd",
            "sasl_password_env": "KAFKA_PW",
        }
    )
    with pytest.raises(SinkOptionsError, match="sasl_password_env: environment variable KAFKA_PW"):
        KafkaSink(options, SinkContext.create("kafka", "c"))
    sink = KafkaSink(options, SinkContext.create("kafka", "c", environ={"KAFKA_PW": "pw"}))
    producer = sink._new_producer()
    assert producer.client._sasl_mechanism == "SCRAM-SHA-512"
    assert producer.client._sasl_plain_password == "pw"
    await producer.stop()


async def test_close_is_idempotent_and_waits_for_every_future(tansu, topic):
    sink = kafka_sink(tansu.bootstrap, topic=topic, linger_ms=50)
    await sink.start()
    await asyncio.gather(sink.send(make_batch(5)))
    await sink.close()
    await sink.close()
    assert len(await consume(tansu.bootstrap, topic, 5)) == 5


async def test_large_batches_go_as_several_record_batches_and_concurrent_streams_keep_order(
    tansu, topic, monkeypatch
):
    # 300 records of ~450 bytes per batch against 4 KiB record batches: dozens each.
    batches = [make_batch(300, first_seq=1 + 300 * i, stream=f"s{i % 3}") for i in range(6)]
    assert KafkaSink.concurrent_sends
    submitted = []
    original = aiokafka.AIOKafkaProducer.send_batch

    async def send_batch(self, builder, topic, *, partition):
        submitted.append(builder.record_count())
        return await original(self, builder, topic, partition=partition)

    monkeypatch.setattr(aiokafka.AIOKafkaProducer, "send_batch", send_batch)
    async with kafka_sink(tansu.bootstrap, topic=topic, max_batch_size=4096) as sink:
        for i in range(0, 6, 3):  # a stream's batches one after the other, streams at once
            await asyncio.gather(*(sink.send(b) for b in batches[i : i + 3]))
    assert sum(submitted) == 1800
    assert len(submitted) > 6 * 10  # no record batch near 300 records
    records = await consume(tansu.bootstrap, topic, 1800)
    assert len(records) == 1800
    per_stream: dict[bytes, list[str]] = {}
    for record in records:
        per_stream.setdefault(record.key, []).append(dict(record.headers)["logd-event-id"])
    for i in range(3):
        wanted = [eid.encode() for b in batches if b.stream == f"s{i}" for eid in b.ids]
        assert per_stream[f"s{i}".encode()] == wanted
