"""StartLiveTail's pure parts: the request checks, sampling and one update's shape."""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace
from typing import Any

import pytest

from logd.api.start_live_tail import LiveTailQuery, LiveTailSession, parse_query, sample
from logd.errors import InvalidParameterException
from logd.subscriptions.options import SubscriptionOptions


def test_parse_query_names_arns_and_duplicates() -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:app"
    query = parse_query({"logGroupIdentifiers": [arn, "app", "other"], "logEventFilterPattern": ""})
    assert query == LiveTailQuery(groups=((arn, "app"), ("other", "other")), pattern="")
    one = parse_query({"logGroupIdentifiers": ["app"], "logStreamNamePrefixes": ["a", "b"]})
    assert one.prefixes == ("a", "b")
    assert one.streams == ()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"logGroupIdentifiers": "app"},
        {"logGroupIdentifiers": [1]},
        {"logGroupIdentifiers": [f"g{i}" for i in range(11)]},
        {"logGroupIdentifiers": ["arn:aws:logs:us-east-1:1:log-group:app:*"]},
        {"logGroupIdentifiers": ["arn:aws:logs:us-east-1:1:nothing"]},
        {"logGroupIdentifiers": ["a"], "logStreamNames": ["s"], "logStreamNamePrefixes": ["s"]},
        {"logGroupIdentifiers": ["a", "b"], "logStreamNames": ["s"]},
        {"logGroupIdentifiers": ["a"], "logStreamNames": []},
        {"logGroupIdentifiers": ["a"], "logEventFilterPattern": 5},
    ],
)
def test_parse_query_refuses(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterException):
        parse_query(body)


def test_sample_is_an_even_spread_in_order() -> None:
    assert sample(list(range(5)), 10) == [0, 1, 2, 3, 4]
    assert sample(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert sample(list(range(1000)), 3) == [0, 333, 666]


class _Session:
    def __init__(self, events: list[tuple[int, str, int, int, str]], missed: int = 0) -> None:
        self.queue = deque(events)
        self.missed = missed
        self.closed = False

    def poll(self) -> tuple[list[tuple[int, str, int, int, str]], int]:
        out, missed = list(self.queue), self.missed
        self.queue.clear()
        self.missed = 0
        return out, missed


def _session(per_update: int, *tails: tuple[str, _Session]) -> LiveTailSession:
    owner: Any = SimpleNamespace(
        options=SubscriptionOptions(live_tail_max_events_per_update=per_update), active=set()
    )
    streams: Any = [(identifier, SimpleNamespace(session=s)) for identifier, s in tails]
    query = LiveTailQuery(groups=tuple((i, i) for i, _ in tails))
    return LiveTailSession(owner, query, "req", streams)


def test_update_gathers_every_group_then_is_empty() -> None:
    a = _Session([(1, "s1", 10, 11, "m1"), (2, "s1", 12, 13, "m2")])
    b = _Session([(7, "s9", 20, 21, "n1")])
    session = _session(500, ("ga", a), ("gb", b))
    update = session.update_event()
    assert update["sessionMetadata"] == {"sampled": False}
    assert update["sessionResults"] == [
        {"logStreamName": "s1", "logGroupIdentifier": "ga", "message": "m1",
         "timestamp": 10, "ingestionTime": 11},
        {"logStreamName": "s1", "logGroupIdentifier": "ga", "message": "m2",
         "timestamp": 12, "ingestionTime": 13},
        {"logStreamName": "s9", "logGroupIdentifier": "gb", "message": "n1",
         "timestamp": 20, "ingestionTime": 21},
    ]  # fmt: skip
    assert session.update_event() == {"sessionMetadata": {"sampled": False}, "sessionResults": []}


def test_update_samples_beyond_the_limit_and_after_misses() -> None:
    many = _Session([(i, "s", i, i, f"m{i}") for i in range(10)])
    update = _session(4, ("g", many)).update_event()
    assert update["sessionMetadata"]["sampled"] is True
    assert [r["message"] for r in update["sessionResults"]] == ["m0", "m2", "m5", "m7"]
    dropped = _session(4, ("g", _Session([(1, "s", 1, 1, "x")], missed=3))).update_event()
    assert dropped["sessionMetadata"]["sampled"] is True
    assert [r["message"] for r in dropped["sessionResults"]] == ["x"]


def test_groups_interleave_by_ingestion_time_keeping_their_own_order() -> None:
    a = _Session([(1, "s", 0, 30, "a1"), (2, "s", 0, 10, "a2")])  # a clock step back
    b = _Session([(1, "s", 0, 20, "b1"), (2, "s", 0, 40, "b2")])
    update = _session(500, ("a", a), ("b", b)).update_event()
    assert [r["message"] for r in update["sessionResults"]] == ["b1", "a1", "a2", "b2"]
