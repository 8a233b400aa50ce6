"""Metric filters turn matching events into counters on /metrics."""

import pytest

from logd.errors import InvalidParameterException, LimitExceededException
from logd.metricfilters import (
    MAX_FILTERS_PER_GROUP,
    MetricFilter,
    MetricFilterEngine,
    MetricTransformation,
)
from logd.telemetry.metrics import Registry


def spec(name="errors", pattern="ERROR", value="1", group="app", **kw):
    return MetricFilter(
        group=group,
        name=name,
        pattern=pattern,
        transformation=MetricTransformation(
            metric_name="ErrorCount", metric_namespace="App", metric_value=value, **kw
        ),
        creation_time=0,
    )


def sample(registry, family, **labels):
    for line in registry.expose().splitlines():
        if line.startswith(family + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_constant_values_count_matching_events():
    registry = Registry()
    engine = MetricFilterEngine(registry)
    engine.put(spec())
    engine.observe("app", ["INFO ok", "ERROR one", "ERROR two", "WARN"])
    engine.observe("other", ["ERROR not this group"])
    engine.observe("app", ["ERROR three"])
    assert sample(registry, "logd_metric_filter_value_total", metric_name="ErrorCount") == 3
    assert sample(registry, "logd_metric_filter_events_total", metric_namespace="App") == 3


def test_json_selector_values_and_dimensions():
    registry = Registry()
    engine = MetricFilterEngine(registry)
    engine.put(
        spec(
            name="latency",
            pattern="{ $.latency > 0 }",
            value="$.latency",
            dimensions={"Route": "$.route"},
        )
    )
    engine.observe(
        "app",
        [
            '{"latency": 120, "route": "/a"}',
            '{"latency": 30, "route": "/b"}',
            '{"latency": 50, "route": "/a"}',
            '{"latency": 0, "route": "/a"}',
            "not json",
        ],
    )
    assert sample(registry, "logd_metric_filter_value_total", dim_Route="/a") == 170
    assert sample(registry, "logd_metric_filter_value_total", dim_Route="/b") == 30
    assert sample(registry, "logd_metric_filter_events_total", dim_Route="/a") == 2


def test_space_delimited_selector_and_default_value():
    registry = Registry()
    engine = MetricFilterEngine(registry)
    engine.put(
        spec(name="bytes", pattern="[ip, status=5*, size]", value="$size", default_value=0.5)
    )
    engine.observe("app", ["1.2.3.4 500 100", "1.2.3.4 200 999", "5.6.7.8 503 23"])
    # 123 from the two 5xx lines, plus the default 0.5 for the one non-matching line
    assert sample(registry, "logd_metric_filter_value_total", filter_name="bytes") == 123.5


def test_bad_filters_are_refused_with_clear_errors():
    engine = MetricFilterEngine(Registry())
    with pytest.raises(InvalidParameterException, match="pattern"):
        engine.put(spec(pattern="{ $.a = "))
    with pytest.raises(InvalidParameterException, match="metricValue"):
        engine.put(spec(pattern="ERROR", value="$.latency"))
    with pytest.raises(InvalidParameterException, match="dimensions"):
        engine.put(spec(pattern="{ $.a = 1 }", dimensions={f"k{i}": "$.a" for i in range(4)}))


def test_replace_delete_and_the_per_group_limit():
    registry = Registry()
    engine = MetricFilterEngine(registry)
    for i in range(MAX_FILTERS_PER_GROUP):
        engine.put(spec(name=f"f{i}"))
    engine.put(spec(name="f0", pattern="WARN"))  # replacing is always allowed
    with pytest.raises(LimitExceededException):
        engine.put(spec(name="one-too-many"))
    engine.observe("app", ["WARN x"])
    assert sample(registry, "logd_metric_filter_value_total", filter_name="f0") == 1
    engine.delete("app", "f0")
    assert sample(registry, "logd_metric_filter_value_total", filter_name="f0") is None
    assert engine.count("app") == MAX_FILTERS_PER_GROUP - 1
