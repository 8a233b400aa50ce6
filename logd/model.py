"""Shared value types: batches of input events as columns, sequence ids, names and ARNs.

The hot path carries columns, not per-event objects (STYLE.md habit 9): an `InputEvents`
is two parallel lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: retentionInDays values CloudWatch accepts.
RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
    731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

#: Fixed per-event overhead PutLogEvents counts on top of the message's UTF-8 bytes.
EVENT_OVERHEAD_BYTES = 26
MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_EVENTS = 10_000
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

LOG_GROUP_NAME_RE = re.compile(r"[\.\-_/#A-Za-z0-9]+")
LOG_STREAM_NAME_RE = re.compile(r"[^:*]*")


@dataclass(slots=True)
class InputEvents:
    """A batch of events as producers send them: parallel columns, request order."""

    timestamps: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.timestamps)


def event_id(seq: int) -> str:
    """The wire `eventId` of the event with per-group sequence number `seq`.

    A 56-digit decimal string like CloudWatch's, stable forever; clients never parse it.
    """
    return f"{seq:056d}"


def seq_of_event_id(value: str) -> int | None:
    """Inverse of `event_id`, or None for a string that is not one of ours."""
    if len(value) != 56 or not value.isdigit():
        return None
    return int(value)


@dataclass(frozen=True, slots=True)
class Scope:
    """Where ARNs point: partition, region and account of this logd."""

    partition: str = "aws"
    region: str = "us-east-1"
    account: str = "123456789012"

    def log_group_arn(self, group: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:{group}"

    def log_stream_arn(self, group: str, stream: str) -> str:
        return f"{self.log_group_arn(group)}:log-stream:{stream}"
