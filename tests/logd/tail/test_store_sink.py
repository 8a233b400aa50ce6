"""The agent's emit into the REAL store: creation on first use, zero-event checkpoints,
rejected events, a group deleted while tailing, and the agent end to end with restart."""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

from logd.clock import ManualClock, SystemClock
from logd.model import InputEvents
from logd.store.options import StoreOptions
from logd.store.store import Store
from logd.tail.options import agent_from_mapping
from logd.tail.store_sink import StoreSink, bind_metrics, tail_into_store
from logd.telemetry.metrics import TAIL_COUNTERS, DaemonMetrics
from tests.logd.tail.support import ROOT, assert_exactly_once, wait_for

NOW = 1_700_000_000_000
QUIET = {"seal_interval_ms": 3_600_000, "retention_sweep_interval_ms": 3_600_000}


async def open_store(path: Path, clock: ManualClock | SystemClock) -> Store:
    return await Store.open(path, StoreOptions(**QUIET), clock)  # type: ignore[arg-type]


def messages(store: Store, group: str) -> list[str]:
    rows = [r for b in store.scan([group], 0, 2**62) for r in b.to_pylist()]
    return [str(r["message"]) for r in sorted(rows, key=lambda r: int(r["seq"]))]


def events(n: int, prefix: str = "m", ts: int = NOW) -> InputEvents:
    return InputEvents([ts] * n, [f"{prefix}-{i}" for i in range(n)])


async def test_creates_group_and_stream_once_under_concurrent_first_emits(tmp_path):
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        sink = StoreSink(store, retention={"app": 7})
        await asyncio.gather(
            *(
                sink.emit("app", "host/a.log", events(5, f"b{i}"), (f"tail:app:1:{i}", b"s"))
                for i in range(20)
            )
        )
        assert sink.metrics["groups_created_total"] == 1
        assert sink.metrics["streams_created_total"] == 1
        group = store.catalog.get_group("app")
        assert group is not None
        assert group.retention_days == 7
        assert len(messages(store, "app")) == 100
        assert store.checkpoints()["tail:app:1:7"] == b"s"


async def test_an_existing_group_and_stream_are_used_as_they_are(tmp_path):
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        store.catalog.create_group("app", now_ms=NOW, retention_days=30)
        store.catalog.create_stream("app", "s", now_ms=NOW)
        sink = StoreSink(store, retention={"app": 1})
        await sink.emit("app", "s", events(3), ("tail:app:1:1", b"x"))
        group = store.catalog.get_group("app")
        assert group is not None
        assert group.retention_days == 30
        assert "groups_created_total" not in sink.metrics
        assert messages(store, "app") == ["m-0", "m-1", "m-2"]


async def test_zero_event_checkpoints_are_recorded_without_creating_anything(tmp_path):
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        sink = StoreSink(store)
        await sink.emit("app", "logd-agent", InputEvents(), ("tail:app:started", b"1"))
        await sink.emit("app", "host/a.log", InputEvents(), ("tail:app:1:2", b"cp"))
        assert store.catalog.get_group("app") is None
        assert store.checkpoints()["tail:app:started"] == b"1"
        await sink.emit("app", "host/a.log", events(2), ("tail:app:1:2", b"cp2"))
        await sink.emit("app", "host/a.log", InputEvents(), ("tail:app:1:2", b""))  # tombstone
        assert store.catalog.get_stream("app", "logd-agent") is None
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        recovered = store.checkpoints()
        assert recovered["tail:app:started"] == b"1"
        assert recovered["tail:app:1:2"] == b""
        assert store.catalog.get_stream("app", "logd-agent") is None
        assert messages(store, "app") == ["m-0", "m-1"]


async def test_rejected_events_are_counted_and_the_checkpoint_still_moves(tmp_path):
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        sink = StoreSink(store)
        old = NOW - 15 * 86_400_000  # older than 14 days: rejected by the store
        mixed = InputEvents([old, old, NOW], ["too-old-1", "too-old-2", "fine"])
        await sink.emit("app", "s", mixed, ("tail:app:1:1", b"after-mixed"))
        assert sink.metrics["rejected_events_total"] == 2
        assert store.checkpoints()["tail:app:1:1"] == b"after-mixed"
        # refused whole (a negative timestamp): counted, dropped, checkpoint recorded
        await sink.emit("app", "s", InputEvents([-1], ["bad"]), ("tail:app:1:1", b"after-bad"))
        assert sink.metrics["rejected_batches_total"] == 1
        assert store.checkpoints()["tail:app:1:1"] == b"after-bad"
        assert messages(store, "app") == ["fine"]


async def test_a_group_deleted_while_tailing_is_created_again(tmp_path):
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        sink = StoreSink(store)
        await sink.emit("app", "s", events(1, "before"), ("tail:app:1:1", b"1"))
        await store.delete_group("app")
        await sink.emit("app", "s", events(1, "after"), ("tail:app:1:1", b"2"))
        assert messages(store, "app") == ["after-0"]
        assert sink.metrics["groups_created_total"] == 2


async def test_agent_into_store_reads_once_across_restart(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(f"src=a seq={i} hello\n" for i in range(1, 201)))
    doc = {
        "agent": {"scan_interval_ms": 50, "rotate_wait_ms": 100},
        "tail": [{"paths": [str(logs / "*.log")], "log_group": "app", "retention_in_days": 3}],
    }
    options = agent_from_mapping(doc)
    data = tmp_path / "data"
    for round_ in range(2):
        async with await open_store(data, SystemClock()) as store:
            agent, _sink = tail_into_store(store, options, SystemClock())
            task = asyncio.create_task(agent.run())
            if round_ == 1:  # appended while the agent was stopped
                with (logs / "a.log").open("a") as fh:
                    fh.write("".join(f"src=a seq={i} hello\n" for i in range(201, 301)))
            want = 200 if round_ == 0 else 300
            await wait_for(lambda: len(messages(store, "app")) >= want, what=f"{want} events")  # noqa: B023 -- awaited in the loop body
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            got = messages(store, "app")
            group = store.catalog.get_group("app")
            assert group is not None
            assert group.retention_days == 3
            assert store.catalog.get_stream("app", "logd-agent") is None
    assert_exactly_once(got, {"a": 300})


async def test_agent_counters_and_gauges_reach_metrics(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(f"line {i}\n" for i in range(50)) + "\n")
    options = agent_from_mapping(
        {
            "agent": {"scan_interval_ms": 50},
            "tail": [{"paths": [str(logs / "*.log")], "log_group": "m"}],
        }
    )
    metrics = DaemonMetrics()
    async with await open_store(tmp_path / "data", SystemClock()) as store:
        agent, sink = tail_into_store(store, options, SystemClock())
        bind_metrics(metrics, agent, sink)
        task = asyncio.create_task(agent.run())
        await wait_for(
            lambda: (
                len(messages(store, "m")) >= 50 and agent.metrics.get("empty_lines_total", 0) >= 1
            ),
            what="50 events and the empty line counted",
        )
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    text = metrics.registry.expose().splitlines()
    assert "logd_tail_read_lines_total 51" in text
    assert "logd_tail_empty_lines_total 1" in text
    assert "logd_tail_stored_events_total 50" in text
    assert "logd_tail_files_watched 1" in text
    metrics.registry.expose()  # a second scrape does not count twice
    assert metrics.tail_counters["stored_events_total"].value() == 50


def test_every_counter_the_agent_bumps_is_declared_and_documented():
    source = "".join(p.read_text() for p in (ROOT / "logd" / "tail").glob("*.py"))
    names = set(re.findall(r'_bump\((?:[a-z.]+, )?"([a-z_]+)"', source))
    names |= {f"long_lines_{a}_total" for a in ("split", "truncate", "drop")}
    names = {n for n in names if not n.startswith("ship_")}  # `logd agent`'s own
    assert names - set(TAIL_COUNTERS) == set()
    docs = (ROOT / "docs" / "tail.md").read_text()
    assert [n for n in TAIL_COUNTERS if f"`{n}`" not in docs] == []
