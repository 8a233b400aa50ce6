"""Batch: the events one `send` delivers, as columns, and their two renderings.

A batch holds events of one (subscription, log group, log stream), in stream order, as
parallel columns (`ids`, `timestamps`, `messages`, `ingestion_times`): the hot path never
builds one object per event. It renders itself as

- `to_cloudwatch_payload()`: CloudWatch's subscription payload, gzip of the compact
  UTF-8 JSON `DATA_MESSAGE` (or `CONTROL_MESSAGE`) envelope, mtime 0 so identical
  batches give identical bytes (subscriptions-and-export.md §4.1, §4.2);
- `to_awslogs_event()`: the same bytes wrapped as a Lambda event
  `{"awslogs": {"data": "<base64>"}}`;
- `to_ndjson()` / `ndjson_lines()`: logd's NDJSON, one object per event (§4.3).

`system_fields` (a subscription's `emitSystemFields`) are added to every event of
both renderings as string-valued keys (`"@aws.account"`, `"@aws.region"`,
`"@source.log"`); an empty tuple leaves the shapes exactly as above.

`id` is the idempotency key of §7.4, a function of the batch boundaries only, so every
redelivery of the same events carries the same key.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import orjson

DATA_MESSAGE: Final = "DATA_MESSAGE"
CONTROL_MESSAGE: Final = "CONTROL_MESSAGE"

#: gzip level of the payload: Firehose's documented level.
GZIP_LEVEL = 6

MessageType = Literal["DATA_MESSAGE", "CONTROL_MESSAGE"]
Distribution = Literal["ByLogStream", "Random"]


def _boundary(event_id: str) -> str:
    """The sequence number inside a logd event id (56 decimal digits), else the id."""
    if len(event_id) == 56 and event_id.isdigit():
        return str(int(event_id))
    return event_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Batch:
    """Events of one subscription, log group and log stream, in stream order."""

    owner: str
    """Account id owning the log group (`owner` in the payload)."""
    group: str
    """Log group name."""
    stream: str
    """Log stream name."""
    subscription_filters: tuple[str, ...]
    """Names of the subscription filters that matched; logd always sends one."""
    ids: Sequence[str]
    """Event ids, exactly as FilterLogEvents returns `eventId`."""
    timestamps: Sequence[int]
    """Event timestamps, epoch milliseconds."""
    messages: Sequence[str]
    """Messages, byte-identical to what was ingested."""
    ingestion_times: Sequence[int] | None = None
    """Ingestion times, epoch milliseconds; None renders the event timestamp instead."""
    subscription: str = ""
    """Name of the subscription for the idempotency key; empty = the filter names."""
    distribution: Distribution = "ByLogStream"
    """`ByLogStream`: keep the stream together (Kafka key = stream); `Random`: spread."""
    message_type: MessageType = DATA_MESSAGE
    """`CONTROL_MESSAGE` only for the destination check (`control()`)."""
    policy_level: str | None = None
    """`ACCOUNT_LEVEL_POLICY` for batches from an account policy, else None (omitted)."""
    attempt: int = 1
    """Delivery attempt, counted by logd (1 = first); sinks may show it, never act on it."""
    system_fields: Sequence[tuple[str, str]] = ()
    """(name, value) pairs the subscription's `emitSystemFields` adds to every event
    (``@aws.account``, ``@aws.region``, ``@source.log``), in both renderings."""
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise ValueError("a batch holds at least one event")
        if len(self.timestamps) != n or len(self.messages) != n:
            raise ValueError("ids, timestamps and messages must have the same length")
        if self.ingestion_times is not None and len(self.ingestion_times) != n:
            raise ValueError("ingestion_times must have one value per event")
        if not self.subscription:
            object.__setattr__(self, "subscription", ",".join(self.subscription_filters))
        text = "|".join(
            (
                "logd/v1",
                self.subscription,
                self.group,
                self.stream,
                _boundary(self.ids[0]),
                _boundary(self.ids[-1]),
            )
        )
        object.__setattr__(self, "_key", hashlib.sha256(text.encode()).hexdigest()[:32])

    @classmethod
    def control(cls, sink_type: str, timestamp_ms: int) -> Batch:
        """The CONTROL_MESSAGE logd sends to check a `cloudwatch`-rendering destination."""
        return cls(
            owner="CloudwatchLogs",
            group="",
            stream="",
            subscription_filters=(),
            ids=[""],
            timestamps=[timestamp_ms],
            messages=[f"CWL CONTROL MESSAGE: Checking health of destination {sink_type}."],
            message_type=CONTROL_MESSAGE,
        )

    @property
    def id(self) -> str:
        """The idempotency key, the same on every delivery of these events.

        `hex(sha256("logd/v1|<subscription>|<group>|<stream>|<first>|<last>"))[:32]`:
        `<first>`/`<last>` are the first and last sequence numbers (read from logd's
        56-digit event ids; any other id is used verbatim). Stable across retries,
        restarts and dead-letter replays of the same events.
        """
        return self._key

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def message_bytes(self) -> int:
        """UTF-8 bytes of all messages: a cheap lower bound of any rendering's size."""
        return sum(len(m.encode()) for m in self.messages)

    def split(self) -> tuple[Batch, Batch]:
        """Two halves, in order, for bisecting a refused batch to its poison events."""
        n = len(self.ids)
        if n < 2:
            raise ValueError("a batch of one event cannot be split")
        mid = n // 2
        return self._slice(0, mid), self._slice(mid, n)

    def _slice(self, start: int, stop: int) -> Batch:
        ingestion = None if self.ingestion_times is None else self.ingestion_times[start:stop]
        return Batch(
            owner=self.owner,
            group=self.group,
            stream=self.stream,
            subscription_filters=self.subscription_filters,
            ids=self.ids[start:stop],
            timestamps=self.timestamps[start:stop],
            messages=self.messages[start:stop],
            ingestion_times=ingestion,
            subscription=self.subscription,
            distribution=self.distribution,
            message_type=self.message_type,
            policy_level=self.policy_level,
            attempt=self.attempt,
            system_fields=self.system_fields,
        )

    # -- renderings ---------------------------------------------------------------------

    def to_cloudwatch_json(self) -> bytes:
        """The envelope as compact UTF-8 JSON, before gzip (file sinks write this)."""
        extra = dict(self.system_fields)
        events = [
            {"id": i, "timestamp": t, "message": m, **extra}
            for i, t, m in zip(self.ids, self.timestamps, self.messages, strict=True)
        ]
        envelope: dict[str, object]
        if self.message_type == CONTROL_MESSAGE:
            envelope = {
                "messageType": CONTROL_MESSAGE,
                "owner": self.owner,
                "logGroup": self.group,
                "logStream": self.stream,
                "subscriptionFilters": list(self.subscription_filters),
                "logEvents": events,
            }
        else:
            envelope = {
                "owner": self.owner,
                "logGroup": self.group,
                "logStream": self.stream,
                "subscriptionFilters": list(self.subscription_filters),
                "messageType": DATA_MESSAGE,
                "logEvents": events,
            }
        if self.policy_level is not None:
            envelope["policyLevel"] = self.policy_level
        return orjson.dumps(envelope)

    def to_cloudwatch_payload(self) -> bytes:
        """gzip (level 6, mtime 0) of `to_cloudwatch_json()`: what Kinesis would receive."""
        return gzip.compress(self.to_cloudwatch_json(), compresslevel=GZIP_LEVEL, mtime=0)

    def to_awslogs_event(self) -> bytes:
        """`{"awslogs": {"data": "<base64 payload>"}}`, the Lambda event, as JSON bytes."""
        data = base64.b64encode(self.to_cloudwatch_payload()).decode("ascii")
        return orjson.dumps({"awslogs": {"data": data}})

    def ndjson_lines(self) -> list[bytes]:
        """One compact JSON object per event, without newline, in stream order."""
        # The keys shared by every event are encoded once; each line is then a join.
        common = b'"owner":%s,"logGroup":%s,"logStream":%s,"subscriptionFilter":%s' % (
            orjson.dumps(self.owner),
            orjson.dumps(self.group),
            orjson.dumps(self.stream),
            orjson.dumps(self.subscription_filters[0] if self.subscription_filters else ""),
        )
        if self.policy_level is not None:
            common += b',"policyLevel":' + orjson.dumps(self.policy_level)
        for name, value in self.system_fields:
            common += b",%s:%s" % (orjson.dumps(name), orjson.dumps(value))
        ingestion = self.timestamps if self.ingestion_times is None else self.ingestion_times
        dumps = orjson.dumps
        return [
            b'{"id":%s,"timestamp":%d,"ingestionTime":%d,%s,"message":%s}'
            % (dumps(i), t, it, common, dumps(m))
            for i, t, it, m in zip(self.ids, self.timestamps, ingestion, self.messages, strict=True)
        ]

    def to_ndjson(self) -> bytes:
        """`ndjson_lines()` joined, each line ending with a newline."""
        return b"".join(line + b"\n" for line in self.ndjson_lines())
