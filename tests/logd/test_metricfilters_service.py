"""Metric filters in the daemon: catalog persistence, loading, matching on durable appends."""

from __future__ import annotations

from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.errors import (
    InvalidOperationException,
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)
from logd.metricfilters import (
    MAX_FILTERS_PER_GROUP,
    MetricFilterService,
    MetricTransformation,
    evaluate_test_messages,
)
from logd.model import InputEvents
from logd.telemetry.metrics import Registry

from .store.support import NOW, make_group, open_store
from .test_metricfilters import sample


def errors_metric(**kw):
    return MetricTransformation(
        metric_name="Errors", metric_namespace="App", metric_value="1", **kw
    )


async def started(store, registry=None):
    registry = registry or Registry()
    service = MetricFilterService(store, registry, store.clock)
    service.load()
    store.add_append_observer(service.on_append)
    return service, registry


async def test_filters_persist_reload_and_count_durable_appends(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "app", "s")
        service, registry = await started(store)
        await service.put("app", "errors", "ERROR", errors_metric())
        await service.put(
            "app",
            "latency",
            "{ $.latency > 0 }",
            MetricTransformation(
                metric_name="Latency",
                metric_namespace="App",
                metric_value="$.latency",
                dimensions={"Route": "$.route"},
                unit="Milliseconds",
            ),
            {"applyOnTransformedLogs": False},
        )
        await store.append("app", "s", InputEvents([NOW, NOW], ["ERROR a", "INFO b"]))
        assert sample(registry, "logd_metric_filter_value_total", filter_name="errors") == 1
        assert store.catalog.metric_filter_count(store.catalog.require_group("app").id) == 2
    async with await open_store(tmp_path, clock) as store:
        service, registry = await started(store)
        assert service.engine.count("app") == 2
        await store.append(
            "app",
            "s",
            InputEvents(
                [NOW] * 3,
                ["ERROR x", '{"latency": 40, "route": "/a"}', '{"latency": 2, "route": "/a"}'],
            ),
        )
        assert sample(registry, "logd_metric_filter_value_total", filter_name="errors") == 1
        assert sample(registry, "logd_metric_filter_value_total", dim_Route="/a") == 42
        assert sample(registry, "logd_metric_filter_events_total", dim_Route="/a") == 2
        rows = store.catalog.list_metric_filters(group="app")
        assert [r.name for r in rows] == ["errors", "latency"]
        assert '"unit":"Milliseconds"' in rows[1].transformation
        await service.delete("app", "errors")
        with pytest.raises(ResourceNotFoundException, match="metric filter"):
            await service.delete("app", "errors")
        await store.append("app", "s", InputEvents([NOW], ["ERROR y"]))
        assert sample(registry, "logd_metric_filter_value_total", filter_name="errors") is None
    async with await open_store(tmp_path, clock) as store:
        service, _ = await started(store)
        assert service.engine.count("app") == 1


async def test_deleted_and_recreated_group_leaves_old_filters_behind(tmp_path: Path) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "app", "s")
        service, registry = await started(store)
        await service.put("app", "errors", "ERROR", errors_metric())
        await store.append("app", "s", InputEvents([NOW], ["ERROR before deletion"]))
        assert sample(registry, "logd_metric_filter_value_total", filter_name="errors") == 1
        await store.delete_group("app")
        registry.expose()  # a scrape forgets the deleted group's series
        assert service.engine.count("app") == 0
        assert sample(registry, "logd_metric_filter_value_total", filter_name="errors") is None
        await make_group(store, "app", "s")
        await store.append("app", "s", InputEvents([NOW], ["ERROR after re-creation"]))
        assert sample(registry, "logd_metric_filter_value_total", filter_name="errors") is None
        assert service.engine.count("app") == 0
        assert store.catalog.list_metric_filters(group="app") == []


async def test_put_refusals(tmp_path: Path) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "app", "s")
        await make_group(store, "cold", "s", log_group_class="INFREQUENT_ACCESS")
        service, _ = await started(store)
        with pytest.raises(ResourceNotFoundException):
            await service.put("missing", "f", "ERROR", errors_metric())
        with pytest.raises(InvalidOperationException):
            await service.put("cold", "f", "ERROR", errors_metric())
        with pytest.raises(InvalidParameterException, match="pattern"):
            await service.put("app", "f", "{ $.a = ", errors_metric())
        assert store.catalog.list_metric_filters() == []
        for i in range(MAX_FILTERS_PER_GROUP):
            await service.put("app", f"f{i:03d}", "ERROR", errors_metric())
        await service.put("app", "f000", "WARN", errors_metric())  # replacing is fine
        with pytest.raises(LimitExceededException):
            await service.put("app", "one-too-many", "ERROR", errors_metric())
        assert len(store.catalog.list_metric_filters(group="app", limit=500)) == 100


async def test_catalog_listing_order_prefix_metric_and_after(tmp_path: Path) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "a", "s")
        await make_group(store, "b", "s")
        service, _ = await started(store)
        other = MetricTransformation(metric_name="Other", metric_namespace="X", metric_value="2")
        for group, name in [("b", "x1"), ("a", "x1"), ("a", "y"), ("b", "x2")]:
            await service.put(group, name, "", other if name == "y" else errors_metric())
        rows = store.catalog.list_metric_filters()
        assert [(r.name, r.group) for r in rows] == [
            ("x1", "a"),
            ("x1", "b"),
            ("x2", "b"),
            ("y", "a"),
        ]
        page = store.catalog.list_metric_filters(after=("x1", "a"), limit=2)
        assert [(r.name, r.group) for r in page] == [("x1", "b"), ("x2", "b")]
        assert [r.name for r in store.catalog.list_metric_filters(group="b", prefix="x2")] == ["x2"]
        by_metric = store.catalog.list_metric_filters(metric=("Other", "X"))
        assert [(r.name, r.group) for r in by_metric] == [("y", "a")]


def test_test_metric_filter_reports_matches_with_extracted_values() -> None:
    matches = evaluate_test_messages(
        "[ip, user, status=5*, size]",
        ["1.2.3.4 bob 200 10", "5.6.7.8 amy 503 99", "not enough"],
    )
    assert [m["eventNumber"] for m in matches] == [2]
    assert matches[0]["eventMessage"] == "5.6.7.8 amy 503 99"
    assert matches[0]["extractedValues"]["$status"] == "503"
    assert evaluate_test_messages("ERROR", ["fine"]) == []
    with pytest.raises(InvalidParameterException):
        evaluate_test_messages("[a, b", ["x"])


async def test_metric_filter_count_follows_puts_and_deletes(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "a", "s")
        await make_group(store, "b", "s")
        service, _ = await started(store)
        a, b = (store.catalog.require_group(n).id for n in "ab")
        await service.put("a", "one", "x", errors_metric())
        await service.put("a", "one", "y", errors_metric())  # a replacement counts once
        await service.put("a", "two", "x", errors_metric())
        await service.put("b", "one", "x", errors_metric())
        await service.delete("a", "one")
        assert (store.catalog.metric_filter_count(a), store.catalog.metric_filter_count(b)) == (
            1,
            1,
        )
    async with await open_store(tmp_path, clock) as store:
        assert store.catalog.metric_filter_count(a) == 1
        store.catalog.delete_metric_filter("a", "two")
        assert store.catalog.metric_filter_count(a) == 0
        assert store.catalog.metric_filter_count(b) == 1


async def test_regex_quota_counts_filters_outside_the_catalog(tmp_path: Path) -> None:
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "app", "s")
        service, _ = await started(store)
        assert service.configured_filters("app") == []
        declared = [("subscription", f"conf-{i}", "%declared%") for i in range(2)]
        service.configured_filters = lambda group: list(declared) if group == "app" else []
        for i in range(3):
            await service.put("app", f"m{i}", f"%m{i}%", errors_metric())
        with pytest.raises(LimitExceededException, match="regular expression"):
            await service.put("app", "m3", "{ $.a = %x% }", errors_metric())
        await service.put("app", "m3", "{ $.a = x }", errors_metric())  # no regex: fine
        await service.put("app", "m0", "%again%", errors_metric())  # a replacement
        await make_group(store, "other", "s")
        await service.put("other", "m", "%x%", errors_metric())
