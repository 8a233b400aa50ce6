"""The per-log-group regex quota through boto3 against a real `logd serve`: at most five
metric and subscription filters together that use a regex (filter-patterns.md §1)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.logd.api.conftest import error_of
from tests.support.daemon import Daemon

REGEX_PATTERNS = [
    "%ERROR [0-9]+%",
    "{ $.user = %^adm% }",
    "[ip, user = %^a%, ...]",
    "{ $.path = %/api/% && $.code = 5* }",
    "%timeout|refused%",
    "%sixth%",
]
TRANSFORMATION = [{"metricName": "M", "metricNamespace": "App", "metricValue": "1"}]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    folder = tmp_path_factory.mktemp("logd")
    config = (
        f'[sinks.files]\ntype = "file"\nroot = "{folder / "out"}"\n\n'
        "[subscriptions]\nmax_filters_per_group = 10\n"
    )
    with Daemon(folder, config) as running:
        yield running


@pytest.fixture
def logs(daemon: Daemon, unique: str) -> Any:
    client = daemon.client()
    client.create_log_group(logGroupName=unique)
    return client


def put_metric(logs: Any, group: str, name: str, pattern: str) -> None:
    logs.put_metric_filter(
        logGroupName=group,
        filterName=name,
        filterPattern=pattern,
        metricTransformations=TRANSFORMATION,
    )


def put_subscription(logs: Any, group: str, name: str, pattern: str) -> None:
    logs.put_subscription_filter(
        logGroupName=group, filterName=name, filterPattern=pattern, destinationArn="files"
    )


def regex_limit(call: Any, **kwargs: Any) -> None:
    code, message = error_of(call, **kwargs)
    assert code == "LimitExceededException"
    assert "regular expression" in message


def test_metric_and_subscription_filters_share_five(logs: Any, unique: str) -> None:
    for i, pattern in enumerate(REGEX_PATTERNS[:3]):
        put_metric(logs, unique, f"m{i}", pattern)
    for i, pattern in enumerate(REGEX_PATTERNS[3:5]):
        put_subscription(logs, unique, f"s{i}", pattern)
    # filters without a regex do not count
    put_metric(logs, unique, "plain", "ERROR")
    put_subscription(logs, unique, "plain", '{ $.level = "ERROR" }')

    sixth = REGEX_PATTERNS[5]
    regex_limit(
        logs.put_metric_filter,
        logGroupName=unique,
        filterName="m-new",
        filterPattern=sixth,
        metricTransformations=TRANSFORMATION,
    )
    regex_limit(
        logs.put_subscription_filter,
        logGroupName=unique,
        filterName="s-new",
        filterPattern=sixth,
        destinationArn="files",
    )
    # turning a plain filter into a regex one is a sixth as well
    regex_limit(
        logs.put_metric_filter,
        logGroupName=unique,
        filterName="plain",
        filterPattern=sixth,
        metricTransformations=TRANSFORMATION,
    )
    names = [
        f["filterName"] for f in logs.describe_metric_filters(logGroupName=unique)["metricFilters"]
    ]
    assert names == ["m0", "m1", "m2", "plain"]
    described = logs.describe_metric_filters(logGroupName=unique, filterNamePrefix="plain")
    assert described["metricFilters"][0]["filterPattern"] == "ERROR"

    # replacing a regex filter by name does not count it twice
    put_metric(logs, unique, "m0", sixth)
    put_subscription(logs, unique, "s1", sixth)

    # deleting one makes room for another
    logs.delete_metric_filter(logGroupName=unique, filterName="m1")
    put_subscription(logs, unique, "s-new", "%again%")
    regex_limit(
        logs.put_metric_filter,
        logGroupName=unique,
        filterName="m1",
        filterPattern="%back%",
        metricTransformations=TRANSFORMATION,
    )
    logs.delete_subscription_filter(logGroupName=unique, filterName="s0")
    put_metric(logs, unique, "m1", "%back%")


def test_the_quota_is_per_log_group(logs: Any, unique: str, daemon: Daemon) -> None:
    for i, pattern in enumerate(REGEX_PATTERNS[:5]):
        put_metric(logs, unique, f"m{i}", pattern)
    other = unique + "-other"
    logs.create_log_group(logGroupName=other)
    put_metric(logs, other, "m", REGEX_PATTERNS[5])
    put_subscription(logs, other, "s", REGEX_PATTERNS[5])
    regex_limit(
        logs.put_subscription_filter,
        logGroupName=unique,
        filterName="s",
        filterPattern=REGEX_PATTERNS[5],
        destinationArn="files",
    )


def test_the_count_survives_a_restart(tmp_path: Path) -> None:
    config = f'[sinks.files]\ntype = "file"\nroot = "{tmp_path / "out"}"\n'
    with Daemon(tmp_path, config) as daemon:
        logs = daemon.client()
        logs.create_log_group(logGroupName="g")
        for i, pattern in enumerate(REGEX_PATTERNS[:4]):
            put_metric(logs, "g", f"m{i}", pattern)
        put_subscription(logs, "g", "s", REGEX_PATTERNS[4])
        daemon.stop()
        daemon.start()
        logs = daemon.client()
        regex_limit(
            logs.put_metric_filter,
            logGroupName="g",
            filterName="m9",
            filterPattern=REGEX_PATTERNS[5],
            metricTransformations=TRANSFORMATION,
        )
