"""A sink behind its host: errors classified, hangs bounded, plugins kept in their lane (R-26)."""

import asyncio
import random

import pytest

from logd.clock import SystemClock
from logd.subscriptions.deadletter import DeadLetterStore
from logd.subscriptions.delivery import Outcome, PendingBatch
from logd.subscriptions.dispatcher import Dispatcher
from logd.subscriptions.options import SubscriptionOptions
from logd.subscriptions.sinkhost import SinkHost
from sinks import (
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    Sink,
    SinkContext,
    SinkOptions,
)
from sinks.testing import RecordingSink
from tests.logd.subscriptions.test_dispatcher import ListFeed, matcher, records


def pending(n=3):
    p = PendingBatch("sub", "g", "s")
    p.seqs = list(range(1, n + 1))
    p.timestamps = [10] * n
    p.ingestion_times = [11] * n
    p.messages = [f"m{i}" for i in range(n)]
    return p


def host_for(sink, timeout=0.5):
    return SinkHost(
        "dest", sink, owner="123456789012", rendering_type="recording", send_timeout_s=timeout
    )


@pytest.mark.parametrize(
    ("error", "outcome", "error_class"),
    [
        (RetryableError("busy", retry_after=2.0), Outcome.RETRY, "RetryableError"),
        (FatalError("bad"), Outcome.FATAL, "FatalError"),
        (PayloadTooLargeError("big", size=10, limit=5), Outcome.FATAL, "PayloadTooLargeError"),
        (ZeroDivisionError("oops"), Outcome.RETRY, "unclassified"),
        (float("inf"), Outcome.RETRY, "timeout"),
    ],
)
async def test_outcomes_are_classified(error, outcome, error_class):
    sink = RecordingSink()
    sink.fail_next(error)
    host = host_for(sink, timeout=0.2)
    p = pending()
    result = await host.send(host.to_batch(p, 1, "f"))
    assert (result.outcome, result.error_class) == (outcome, error_class)
    assert (await host.send(host.to_batch(p, 2, "f"))).outcome == Outcome.OK
    assert [list(b.ids) for b in sink.batches] == [[f"{s:056d}" for s in p.seqs]]
    assert sink.batches[0].id == p.idempotency_key
    await host.close()
    assert sink.violations == []


class BrokenStart(Sink[SinkOptions]):
    options_class = SinkOptions

    async def start(self):
        raise RuntimeError("cannot connect")

    async def send(self, batch):
        raise AssertionError("send after a failed start")


async def test_a_sink_that_cannot_start_is_retried_not_sent_to():
    from sinks import SinkContext

    host = host_for(BrokenStart(SinkOptions(), SinkContext.create("broken", "b")))
    result = await host.send(host.to_batch(pending(), 1, "f"))
    assert result.outcome == Outcome.RETRY
    assert "cannot connect" in result.reason
    await host.close()


async def test_a_hanging_plugin_does_not_stall_another_subscription(tmp_path):
    """R-26: one subscription's sink hangs forever; the other delivers everything."""
    hanging, healthy = RecordingSink(), RecordingSink()
    hanging.fail_next(*[float("inf")] * 1000)
    opts = SubscriptionOptions(
        batch_max_wait_ms=20, retry_base_ms=1, retry_cap_ms=5, send_timeout_ms=100
    )
    hosts = [host_for(hanging, 0.1), host_for(healthy, 0.1)]
    feeds = [ListFeed(records(30)), ListFeed(records(30))]
    dispatchers = [
        Dispatcher(
            name=f"sub{i}",
            group="g",
            sink_name="dest",
            feed=feeds[i],
            matcher=matcher,
            send=lambda p, a, h=hosts[i]: h.send(h.to_batch(p, a, "f")),
            deadletters=DeadLetterStore(tmp_path / f"dlq{i}"),
            options=opts,
            clock=SystemClock(),
            rng=random.Random(i),
        )
        for i in range(2)
    ]
    total = sum("ERROR" in m for r in feeds[1].records for m in r.messages)
    tasks = [asyncio.create_task(d.run()) for d in dispatchers]
    try:
        async with asyncio.timeout(10):
            while (
                dispatchers[1].stats.delivered_events < total
                or dispatchers[0].stats.retries_by_class.get("timeout", 0) < 2
            ):
                await asyncio.sleep(0.01)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for h in hosts:
            await h.close()
    assert dispatchers[0].stats.delivered_events == 0
    assert sum(len(b) for b in healthy.batches) == total


class LeakySink(Sink[SinkOptions]):
    """R-26: raises at random (seeded) and keeps every batch it ever saw (a leak)."""

    options_class = SinkOptions

    def __init__(self, options, context, seed=7):
        super().__init__(options, context)
        self.rng = random.Random(seed)
        self.hoard = []
        self.delivered = []

    async def send(self, batch):
        self.hoard.append(bytearray(64 * 1024))  # never released while the sink lives
        if self.rng.random() < 0.5:
            raise KeyError(f"random failure {len(self.hoard)}")
        self.delivered += list(batch.ids)


async def test_a_leaking_randomly_failing_plugin_stays_in_its_lane(tmp_path):
    """R-26: the bad subscription shows its error and retries; the other is unaffected;
    both end with every event (at-least-once), and closing releases the plugin's tasks."""
    from sinks import SinkContext

    leaky = LeakySink(SinkOptions(), SinkContext.create("leaky", "l"))
    healthy = RecordingSink()
    opts = SubscriptionOptions(batch_max_wait_ms=10, retry_base_ms=1, retry_cap_ms=5)
    hosts = [host_for(leaky, 1.0), host_for(healthy, 1.0)]
    feeds = [ListFeed(records(40)), ListFeed(records(40))]
    dispatchers = [
        Dispatcher(
            name=f"sub{i}",
            group="g",
            sink_name=f"dest{i}",
            feed=feeds[i],
            matcher=matcher,
            send=lambda p, a, h=hosts[i]: h.send(h.to_batch(p, a, "f")),
            deadletters=DeadLetterStore(tmp_path / f"dlq{i}"),
            options=opts,
            clock=SystemClock(),
            rng=random.Random(i),
        )
        for i in range(2)
    ]
    total = sum("ERROR" in m for r in feeds[0].records for m in r.messages)
    tasks = [asyncio.create_task(d.run()) for d in dispatchers]
    before = set(asyncio.all_tasks())
    try:
        async with asyncio.timeout(20):
            while any(d.stats.delivered_events < total for d in dispatchers):
                await asyncio.sleep(0.01)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for h in hosts:
            await h.close()
    bad = dispatchers[0].stats
    assert bad.retries_by_class.get("unclassified", 0) > 0
    assert "KeyError" in bad.last_error
    assert dispatchers[1].stats.retried == 0
    assert len(set(leaky.delivered)) == total
    assert sum(len(b) for b in healthy.batches) == total
    assert not (set(asyncio.all_tasks()) - before - {asyncio.current_task()})


class Overlapping(Sink[SinkOptions]):
    """Counts sends in progress; each waits for `release`."""

    options_class = SinkOptions

    def __init__(self, concurrent):
        super().__init__(SinkOptions(), SinkContext.create("overlap", "test"))
        self.concurrent_sends = concurrent
        self.active = 0
        self.most = 0
        self.starts = 0
        self.release = asyncio.Event()
        self.closed_while_active = False

    async def start(self):
        self.starts += 1
        await asyncio.sleep(0)

    async def send(self, batch):
        self.active += 1
        self.most = max(self.most, self.active)
        try:
            await self.release.wait()
        finally:
            self.active -= 1

    async def close(self):
        self.closed_while_active = self.active > 0


@pytest.mark.parametrize(("concurrent", "most"), [(False, 1), (True, 3)])
async def test_only_sinks_that_declare_it_get_concurrent_sends(concurrent, most):
    sink = Overlapping(concurrent)
    host = host_for(sink, timeout=5)
    sends = [asyncio.create_task(host.send(host.to_batch(pending(), 1, "f"))) for _ in range(3)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert sink.most == most
    closing = asyncio.create_task(host.close())  # waits for the sends under way
    await asyncio.sleep(0.01)
    assert not closing.done()
    sink.release.set()
    results = await asyncio.gather(*sends)
    await closing
    assert sink.starts == 1
    assert not sink.closed_while_active
    assert [r.outcome for r in results] == [Outcome.OK] * 3
