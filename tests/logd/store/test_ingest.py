"""PutLogEvents' rules (logs-api.md §4.1), each at its boundary."""

from __future__ import annotations

import pytest

from logd.errors import InvalidParameterException
from logd.model import DAY_MS, HOUR_MS, InputEvents
from logd.store import ingest
from logd.store.ingest import RejectedInfo, check_model, classify, plan

NOW = 1_700_000_000_000


def sized(total_bytes: int, n: int) -> InputEvents:
    """n ASCII events whose batch size (UTF-8 + 26 each) is exactly total_bytes."""
    body = total_bytes - 26 * n
    sizes = [body // n] * n
    sizes[-1] += body - sum(sizes)
    return InputEvents([NOW] * n, ["x" * s for s in sizes])


def test_batch_of_exactly_1_048_576_bytes_is_accepted_one_more_byte_is_not() -> None:
    ok = sized(1_048_576, 10)
    assert plan(ok, now_ms=NOW, retention_days=None).batch_bytes == 1_048_576
    over = sized(1_048_577, 10)
    with pytest.raises(InvalidParameterException, match="1048577"):
        plan(over, now_ms=NOW, retention_days=None)


def test_batch_bytes_count_utf8_bytes_not_characters() -> None:
    # "é" is two UTF-8 bytes: the limit is reached at half as many characters.
    n_chars = (1_048_576 - 26) // 2
    ok = InputEvents([NOW], ["é" * n_chars])
    assert plan(ok, now_ms=NOW, retention_days=None).batch_bytes == 2 * n_chars + 26
    with pytest.raises(InvalidParameterException):
        plan(InputEvents([NOW], ["é" * (n_chars + 1)]), now_ms=NOW, retention_days=None)


def test_10_000_events_pass_10_001_fail_validation() -> None:
    check_model("g", "s", InputEvents([NOW] * 10_000, ["a"] * 10_000))
    with pytest.raises(InvalidParameterException, match="less than or equal to 10000"):
        check_model("g", "s", InputEvents([NOW] * 10_001, ["a"] * 10_001))
    with pytest.raises(InvalidParameterException, match="greater than or equal to 1"):
        check_model("g", "s", InputEvents([], []))


def test_model_validation_names_and_events_in_aws_form() -> None:
    with pytest.raises(InvalidParameterException) as err:
        check_model("g", "a:b", InputEvents([NOW], ["x"]))
    assert err.value.message == (
        "1 validation error detected: Value 'a:b' at 'logStreamName' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: [^:*]*"
    )
    with pytest.raises(InvalidParameterException) as err:
        check_model("bad name", "s" * 513, InputEvents([-1, NOW], ["x", ""]))
    text = err.value.message
    assert text.startswith("4 validation errors detected: ")
    assert "'logGroupName'" in text
    assert "Member must have length less than or equal to 512" in text
    assert "at 'logEvents.1.member.timestamp'" in text
    assert "at 'logEvents.2.member.message'" in text
    check_model("/aws/../etc#x_y.z-1", "any thing/..", InputEvents([0], ["x"]))


def test_order_must_be_non_decreasing_equal_timestamps_allowed() -> None:
    plan(InputEvents([NOW, NOW, NOW + 1], ["a", "b", "c"]), now_ms=NOW, retention_days=None)
    with pytest.raises(InvalidParameterException, match="chronological order"):
        plan(InputEvents([NOW, NOW - 1], ["a", "b"]), now_ms=NOW, retention_days=None)


def test_order_is_checked_before_classification() -> None:
    with pytest.raises(InvalidParameterException, match="chronological"):
        plan(InputEvents([NOW + 3 * HOUR_MS, 0], ["a", "b"]), now_ms=NOW, retention_days=None)


def test_14_day_boundary() -> None:
    edge = NOW - 14 * DAY_MS
    assert classify([edge], NOW, None) == (0, 1, None)
    assert classify([edge - 1, edge], NOW, None) == (1, 2, RejectedInfo(too_old_end=1))


def test_two_hour_boundary() -> None:
    edge = NOW + 2 * HOUR_MS
    assert classify([edge], NOW, None) == (0, 1, None)
    assert classify([edge, edge + 1], NOW, None) == (0, 1, RejectedInfo(too_new_start=1))


def test_expired_only_with_retention_shorter_than_14_days() -> None:
    ts = [NOW - 10 * DAY_MS, NOW - 3 * DAY_MS - 1, NOW - 3 * DAY_MS, NOW]
    assert classify(ts, NOW, 3) == (2, 4, RejectedInfo(expired_end=2))
    assert classify(ts, NOW, 30) == (0, 4, None)
    assert classify(ts, NOW, 14) == (0, 4, None)


def test_rejected_indices_of_the_documented_example() -> None:
    old = NOW - 15 * DAY_MS
    ts = [old, old + 1, NOW - HOUR_MS, NOW, NOW + 3 * HOUR_MS]
    p = plan(InputEvents(ts, list("abcde")), now_ms=NOW, retention_days=None)
    assert (p.lo, p.hi) == (2, 4)
    assert p.rejected == RejectedInfo(too_old_end=2, too_new_start=4)


def test_too_old_and_expired_together() -> None:
    ts = [NOW - 20 * DAY_MS, NOW - 5 * DAY_MS, NOW - HOUR_MS]
    lo, hi, rejected = classify(ts, NOW, 1)
    assert (lo, hi) == (2, 3)
    assert rejected == RejectedInfo(too_old_end=1, expired_end=2)


def test_all_rejected_is_not_an_error() -> None:
    p = plan(InputEvents([NOW + 5 * HOUR_MS], ["x"]), now_ms=NOW, retention_days=None)
    assert p.accepted == 0
    assert p.rejected == RejectedInfo(too_new_start=0)


def test_span_of_survivors_at_most_24_hours() -> None:
    day = 24 * HOUR_MS
    plan(InputEvents([NOW - day, NOW], ["a", "b"]), now_ms=NOW, retention_days=None)
    with pytest.raises(InvalidParameterException, match=ingest.SPAN_MESSAGE):
        plan(InputEvents([NOW - day - 1, NOW], ["a", "b"]), now_ms=NOW, retention_days=None)
    # Rejected events do not count towards the span.
    too_old = NOW - 15 * DAY_MS
    p = plan(InputEvents([too_old, NOW], ["a", "b"]), now_ms=NOW, retention_days=None)
    assert (p.lo, p.hi) == (1, 2)


def test_accepted_bytes_count_only_the_survivors() -> None:
    p = plan(InputEvents([NOW - 15 * DAY_MS, NOW], ["aaaa", "bé"]), now_ms=NOW, retention_days=None)
    assert p.accepted_bytes == 3 + 26
