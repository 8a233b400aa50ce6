"""The subscription service with a real store and a real file sink: the API's rules,
persistence across restarts, delivery from the store's log."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from logd.errors import (
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)
from logd.subscriptions.options import ConfiguredFilter
from logd.telemetry.metrics import DaemonMetrics

from .support import append, arn, ensure, file_events, running, until


def sinks(tmp_path):
    return {
        "files": {"type": "file", "root": str(tmp_path / "out"), "aliases": ["legacy-arn"]},
        "other": {"type": "file", "root": str(tmp_path / "other")},
    }


async def put(service, group, name, pattern="", destination=None, **kw):
    await service.put_subscription_filter(
        group=group, name=name, pattern=pattern, destination_arn=destination or arn("files"), **kw
    )


async def test_put_describe_replace_delete(tmp_path):
    async with running(tmp_path / "data", sinks(tmp_path)) as service:
        ensure(service, "g", "s")
        await put(service, "g", "b", "ERROR", role_arn="arn:aws:iam::1:role/r")
        await put(service, "g", "a", destination="other", distribution="Random")
        page, token = service.describe_subscription_filters(group="g")
        assert token is None
        assert [f["filterName"] for f in page] == ["a", "b"]
        assert page[0]["distribution"] == "Random"
        assert page[0]["destinationArn"] == "other"
        assert "roleArn" not in page[0]
        assert page[1]["roleArn"] == "arn:aws:iam::1:role/r"
        assert page[1]["filterPattern"] == "ERROR"
        assert page[1]["applyOnTransformedLogs"] is False
        created = page[1]["creationTime"]

        # a third name is over the limit; replacing one of the two is not
        with pytest.raises(LimitExceededException, match=r"Resource limit exceeded\."):
            await put(service, "g", "c")
        await put(service, "g", "b", "WARN", destination="legacy-arn")
        page, _ = service.describe_subscription_filters(group="g", prefix="b")
        assert [(f["filterPattern"], f["creationTime"]) for f in page] == [("WARN", created)]
        assert page[0]["destinationArn"] == "legacy-arn"

        first, token = service.describe_subscription_filters(group="g", limit=1)
        assert [f["filterName"] for f in first] == ["a"]
        assert token is not None
        second, token = service.describe_subscription_filters(group="g", limit=1, next_token=token)
        assert ([f["filterName"] for f in second], token) == (["b"], None)

        await service.delete_subscription_filter(group="g", name="a")
        with pytest.raises(ResourceNotFoundException, match="subscription filter does not exist"):
            await service.delete_subscription_filter(group="g", name="a")
        with pytest.raises(ResourceNotFoundException):
            await service.delete_subscription_filter(group="nope", name="b")
        assert [f["filterName"] for f in service.describe_subscription_filters(group="g")[0]] == [
            "b"
        ]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"pattern": '{ $.x = "unterminated '}, "Invalid filter pattern"),
        ({"destination": "arn:aws:kinesis:us-east-1:1:stream/x"}, "not a configured sink"),
        ({"destination": "arn:logd:sink:eu-west-1:123456789012:files"}, "not a configured sink"),
        ({"distribution": "Sideways"}, "distribution"),
    ],
)
async def test_put_refuses_bad_input(tmp_path, kw, message):
    async with running(tmp_path / "data", sinks(tmp_path)) as service:
        ensure(service, "g", "s")
        with pytest.raises(InvalidParameterException, match=message):
            await put(service, "g", "f", **kw)
        assert service.describe_subscription_filters(group="g")[0] == []


async def test_unknown_group_and_infrequent_access(tmp_path):
    async with running(tmp_path / "data", sinks(tmp_path)) as service:
        with pytest.raises(ResourceNotFoundException):
            await put(service, "missing", "f")
        with pytest.raises(ResourceNotFoundException):
            service.describe_subscription_filters(group="missing")
        ensure(service, "ia", log_group_class="INFREQUENT_ACCESS")
        with pytest.raises(InvalidParameterException, match="INFREQUENT_ACCESS"):
            await put(service, "ia", "f")
        ensure(service, "g")
        with pytest.raises(InvalidParameterException, match="nextToken"):
            service.describe_subscription_filters(group="g", next_token="garbage")
        with pytest.raises(InvalidParameterException, match="limit"):
            service.describe_subscription_filters(group="g", limit=51)


async def test_delivery_starts_at_the_put_and_survives_a_restart(tmp_path):
    data, out = tmp_path / "data", tmp_path / "out"
    async with running(data, sinks(tmp_path)) as service:
        ensure(service, "g", "s1", "s2")
        ensure(service, "h", "s1")
        await append(service, "g", "s1", ["ERROR before the put"])
        await put(service, "g", "errors", "ERROR")
        await append(service, "h", "s1", ["ERROR in another group"])
        for i in range(20):
            await append(service, "g", f"s{1 + i % 2}", [f"ERROR {i}", f"INFO {i}"])
        await until(lambda: len(file_events(out)) == 20)
    events = file_events(out)
    assert sorted(e["message"] for e in events) == sorted(f"ERROR {i}" for i in range(20))
    assert {e["logGroup"] for e in events} == {"g"}
    for stream in ("s1", "s2"):
        seqs = [int(e["id"]) for e in events if e["logStream"] == stream]
        assert seqs == sorted(seqs)

    # the filter and its cursor persist: what arrives while stopped is delivered after
    async with running(data, sinks(tmp_path)) as service:
        page, _ = service.describe_subscription_filters(group="g")
        assert [f["filterName"] for f in page] == ["errors"]
        await append(service, "g", "s1", ["ERROR after restart"])
        await until(lambda: len(file_events(out)) == 21)
        figures = service.figures()
        assert [(f.subscription, f.sink) for f in figures] == [("g:errors", "files")]
        await until(lambda: service.figures()[0].lag_seconds == 0)
        metrics = DaemonMetrics()
        service.register_metrics(metrics.subscriptions, metrics.registry)
        text = metrics.registry.expose()
        assert (
            'logd_subscription_delivered_events_total{subscription="g:errors",sink="files"} 1'
            in text
        )
        assert 'logd_subscription_state{subscription="g:errors",state="RUNNING"} 1' in text
        assert 'logd_subscription_lag_seconds{subscription="g:errors"} 0' in text
    s1 = [e["message"] for e in file_events(out) if e["logStream"] == "s1"]
    assert s1[-1] == "ERROR after restart"


async def test_configured_filters_show_count_and_refuse_changes(tmp_path):
    conf = ConfiguredFilter(log_group_name="g", filter_name="from-config", destination_arn="files")
    data = tmp_path / "data"
    async with running(data, sinks(tmp_path)) as service:
        ensure(service, "g", "s")
    async with running(data, sinks(tmp_path), filters=(conf,), max_filters_per_group=2) as service:
        page, _ = service.describe_subscription_filters(group="g")
        assert [f["filterName"] for f in page] == ["from-config"]
        with pytest.raises(InvalidParameterException, match="configuration file"):
            await put(service, "g", "from-config", "x")
        with pytest.raises(InvalidParameterException, match="configuration file"):
            await service.delete_subscription_filter(group="g", name="from-config")
        await put(service, "g", "api")
        with pytest.raises(LimitExceededException):
            await put(service, "g", "third")
        await append(service, "g", "s", ["hello"])
        await until(lambda: len(file_events(tmp_path / "out")) == 2)


async def test_a_deleted_group_takes_its_filters_and_cursors_along(tmp_path):
    async with running(tmp_path / "data", sinks(tmp_path)) as service:
        ensure(service, "g", "s")
        await put(service, "g", "f")
        await service.store.delete_group("g")
        assert service.figures() == []
        ensure(service, "g", "s")
        assert service.describe_subscription_filters(group="g")[0] == []
        await put(service, "g", "f", "again")
        await put(service, "g", "f2")
        page, _ = service.describe_subscription_filters(group="g")
        assert [(f["filterName"], f["filterPattern"]) for f in page] == [("f", "again"), ("f2", "")]
        await append(service, "g", "s", ["again and again"])
        await until(lambda: len(file_events(tmp_path / "out")) == 2)


async def test_batch_boundaries_are_kept_per_filter_and_go_with_it(tmp_path):
    async with running(tmp_path / "data", sinks(tmp_path)) as service:
        ensure(service, "g", "s")
        await put(service, "g", "f")
        await put(service, "g", "f2")
        await append(service, "g", "s", ["one", "two"])
        await until(lambda: len(file_events(tmp_path / "out")) == 4)
        files = sorted(service.boundaries_dir.iterdir())
        assert len(files) == 2
        lines = [orjson.loads(line) for line in files[0].read_bytes().splitlines()]
        assert [(s, last - first) for s, first, last, *_ in lines] == [("s", 1)]
        await service.delete_subscription_filter(group="g", name="f")
        assert len(list(service.boundaries_dir.iterdir())) == 1


async def test_configured_regex_filters_count_toward_the_regex_quota(tmp_path):
    confs = tuple(
        ConfiguredFilter(
            log_group_name="g",
            filter_name=f"conf-{i}",
            filter_pattern=f"%conf{i}%",
            destination_arn="files",
        )
        for i in range(3)
    )
    data = tmp_path / "data"
    async with running(data, sinks(tmp_path)) as service:
        ensure(service, "g", "s")
    async with running(data, sinks(tmp_path), filters=confs, max_filters_per_group=10) as service:
        assert [f[1] for f in service.configured_filters("g")] == ["conf-0", "conf-1", "conf-2"]
        assert service.configured_filters("other") == []
        await put(service, "g", "api-1", "%one%")
        await put(service, "g", "api-2", "{ $.a = %two% }")
        await put(service, "g", "plain", "ERROR")
        with pytest.raises(LimitExceededException, match="regular expression"):
            await put(service, "g", "api-3", "[a, b = %three%]")
        await put(service, "g", "api-2", "%two again%")  # a replacement is no sixth


async def test_a_metric_and_a_subscription_put_cannot_both_take_the_fifth_regex_slot(tmp_path):
    from logd.metricfilters import MetricFilterService, MetricTransformation
    from logd.telemetry.metrics import Registry

    async with running(tmp_path / "data", sinks(tmp_path), max_filters_per_group=10) as service:
        ensure(service, "g", "s")
        metrics = MetricFilterService(service.store, Registry(), service.store.clock)
        metrics.load()
        counted = MetricTransformation(metric_name="N", metric_namespace="App", metric_value="1")
        for i in range(4):
            await metrics.put("g", f"m{i}", f"%m{i}%", counted)
        outcomes = await asyncio.gather(
            metrics.put("g", "m-fifth", "%five%", counted),
            put(service, "g", "s-fifth", "%five%"),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, LimitExceededException)]
        assert len(refused) == 1, outcomes
        assert len([o for o in outcomes if not isinstance(o, BaseException)]) == 1
        catalog = service.store.catalog
        regex_metric = len(catalog.list_metric_filters(group="g", limit=100))
        subs = [f["filterName"] for f in service.describe_subscription_filters(group="g")[0]]
        assert regex_metric + len(subs) == 5
