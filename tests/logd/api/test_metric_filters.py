"""Metric filters through boto3 against a real `logd serve` (logs-api.md §7.14), counted on
ingest and scraped from /metrics; filters survive a restart."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.logd.api.conftest import error_of, now_ms
from tests.support.daemon import Daemon


def transformation(name: str = "Errors", value: str = "1", **extra: Any) -> list[dict[str, Any]]:
    return [{"metricName": name, "metricNamespace": "App", "metricValue": value, **extra}]


@pytest.fixture
def group(logs: Any, unique: str) -> str:
    logs.create_log_group(logGroupName=unique)
    logs.create_log_stream(logGroupName=unique, logStreamName="s")
    return unique


def scrape(daemon: Daemon) -> dict[str, float]:
    url = f"{daemon.endpoint}/metrics"  # always http://127.0.0.1:<port>
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - see above
        text = answer.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("logd_metric_filter_"):
            series, value = line.rsplit(" ", 1)
            out[series] = float(value)
    return out


def series(samples: dict[str, float], family: str, *labels: str) -> float | None:
    for key, value in samples.items():
        if key.startswith(family + "{") and all(label in key for label in labels):
            return value
    return None


def test_put_describe_delete(logs: Any, group: str) -> None:
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=transformation(defaultValue=0.0, unit="Count"),
    )
    logs.put_metric_filter(
        logGroupName=group,
        filterName="latency",
        filterPattern="{ $.latency > 0 }",
        metricTransformations=transformation(
            "Latency", "$.latency", dimensions={"Route": "$.route"}
        ),
    )
    found = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in found] == ["errors", "latency"]
    first = found[0]
    assert first["filterPattern"] == "ERROR"
    assert first["logGroupName"] == group
    assert first["creationTime"] > 0
    assert first["metricTransformations"] == transformation(defaultValue=0.0, unit="Count")
    assert found[1]["metricTransformations"][0]["dimensions"] == {"Route": "$.route"}
    group_info = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert group_info["metricFilterCount"] == 2
    prefixed = logs.describe_metric_filters(logGroupName=group, filterNamePrefix="lat")
    assert [f["filterName"] for f in prefixed["metricFilters"]] == ["latency"]
    by_metric = logs.describe_metric_filters(metricName="Latency", metricNamespace="App")
    assert group in {f["logGroupName"] for f in by_metric["metricFilters"]}
    pages = list(
        logs.get_paginator("describe_metric_filters").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 1}
        )
    )
    assert [f["filterName"] for p in pages for f in p["metricFilters"]] == ["errors", "latency"]
    everywhere = [
        (f["logGroupName"], f["filterName"])
        for p in logs.get_paginator("describe_metric_filters").paginate()
        for f in p["metricFilters"]
    ]
    assert (group, "errors") in everywhere
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="WARN",
        metricTransformations=transformation(),
    )
    found = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterPattern"] for f in found] == ["WARN", "{ $.latency > 0 }"]
    logs.delete_metric_filter(logGroupName=group, filterName="errors")
    left = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in left] == ["latency"]
    code, _ = error_of(logs.delete_metric_filter, logGroupName=group, filterName="errors")
    assert code == "ResourceNotFoundException"


def test_put_and_describe_errors(logs: Any, group: str) -> None:
    put = logs.put_metric_filter
    base = {"logGroupName": group, "filterName": "f", "filterPattern": "ERROR"}
    two = transformation() + transformation("Other")
    cases = [
        (put, {**base, "logGroupName": "t/none-such", "metricTransformations": transformation()}),
        (put, {**base, "metricTransformations": two}),
        (put, {**base, "filterPattern": "{ $.a = ", "metricTransformations": transformation()}),
        (put, {**base, "metricTransformations": transformation(value="$.latency")}),
        (put, {**base, "metricTransformations": transformation(unit="Parsecs")}),
        (logs.describe_metric_filters, {"logGroupName": group, "metricName": "Errors"}),
        (logs.describe_metric_filters, {"logGroupName": "t/none-such"}),
        (logs.describe_metric_filters, {"logGroupName": group, "nextToken": "nope"}),
    ]
    codes = [error_of(call, **kwargs)[0] for call, kwargs in cases]
    assert codes == [
        "ResourceNotFoundException",
        "InvalidParameterException",
        "InvalidParameterException",
        "InvalidParameterException",
        "InvalidParameterException",
        "InvalidParameterException",
        "ResourceNotFoundException",
        "InvalidParameterException",
    ]
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []


def test_test_metric_filter(logs: Any) -> None:
    reply = logs.test_metric_filter(
        filterPattern="[ip, user, status=5*, size]",
        logEventMessages=["1.2.3.4 bob 200 10", "5.6.7.8 amy 503 99", "ERROR"],
    )
    assert [m["eventNumber"] for m in reply["matches"]] == [2]
    assert reply["matches"][0]["eventMessage"] == "5.6.7.8 amy 503 99"
    assert reply["matches"][0]["extractedValues"]["$size"] == "99"
    none = logs.test_metric_filter(filterPattern="WARN", logEventMessages=["fine"])
    assert none["matches"] == []
    code, _ = error_of(logs.test_metric_filter, filterPattern="[a", logEventMessages=["x"])
    assert code == "InvalidParameterException"
    code, _ = error_of(logs.test_metric_filter, filterPattern="x", logEventMessages=["x"] * 51)
    assert code == "InvalidParameterException"


def test_ingest_is_counted_on_metrics(daemon: Daemon, logs: Any, group: str) -> None:
    logs.put_metric_filter(
        logGroupName=group,
        filterName="errors",
        filterPattern="ERROR",
        metricTransformations=transformation(),
    )
    logs.put_metric_filter(
        logGroupName=group,
        filterName="bytes",
        filterPattern="{ $.bytes > 0 }",
        metricTransformations=transformation("Bytes", "$.bytes", dimensions={"Path": "$.path"}),
    )
    t = now_ms()
    messages = ["ERROR a", "INFO b", "ERROR c", '{"bytes": 100, "path": "/x"}']
    messages += ['{"bytes": 23, "path": "/x"}', '{"bytes": 7, "path": "/y"}']
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": t, "message": m} for m in messages],
    )
    samples = scrape(daemon)
    mine = f'log_group="{group}"'
    values = "logd_metric_filter_value_total"
    assert series(samples, values, mine, 'filter_name="errors"') == 2
    assert series(samples, values, mine, 'dim_Path="/x"') == 123
    assert series(samples, values, mine, 'dim_Path="/y"') == 7
    assert series(samples, "logd_metric_filter_events_total", mine, 'dim_Path="/x"') == 2


def test_filters_survive_a_restart(tmp_path: Path) -> None:
    with Daemon(tmp_path) as daemon:
        logs = daemon.client()
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        logs.put_metric_filter(
            logGroupName="g",
            filterName="errors",
            filterPattern="ERROR",
            metricTransformations=transformation(),
        )
        daemon.stop()
        daemon.start()
        logs = daemon.client()
        found = logs.describe_metric_filters(logGroupName="g")["metricFilters"]
        assert [f["filterName"] for f in found] == ["errors"]
        logs.put_log_events(
            logGroupName="g",
            logStreamName="s",
            logEvents=[{"timestamp": now_ms(), "message": "ERROR after restart"}],
        )
        samples = scrape(daemon)
        assert series(samples, "logd_metric_filter_value_total", 'log_group="g"') == 1
