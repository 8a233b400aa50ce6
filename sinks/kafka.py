"""The Kafka sink: each batch to a topic through aiokafka's producer.

Records (subscriptions-and-export.md §8.1):

- `ndjson` rendering (the default): one record per event, value = the event's JSON
  object, record timestamp = event timestamp.
- `cloudwatch` rendering: one record per batch, value = the gzip payload (as Kinesis
  receives it), timestamp = the first event's.

Key = the log stream (UTF-8) for `ByLogStream` batches, none for `Random`, so a stream
stays on one partition and in order. Headers carry owner, group, stream, filter,
message type, format, content encoding, event id and the batch's idempotency key.

`send` fills aiokafka record batches itself (`producer.create_batch()`, at most
`max_batch_size` bytes each), closes them and hands each to `send_batch` for the
stream's partition (the producer's default partitioner over the key), then awaits
their delivery futures: no per-record `send()`, nothing lingers. The batch is
acknowledged only when every record batch is, and one failure fails it (retrying
redelivers the whole batch; consumers de-duplicate by `logd-idempotency-key` or event
id). The producer runs with `acks="all"` and, by default, `enable_idempotence=True`.
The sink takes concurrent sends (`concurrent_sends`): batches of different streams
share the producer's requests; a stream's batches come one at a time, so its records
keep their order on its partition.

Size: a record over `max_request_size` is never handed to the producer. The sink raises
`PayloadTooLargeError` (fatal) for the batch, logd halves it and retries; only a single
event that alone is too large is dead-lettered, with its size in the reason. In
`cloudwatch` rendering that is how an oversized batch is split to fit.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Literal

import aiokafka
import aiokafka.codec
import aiokafka.errors
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from sinks.base import (
    AuthorizationError,
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    Sink,
    SinkContext,
    SinkError,
    SinkOptions,
    SinkOptionsError,
)
from sinks.batch import Batch

Compression = Literal["none", "gzip", "snappy", "lz4", "zstd"]
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

_CODECS = {
    "gzip": aiokafka.codec.has_gzip,
    "snappy": aiokafka.codec.has_snappy,
    "lz4": aiokafka.codec.has_lz4,
    "zstd": aiokafka.codec.has_zstd,
}
_TOPIC_BAD = re.compile(r"[^a-zA-Z0-9._-]")
#: Seconds to wait before retrying after the broker refused our credentials.
AUTH_RETRY_AFTER_S = 600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class KafkaOptions(SinkOptions):
    """`[sinks.<name>]` with `type = "kafka"`."""

    rendering: Literal["cloudwatch", "ndjson"] = "ndjson"
    """`ndjson`: one record per event; `cloudwatch`: one gzip payload record per batch."""
    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    """Brokers to bootstrap from, `host:port`."""
    topic: str = "logd"
    """Topic, with templates `{group}`, `{stream}`, `{filter}`, `{owner}`; invalid
    characters become `_`."""
    client_id: str = "logd"
    """Client id the broker sees."""
    enable_idempotence: bool = True
    """Idempotent producer (order kept across its internal retries). Needs a broker that
    answers InitProducerId v0 (Tansu 0.6.0 does not)."""
    compression: Compression = "none"
    """Record compression; snappy, lz4 and zstd need the `cramjam` package."""
    linger_ms: int = 5
    """The producer's linger. logd hands it whole, closed record batches, which never
    wait for it; kept for configurations that set it."""
    max_request_size: int = 1_048_576
    """Largest record the producer sends, bytes; larger is refused before sending."""
    max_batch_size: int = 524_288
    """Bytes of records per Kafka record batch (one per partition and produce
    request); a larger logd batch goes out as several. Capped at `max_request_size`."""
    request_timeout_ms: int = 30_000
    """Broker request timeout."""
    security_protocol: SecurityProtocol = "PLAINTEXT"
    """PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
    sasl_mechanism: SaslMechanism | None = None
    """PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL protocols only)."""
    sasl_username: str | None = None
    """SASL user name."""
    sasl_password_env: str | None = None
    """Environment variable holding the SASL password."""
    ssl_cafile: str | None = None
    """CA bundle to verify brokers (SSL protocols); None = system CAs."""
    ssl_certfile: str | None = None
    """Client certificate for mutual TLS."""
    ssl_keyfile: str | None = None
    """Client key for mutual TLS."""
    ssl_check_hostname: bool = True
    """Verify the broker's host name against its certificate."""

    def validate(self) -> None:
        if not self.bootstrap_servers:
            raise SinkOptionsError.at("bootstrap_servers", "at least one broker is needed")
        if not self.topic:
            raise SinkOptionsError.at("topic", "must not be empty")
        if self.compression != "none" and not _CODECS[self.compression]():
            raise SinkOptionsError.at(
                "compression",
                f"{self.compression!r} needs the cramjam package, which is not installed",
            )
        for key in ("linger_ms", "max_request_size", "max_batch_size", "request_timeout_ms"):
            if getattr(self, key) < (0 if key == "linger_ms" else 1):
                raise SinkOptionsError.at(key, "out of range")
        sasl = self.security_protocol.startswith("SASL")
        if sasl and (
            self.sasl_mechanism is None
            or self.sasl_username is None
            or self.sasl_password_env is None
        ):
            raise SinkOptionsError.at(
                "security_protocol",
                f"{self.security_protocol} needs sasl_mechanism, sasl_username and "
                "sasl_password_env",
            )
        if not sasl and self.sasl_mechanism is not None:
            raise SinkOptionsError.at(
                "sasl_mechanism", f"only used with SASL protocols, not {self.security_protocol}"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise SinkOptionsError.at("ssl_certfile", "ssl_certfile and ssl_keyfile go together")


def topic_for(template: str, batch: Batch) -> str:
    """The topic for `batch`: template filled in, characters Kafka refuses as `_`."""
    name = template.format_map(
        {
            "group": batch.group,
            "stream": batch.stream,
            "filter": batch.subscription_filters[0] if batch.subscription_filters else "",
            "owner": batch.owner,
        }
    )
    return _TOPIC_BAD.sub("_", name)[:249]


def map_kafka_error(exc: BaseException, *, limit: int = 0) -> SinkError:
    """aiokafka's exception as the contract's: `retriable` decides, size is fatal."""
    errors = aiokafka.errors
    if isinstance(exc, errors.MessageSizeTooLargeError | errors.RecordListTooLargeError):
        return PayloadTooLargeError(
            f"Kafka refused the record as too large: {exc}", size=-1, limit=limit
        )
    auth = (
        errors.TopicAuthorizationFailedError,
        errors.ClusterAuthorizationFailedError,
        errors.SaslAuthenticationFailed,
        errors.AuthenticationFailedError,
    )
    if isinstance(exc, auth):
        return AuthorizationError(
            f"Kafka refused our credentials: {exc!r}", retry_after=AUTH_RETRY_AFTER_S
        )
    if isinstance(exc, errors.InvalidTopicError | errors.CorruptRecordException):
        return FatalError(f"Kafka refused the batch: {exc!r}")
    if isinstance(exc, errors.KafkaError) and exc.retriable:
        return RetryableError(f"Kafka: {exc!r}")
    return RetryableError(f"Kafka (unclassified): {exc!r}")


class KafkaSink(Sink[KafkaOptions]):
    """Produces each batch to a Kafka topic; acknowledged when every record is."""

    options_class = KafkaOptions
    concurrent_sends = True

    def __init__(self, options: KafkaOptions, context: SinkContext) -> None:
        super().__init__(options, context)
        self._producer: Any = None
        self._partitioner = DefaultPartitioner()
        self._restart = asyncio.Lock()
        self._password: str | None = None
        if options.sasl_password_env is not None:
            self._password = context.secret(options.sasl_password_env, key="sasl_password_env")

    def _new_producer(self) -> Any:
        o = self.options
        ssl_context = None
        if o.security_protocol in ("SSL", "SASL_SSL"):
            ssl_context = create_ssl_context(
                cafile=o.ssl_cafile, certfile=o.ssl_certfile, keyfile=o.ssl_keyfile
            )
            ssl_context.check_hostname = o.ssl_check_hostname
        sasl: dict[str, Any] = {}
        if o.sasl_mechanism is not None:
            sasl = {
                "sasl_mechanism": o.sasl_mechanism,
                "sasl_plain_username": o.sasl_username,
                "sasl_plain_password": self._password,
            }
        return aiokafka.AIOKafkaProducer(
            bootstrap_servers=list(o.bootstrap_servers),
            client_id=o.client_id,
            acks="all",
            enable_idempotence=o.enable_idempotence,
            compression_type=None if o.compression == "none" else o.compression,
            linger_ms=o.linger_ms,
            max_batch_size=min(o.max_batch_size, o.max_request_size),
            max_request_size=o.max_request_size,
            request_timeout_ms=o.request_timeout_ms,
            security_protocol=o.security_protocol,
            ssl_context=ssl_context,
            **sasl,
        )

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = self._new_producer()
        try:
            await producer.start()
        except BaseException as exc:
            await producer.stop()
            if isinstance(exc, Exception):
                raise map_kafka_error(exc) from exc
            raise
        self._producer = producer
        self.context.logger.info(
            "Kafka producer connected.",
            extra={"bootstrap_servers": list(self.options.bootstrap_servers)},
        )

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    def _records(
        self, batch: Batch
    ) -> tuple[list[bytes], list[int], list[tuple[str, bytes]], list[str]]:
        """Values and timestamps of the records, the headers all of them carry, and each
        one's `logd-event-id`; sizes checked against the limit.

        Each record's own header list is built only as it goes into a record batch: a
        million live lists would cost more in garbage collection than in building them.
        """
        common = [
            ("logd-owner", batch.owner.encode()),
            ("logd-group", batch.group.encode()),
            ("logd-stream", batch.stream.encode()),
            ("logd-filter", ",".join(batch.subscription_filters).encode()),
            ("logd-message-type", batch.message_type.encode()),
            ("logd-idempotency-key", batch.id.encode()),
        ]
        values: list[bytes]
        if self.options.rendering == "cloudwatch":
            common += [("logd-format", b"cloudwatch"), ("logd-content-encoding", b"gzip")]
            values, stamps, ids = (
                [batch.to_cloudwatch_payload()],
                [batch.timestamps[0]],
                [batch.ids[0]],
            )
        else:
            common.append(("logd-format", b"ndjson"))
            values, stamps, ids = batch.ndjson_lines(), list(batch.timestamps), list(batch.ids)
        key = self._key(batch)
        limit = self.options.max_request_size
        one_per_event = len(values) == len(batch)
        # A record is its value plus key, headers and well under 128 bytes of framing:
        # only values near the limit need the exact estimate.
        fixed = 128 + (len(key) if key else 0) + sum(len(k) + len(v) + 10 for k, v in common)
        for value, eid in zip(values, ids, strict=True):
            if len(value) + fixed + len(eid) + 24 < limit:
                continue
            headers = [*common, ("logd-event-id", eid.encode())]
            size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
            if size > limit:
                what = f"event {eid}" if one_per_event else "the batch"
                raise PayloadTooLargeError(
                    f"{what} renders to a {size}-byte Kafka record, over max_request_size "
                    f"{limit} ({len(batch)} events in the batch)",
                    size=size,
                    limit=limit,
                )
        return values, stamps, common, ids

    @staticmethod
    def _key(batch: Batch) -> bytes | None:
        return batch.stream.encode() if batch.distribution == "ByLogStream" else None

    async def _partition(self, producer: Any, topic: str, key: bytes | None) -> int:
        """The partition the producer itself would pick for `key` (murmur2, as Java's)."""
        partitions = sorted(await producer.partitions_for(topic))
        available = list(producer.client.cluster.available_partitions_for_topic(topic))
        partition: int = self._partitioner(key, partitions, available)
        return partition

    async def send(self, batch: Batch) -> None:
        producer = self._producer
        if producer is None:
            raise RetryableError("the Kafka producer is not started")
        values, stamps, common, ids = self._records(batch)
        topic = topic_for(self.options.topic, batch)
        key = self._key(batch)
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        try:
            partition = await self._partition(producer, topic, key)
            builder = producer.create_batch()
            append = builder.append
            for value, ts, eid in zip(values, stamps, ids, strict=True):
                headers = [*common, ("logd-event-id", eid.encode())]
                if append(timestamp=ts, key=key, value=value, headers=headers) is None:
                    builder.close()
                    futures.append(await producer.send_batch(builder, topic, partition=partition))
                    builder = producer.create_batch()  # the first record always fits
                    append = builder.append
                    append(timestamp=ts, key=key, value=value, headers=headers)
            builder.close()
            futures.append(await producer.send_batch(builder, topic, partition=partition))
        except aiokafka.errors.KafkaError as exc:
            failure = exc
        # Await every queued record batch, even after a failure: none is left pending.
        results = await asyncio.gather(*futures, return_exceptions=True)
        if failure is None:
            failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is None:
            return
        if isinstance(failure, asyncio.CancelledError):
            # a record future cancelled by the producer (it was closing), not this task
            raise RetryableError("Kafka record cancelled: the producer was closing")
        if isinstance(failure, aiokafka.errors.OutOfOrderSequenceNumber):
            # aiokafka#1017: the idempotent producer is stuck; start a fresh one (once,
            # however many concurrent sends saw it).
            async with self._restart:
                if self._producer is producer:
                    self.context.logger.warning("Kafka producer out of sequence; recreating it.")
                    await self.close()
                    await self.start()
        raise map_kafka_error(failure, limit=self.options.max_request_size) from failure
