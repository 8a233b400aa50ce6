"""I-09: the shared filter-pattern conformance cases through the three users of the
engine on one real `logd serve`: FilterLogEvents, TestMetricFilter (the metric filter
path) and subscription filters delivering to a file sink. For every pattern and every
case message the three answer the same, and on each case's own message they give the
expected answer. A pattern over 1024 characters is refused by each."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.logd.subscriptions.support import file_events
from tests.query.filterpattern.cases import CASES, needs_cases
from tests.support.daemon import Daemon

MATCH_CASES = [c for c in CASES if "error" not in c]
PATTERNS = sorted({c["pattern"] for c in MATCH_CASES})
SUBSCRIBED = PATTERNS[::4]  # a quarter of them through subscriptions: 2 per group


def filter_log_events(logs: Any, pattern: str) -> set[int]:
    found: set[int] = set()
    kwargs: dict[str, Any] = {"logGroupName": "conf", "filterPattern": pattern}
    while True:
        page = logs.filter_log_events(**kwargs)
        found |= {int(e["logStreamName"]) for e in page["events"]}
        if "nextToken" not in page:
            return found
        kwargs["nextToken"] = page["nextToken"]


def metric_filter_matches(logs: Any, pattern: str, messages: list[str]) -> set[int]:
    found: set[int] = set()
    for start in range(0, len(messages), 50):  # TestMetricFilter takes 50 messages
        reply = logs.test_metric_filter(
            filterPattern=pattern, logEventMessages=messages[start : start + 50]
        )
        found |= {start + m["eventNumber"] - 1 for m in reply["matches"]}
    return found


def lag_is_zero(daemon: Daemon) -> bool:
    with urllib.request.urlopen(f"{daemon.endpoint}/metrics", timeout=10) as answer:  # noqa: S310 - our own daemon on 127.0.0.1
        lines = answer.read().decode().splitlines()
    lags = [line for line in lines if line.startswith("logd_subscription_lag_bytes{")]
    return len(lags) == len(SUBSCRIBED) and all(line.endswith(" 0") for line in lags)


@needs_cases
def test_the_three_users_agree_on_every_case(tmp_path: Path) -> None:
    messages = [c["message"] for c in MATCH_CASES]
    out = tmp_path / "out"
    config = (
        "[subscriptions]\ncommit_interval_ms = 50\nbatch_max_wait_ms = 20\n\n"
        f'[sinks.files]\ntype = "file"\nroot = "{out}"\n'
    )
    arn = "arn:logd:sink:us-east-1:123456789012:files"
    with Daemon(tmp_path / "d", config) as daemon:
        logs = daemon.client()
        now = int(time.time() * 1000)
        groups = ["conf"] + [f"sub{k}" for k in range((len(SUBSCRIBED) + 1) // 2)]
        for k, group in enumerate(groups):
            logs.create_log_group(logGroupName=group)
            if group != "conf":
                for j, pattern in enumerate(SUBSCRIBED[2 * (k - 1) : 2 * k]):
                    logs.put_subscription_filter(
                        logGroupName=group, filterName=f"p{j}", filterPattern=pattern,
                        destinationArn=arn,
                    )  # fmt: skip
        for i, message in enumerate(messages):  # one stream per case: its index
            logs.create_log_stream(logGroupName="conf", logStreamName=str(i))
            logs.put_log_events(
                logGroupName="conf", logStreamName=str(i),
                logEvents=[{"timestamp": now, "message": message}],
            )  # fmt: skip
        for group in groups[1:]:
            logs.create_log_stream(logGroupName=group, logStreamName="all")
            events = [{"timestamp": now, "message": m} for m in messages]  # seq = index + 1
            logs.put_log_events(logGroupName=group, logStreamName="all", logEvents=events)

        by_filter: dict[str, set[int]] = {}
        by_metric: dict[str, set[int]] = {}
        for pattern in PATTERNS:
            by_filter[pattern] = filter_log_events(logs, pattern)
            by_metric[pattern] = metric_filter_matches(logs, pattern, messages)
        deadline = time.monotonic() + 60  # a liveness bound, not a timed assertion
        while not lag_is_zero(daemon):
            assert time.monotonic() < deadline, "subscriptions never caught up"
            time.sleep(0.1)
        time.sleep(0.3)
        unchecked = daemon.client(parameter_validation=False)  # the server's own checks
        long = "a" * 1025  # every user refuses a pattern over 1024 characters
        for call, kwargs in [
            (unchecked.filter_log_events, {"logGroupName": "conf"}),
            (unchecked.test_metric_filter, {"logEventMessages": ["a"]}),
            (unchecked.put_metric_filter, {"logGroupName": "conf", "filterName": "m",
                "metricTransformations": [{"metricName": "n", "metricNamespace": "t",
                                           "metricValue": "1"}]}),
            (unchecked.put_subscription_filter, {"logGroupName": "conf", "filterName": "s",
                                                 "destinationArn": arn}),
        ]:  # fmt: skip
            with pytest.raises(unchecked.exceptions.InvalidParameterException):
                call(filterPattern=long, **kwargs)
        unchecked.close()
        logs.close()
    by_subscription: dict[str, set[int]] = {p: set() for p in SUBSCRIBED}
    for event in file_events(out):
        k, j = int(event["logGroup"].removeprefix("sub")), int(event["subscriptionFilter"][1:])
        by_subscription[SUBSCRIBED[2 * k + j]].add(int(event["id"]) - 1)
    assert by_filter == by_metric
    assert by_subscription == {p: by_filter[p] for p in SUBSCRIBED}
    for case in MATCH_CASES:
        i = messages.index(case["message"])
        assert (i in by_filter[case["pattern"]]) == case["match"], case["id"]
