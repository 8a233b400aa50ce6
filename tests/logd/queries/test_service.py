"""QueryService in-process on a real store: the whole query lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from logd import errors
from logd.clock import ManualClock
from logd.model import Scope
from logd.queries import QueryOptions, QueryResults, QueryService
from logd.store.store import Store
from tests.logd.queries.support import BASE_S, NOW, EndlessSource, fill, open_store, wait_for

END_S = BASE_S + 10


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(tmp_path, ManualClock(NOW))
    await fill(s)
    yield s
    await s.close()


@pytest.fixture
async def svc(store: Store) -> AsyncIterator[QueryService]:
    service = QueryService(store, QueryOptions(), store.clock)
    await service.start()
    yield service
    await service.close()


def endless(store: Store, **options: object) -> QueryService:
    return QueryService(
        store,
        QueryOptions(**options),  # type: ignore[arg-type]
        store.clock,
        source=EndlessSource,
    )


async def run(
    svc: QueryService,
    text: str,
    groups: list[str] | None,
    *,
    start: int = BASE_S,
    end: int = END_S,
    limit: int | None = None,
) -> tuple[str, QueryResults]:
    qid = await svc.start_query(text, groups=groups, start_time=start, end_time=end, limit=limit)
    assert await wait_for(svc, qid, "Complete", "Failed") == "Complete"
    return qid, await svc.get_query_results(qid)


async def test_query_over_sealed_and_memtable_events(svc: QueryService) -> None:
    qid, res = await run(svc, "stats count(*) as n, sum(ms) as total by level", ["app-a", "app-b"])
    assert res.result is not None
    assert res.result.to_cloudwatch() == [
        [{"field": "level", "value": "ERROR"}, {"field": "n", "value": "3"},
         {"field": "total", "value": "85"}],
        [{"field": "level", "value": "INFO"}, {"field": "n", "value": "2"},
         {"field": "total", "value": "30"}],
        [{"field": "n", "value": "1"}],  # "plain text line": no level, no ms
    ]  # fmt: skip
    assert res.statistics["recordsScanned"] == 6.0
    assert res.statistics["logGroupsScanned"] == 2.0
    assert res.statistics["resultCount"] == 3.0
    [info] = await svc.describe_queries()
    assert (info.query_id, info.status, info.log_groups) == (qid, "Complete", ("app-a", "app-b"))
    assert info.bytes_scanned == res.statistics["bytesScanned"] > 0


async def test_time_range_is_inclusive_seconds(svc: QueryService) -> None:
    # events at BASE_S+0, +1, +1.5, +2, +3, +4 seconds
    _, res = await run(
        svc, "stats count(*) as n", ["app-a", "app-b"], start=BASE_S + 1, end=BASE_S + 3
    )
    assert res.result is not None
    assert res.result.rows == [[("n", "4")]]  # +1, +1.5, +2, +3 (its whole second)


async def test_limit_parameter_and_limit_command(svc: QueryService) -> None:
    _, res = await run(svc, "fields @message", ["app-a"], limit=2)
    assert res.result is not None
    assert len(res.result.rows) == 2
    assert res.result.truncated
    _, res = await run(svc, "fields @message | limit 3", ["app-a"], limit=1)
    assert res.result is not None
    assert len(res.result.rows) == 3
    with pytest.raises(errors.InvalidParameterException):
        await svc.start_query(
            "fields @message", groups=["app-a"], start_time=0, end_time=1, limit=0
        )


async def test_group_identifiers_and_unknown_groups(svc: QueryService) -> None:
    arn = Scope().log_group_arn("app-b")
    _, res = await run(svc, "stats count(*) as n", [arn + ":*"])
    assert res.result is not None
    assert res.result.rows == [[("n", "1")]]
    for bad in (["nope"], [Scope(account="999999999999").log_group_arn("app-b")]):
        with pytest.raises(errors.ResourceNotFoundException):
            await svc.start_query("fields @message", groups=bad, start_time=0, end_time=1)
    with pytest.raises(errors.InvalidParameterException):
        await svc.start_query("fields @message", groups=["app-a"], start_time=5, end_time=4)
    with pytest.raises(errors.InvalidParameterException):
        await svc.start_query("fields @message", groups=None, start_time=0, end_time=1)
    assert await svc.describe_queries() != []
    with pytest.raises(errors.ResourceNotFoundException):
        await svc.describe_queries(group="nope")


async def test_source_selects_groups(svc: QueryService) -> None:
    text = 'SOURCE logGroups(namePrefix: ["app-b"]) | stats count(*) as n'
    _, res = await run(svc, text, None)
    assert res.result is not None
    assert res.result.rows == [[("n", "1")]]
    with pytest.raises(errors.InvalidParameterException):
        await svc.start_query(text, groups=["app-a"], start_time=0, end_time=1)
    with pytest.raises(errors.InvalidParameterException):
        await svc.start_query(
            'SOURCE logGroups(accountIdentifiers: ["1"]) | fields @message',
            groups=None,
            start_time=0,
            end_time=1,
        )


async def test_malformed_query_has_compile_error_and_no_id(svc: QueryService) -> None:
    with pytest.raises(errors.MalformedQueryException) as info:
        await svc.start_query("filter level =", groups=["app-a"], start_time=0, end_time=1)
    error = info.value.extra["queryCompileError"]
    assert error["location"] == {"startCharOffset": 14, "endCharOffset": 14}
    assert error["message"].startswith("line 1, column 15:")
    assert await svc.describe_queries() == []


async def test_stop_running_query_cancels_it(store: Store) -> None:
    async with endless(store) as svc:
        qid = await svc.start_query("stats count(*)", groups=["app-a"], start_time=0, end_time=1)
        await wait_for(svc, qid, "Running")
        assert await svc.stop_query(qid) is True
        assert (await svc.get_query_results(qid)).status == "Cancelled"
        with pytest.raises(errors.InvalidParameterException):
            await svc.stop_query(qid)
        with pytest.raises(errors.ResourceNotFoundException):
            await svc.stop_query("no-such-query")
        with pytest.raises(errors.ResourceNotFoundException):
            await svc.get_query_results("no-such-query")
        [info] = await svc.describe_queries(status="Cancelled")
        assert info.query_id == qid


async def test_timeout(store: Store) -> None:
    async with endless(store, timeout_ms=50) as svc:
        qid = await svc.start_query("stats count(*)", groups=["app-a"], start_time=0, end_time=1)
        assert await wait_for(svc, qid, "Timeout", "Complete", "Failed") == "Timeout"
        [info] = await svc.describe_queries(status="Timeout")
        assert (info.query_id, info.log_groups) == (qid, ("app-a",))


async def test_pool_queues_and_limits(store: Store) -> None:
    async with endless(store, max_running=1, max_active=2) as svc:
        first = await svc.start_query("stats count(*)", groups=["app-a"], start_time=0, end_time=1)
        second = await svc.start_query("stats count(*)", groups=["app-a"], start_time=0, end_time=1)
        await wait_for(svc, first, "Running")
        assert (await svc.get_query_results(second)).status == "Scheduled"
        with pytest.raises(errors.LimitExceededException):
            await svc.start_query("stats count(*)", groups=["app-a"], start_time=0, end_time=1)
        assert await svc.stop_query(second)
        assert (await svc.get_query_results(second)).status == "Cancelled"
        assert await svc.stop_query(first)
        third = await svc.start_query("stats count(*)", groups=["app-a"], start_time=0, end_time=1)
        assert await wait_for(svc, third, "Running") == "Running"
        statuses = [q.status for q in await svc.describe_queries()]
        assert statuses == ["Running", "Cancelled", "Cancelled"]
        page = await svc.describe_queries(limit=1)
        rest = await svc.describe_queries(before=page[0].ordinal)
        assert [q.query_id for q in page + rest] == [third, second, first]
    # closing cancelled the running one
    async with QueryService(store, QueryOptions(), store.clock) as again:
        assert (await again.get_query_results(third)).status == "Cancelled"


async def test_history_and_results_outlive_their_ttl(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    store = await open_store(tmp_path, clock)
    try:
        await fill(store)
        async with QueryService(store, QueryOptions(results_ttl_ms=1000), clock) as svc:
            qid, res = await run(svc, "stats count(*) as n", ["app-a"])
            assert res.result is not None
            clock.advance(2000)
            await run(svc, "stats count(*) as n", ["app-b"])  # prunes the first one's rows
            old = await svc.get_query_results(qid)
            assert (old.status, old.result) == ("Complete", None)
            assert old.statistics["recordsScanned"] == 5.0
    finally:
        await store.close()
    store = await open_store(tmp_path, clock)
    try:
        async with QueryService(store, QueryOptions(), clock) as svc:
            infos = await svc.describe_queries(group="app-a")
            assert [i.query_id for i in infos] == [qid]
            assert (await svc.get_query_results(qid)).status == "Complete"
    finally:
        await store.close()


async def test_log_record_and_group_fields(svc: QueryService, store: Store) -> None:
    _, res = await run(svc, "filter user = 'bob' | fields user", ["app-a"])
    assert res.result is not None
    [row] = res.result.rows
    ptr = dict(row)["@ptr"]
    record = await svc.get_log_record(ptr)
    assert record["@message"] == '{"level":"ERROR","ms":30,"user":"bob"}'
    assert (record["user"], record["ms"], record["@logStream"]) == ("bob", "30", "web-1")
    assert record["@timestamp"] == str(BASE_S * 1000 + 1000)
    with pytest.raises(errors.InvalidParameterException):
        await svc.get_log_record("not a pointer!")
    fields = await svc.log_group_fields("app-a", BASE_S * 1000 + 5000)
    percent = {f["name"]: f["percent"] for f in fields}
    assert percent["@message"] == 100
    assert (percent["level"], percent["ms"], percent["user"]) == (80, 80, 60)
    assert await svc.log_group_fields("app-a", NOW + 10_000_000) == []
