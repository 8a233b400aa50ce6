"""PutLogEvents' rules as pure functions (shared/reference/logs-api.md §4.1, in order).

1. model validation (`check_model`);  2. the group and stream exist (the caller looks
them up, between 1 and 3);  3. batch bytes, 4. event size, 5. chronological order
(`check_batch`);  6. too old / expired / too new (`classify`);  7. 24-hour span of the
survivors (`check_span`).  `plan` runs 3-7 and says which slice of the batch to store.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import islice

from logd.errors import InvalidParameterException
from logd.model import (
    DAY_MS,
    EVENT_OVERHEAD_BYTES,
    HOUR_MS,
    LOG_GROUP_NAME_RE,
    LOG_STREAM_NAME_RE,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    InputEvents,
)
from logd.store.record import EncodedMessages, encode_messages

MAX_NAME_CHARS = 512
TOO_OLD_MS = 14 * DAY_MS
TOO_NEW_MS = 2 * HOUR_MS
MAX_SPAN_MS = 24 * HOUR_MS
MAX_EVENT_BYTES = MAX_BATCH_BYTES

ORDER_MESSAGE = "Log events in a single PutLogEvents request must be in chronological order."
SPAN_MESSAGE = (
    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
)


@dataclass(frozen=True, slots=True)
class RejectedInfo:
    """CloudWatch's rejectedLogEventsInfo (exclusive ends, inclusive start)."""

    too_old_end: int | None = None
    expired_end: int | None = None
    too_new_start: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """What to store of a valid batch: events [lo, hi) in request order."""

    lo: int
    hi: int
    messages: EncodedMessages
    batch_bytes: int
    rejected: RejectedInfo | None

    @property
    def accepted(self) -> int:
        return self.hi - self.lo

    @property
    def accepted_bytes(self) -> int:
        """storedBytes the accepted events add: UTF-8 bytes + 26 each."""
        offs = self.messages.offsets
        return int(offs[self.hi] - offs[self.lo]) + EVENT_OVERHEAD_BYTES * self.accepted


def validation_error(problems: list[str]) -> InvalidParameterException:
    """The AWS validation message form for one or more failed constraints."""
    n = len(problems)
    head = "1 validation error detected: " if n == 1 else f"{n} validation errors detected: "
    return InvalidParameterException(head + "; ".join(problems))


def _value(text: str, where: str, constraint: str) -> str:
    return f"Value '{text}' at '{where}' failed to satisfy constraint: {constraint}"


def name_problems(value: str | None, where: str, *, group: bool) -> list[str]:
    """Constraint failures of a LogGroupName (group=True) or LogStreamName."""
    if value is None:
        return [f"Value null at '{where}' failed to satisfy constraint: Member must not be null"]
    problems = []
    if len(value) < 1:
        problems.append(_value(value, where, "Member must have length greater than or equal to 1"))
    if len(value) > MAX_NAME_CHARS:
        problems.append(
            _value(value, where, f"Member must have length less than or equal to {MAX_NAME_CHARS}")
        )
    pattern = LOG_GROUP_NAME_RE if group else LOG_STREAM_NAME_RE
    if value and pattern.fullmatch(value) is None:
        problems.append(
            _value(
                value, where, f"Member must satisfy regular expression pattern: {pattern.pattern}"
            )
        )
    return problems


def check_model(group: str | None, stream: str | None, events: InputEvents) -> None:
    """Step 1: names, 1-10,000 events, timestamps >= 0, messages of at least 1 character."""
    problems = name_problems(group, "logGroupName", group=True)
    problems += name_problems(stream, "logStreamName", group=False)
    n = len(events.timestamps)
    if len(events.messages) != n:
        raise ValueError("InputEvents columns differ in length")
    if n < 1:
        problems.append(
            "Value at 'logEvents' failed to satisfy constraint: "
            "Member must have length greater than or equal to 1"
        )
    elif n > MAX_BATCH_EVENTS:
        problems.append(
            "Value at 'logEvents' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_BATCH_EVENTS}"
        )
    if n and min(events.timestamps) < 0:
        for i, ts in enumerate(events.timestamps):
            if ts < 0:
                problems.append(
                    _value(
                        str(ts),
                        f"logEvents.{i + 1}.member.timestamp",
                        "Member must have value greater than or equal to 0",
                    )
                )
    if n and not all(events.messages):
        for i, message in enumerate(events.messages):
            if not message:
                problems.append(
                    _value(
                        "",
                        f"logEvents.{i + 1}.member.message",
                        "Member must have length greater than or equal to 1",
                    )
                )
    if problems:
        raise validation_error(problems)


def check_batch(events: InputEvents, messages: EncodedMessages) -> int:
    """Steps 3-5: returns the batch size in bytes (UTF-8 + 26 per event)."""
    n = len(events.timestamps)
    batch_bytes = len(messages.blob) + EVENT_OVERHEAD_BYTES * n
    if batch_bytes > MAX_BATCH_BYTES:
        raise InvalidParameterException(
            f"Upload too large: {batch_bytes} bytes exceeds the limit of {MAX_BATCH_BYTES} "
            "bytes (UTF-8 message bytes plus 26 per event)."
        )
    # Step 4 is implied by step 3 (one event is part of the batch); kept for the record.
    ts = events.timestamps
    if not all(map(operator.le, ts, islice(ts, 1, None))):
        raise InvalidParameterException(ORDER_MESSAGE)
    return batch_bytes


def classify(
    timestamps: list[int], now_ms: int, retention_days: int | None
) -> tuple[int, int, RejectedInfo | None]:
    """Step 6 on a sorted batch: the surviving slice [lo, hi) and what was dropped."""
    n = len(timestamps)
    too_old_end = bisect_left(timestamps, now_ms - TOO_OLD_MS)
    expired_end = too_old_end
    if retention_days is not None and retention_days < 14:
        expired_end = max(too_old_end, bisect_left(timestamps, now_ms - retention_days * DAY_MS))
    too_new_start = max(bisect_right(timestamps, now_ms + TOO_NEW_MS), expired_end)
    lo, hi = expired_end, too_new_start
    if too_old_end == 0 and expired_end == 0 and too_new_start == n:
        return 0, n, None
    rejected = RejectedInfo(
        too_old_end=too_old_end if too_old_end > 0 else None,
        expired_end=expired_end if expired_end > too_old_end else None,
        too_new_start=too_new_start if too_new_start < n else None,
    )
    return lo, hi, rejected


def check_span(timestamps: list[int], lo: int, hi: int) -> None:
    """Step 7: the survivors span at most 24 hours."""
    if hi - lo >= 2 and timestamps[hi - 1] - timestamps[lo] > MAX_SPAN_MS:
        raise InvalidParameterException(SPAN_MESSAGE)


def plan(events: InputEvents, *, now_ms: int, retention_days: int | None) -> Plan:
    """Steps 3-7 for a batch that passed steps 1 and 2."""
    messages = encode_messages(events.messages)
    batch_bytes = check_batch(events, messages)
    lo, hi, rejected = classify(events.timestamps, now_ms, retention_days)
    check_span(events.timestamps, lo, hi)
    return Plan(lo, hi, messages, batch_bytes, rejected)
