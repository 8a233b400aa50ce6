"""The dispatcher against a scripted feed and a scripted sink: order, cursor, bisection."""

import asyncio
import random
from dataclasses import dataclass

import pytest

from logd.clock import SystemClock
from logd.subscriptions.boundaries import BatchBoundaries
from logd.subscriptions.deadletter import DeadLetterStore
from logd.subscriptions.delivery import Classified, Outcome, PendingBatch
from logd.subscriptions.dispatcher import Dispatcher
from logd.subscriptions.options import SubscriptionOptions


@dataclass
class Rec:
    group: str
    stream: str
    first_seq: int
    ingestion_time: int
    timestamps: list[int]
    messages: list[str]


class ListFeed:
    """Records at positions (1, 0), (1, 1), ...; `after` replays from past a commit."""

    def __init__(self, records, after=None):
        self.records = records
        self.start = 0 if after is None else after[1] + 1
        self.commits = []

    async def __aiter__(self):
        for i in range(self.start, len(self.records)):
            yield (1, i), self.records[i]
        await asyncio.Event().wait()  # a live WAL never ends

    def commit(self, position):
        self.commits.append(position)


def records(n_records=20, per=5, streams=("a", "b"), group="g"):
    out, seq = [], 1
    for i in range(n_records):
        msgs = [f"{'ERROR' if (seq + j) % 3 == 0 else 'INFO'} event {seq + j}" for j in range(per)]
        out.append(Rec(group, streams[i % len(streams)], seq, 1000 + i, [i] * per, msgs))
        seq += per
    return out


def matcher(messages):
    return ["ERROR" in m for m in messages]


async def run_until(dispatcher, feed, predicate, limit_s=5.0):
    task = asyncio.create_task(dispatcher.run())
    try:
        async with asyncio.timeout(limit_s):
            while not predicate():
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await dispatcher.drain()


def make(feed, send, tmp_path, match=matcher, boundaries=None, **opts):
    options = SubscriptionOptions(batch_max_wait_ms=20, retry_base_ms=1, retry_cap_ms=5, **opts)
    return Dispatcher(
        name="sub",
        group="g",
        sink_name="test",
        feed=feed,
        matcher=match,
        boundaries=boundaries,
        send=send,
        deadletters=DeadLetterStore(tmp_path / "dlq"),
        options=options,
        clock=SystemClock(),
        rng=random.Random(3),
    )


async def test_delivers_matching_events_in_order_per_stream(tmp_path):
    recs = [*records(), Rec("other", "a", 1, 1, [1], ["ERROR not ours"])]
    feed = ListFeed(recs)
    got: list[PendingBatch] = []

    async def send(batch, attempt):
        got.append(batch)
        return Classified(Outcome.OK)

    expected = {
        s: [
            r.first_seq + i
            for r in recs[:-1]
            if r.stream == s
            for i, m in enumerate(r.messages)
            if "ERROR" in m
        ]
        for s in ("a", "b")
    }
    d = make(feed, send, tmp_path, batch_max_events=4)
    await run_until(d, feed, lambda: sum(len(b) for b in got) == sum(map(len, expected.values())))
    for stream in ("a", "b"):
        seqs = [s for b in got if b.stream == stream for s in b.seqs]
        assert seqs == expected[stream]
    assert all(len(b) <= 4 for b in got)
    assert feed.commits[-1] == (1, len(recs) - 1)
    assert feed.commits == sorted(feed.commits)


async def test_retries_pause_and_keep_the_same_batch(tmp_path):
    feed = ListFeed(records(4))
    attempts: list[tuple[list[int], int]] = []

    async def send(batch, attempt):
        attempts.append((list(batch.seqs), attempt))
        if len(attempts) < 4:
            return Classified(Outcome.RETRY, reason="503", error_class="http_503")
        return Classified(Outcome.OK)

    d = make(feed, send, tmp_path, max_in_flight=1)
    await run_until(d, feed, lambda: d.stats.delivered_events > 0)
    assert [a for _, a in attempts[:4]] == [1, 2, 3, 4]
    assert len({tuple(s) for s, _ in attempts[:4]}) == 1  # the same events every attempt
    assert d.stats.retries_by_class == {"http_503": 3}


async def test_fatal_batches_are_bisected_down_to_the_poison_event(tmp_path):
    feed = ListFeed(records(6, per=10))
    poison = 21  # seq 21 is an ERROR event (21 % 3 == 0)
    delivered: list[int] = []

    async def send(batch, attempt):
        if poison in batch.seqs:
            return Classified(Outcome.FATAL, reason="400 bad event", error_class="http_400")
        delivered.extend(batch.seqs)
        return Classified(Outcome.OK)

    d = make(feed, send, tmp_path)
    total = sum(1 for r in feed.records for m in r.messages if "ERROR" in m)
    await run_until(d, feed, lambda: len(delivered) + d.stats.dead_lettered_events == total)
    letters = list(DeadLetterStore(tmp_path / "dlq").letters("sub"))
    assert [e["id"][-2:] for letter in letters for e in letter.events] == ["21"]
    assert letters[0].reason == "400 bad event"
    assert poison not in delivered
    assert len(delivered) == total - 1


async def test_max_attempts_dead_letters_and_moves_on(tmp_path):
    feed = ListFeed(records(2, per=3))

    async def send(batch, attempt):
        return Classified(Outcome.RETRY, reason="timeout", error_class="timeout")

    d = make(feed, send, tmp_path, retry_max_attempts=3)
    total = sum(1 for r in feed.records for m in r.messages if "ERROR" in m)
    await run_until(d, feed, lambda: d.stats.dead_lettered_events == total)
    assert feed.commits[-1] == (1, 1)


async def test_cursor_never_passes_an_unacknowledged_event(tmp_path):
    feed = ListFeed(records(10))
    gate = asyncio.Event()
    sent: list[PendingBatch] = []

    async def send(batch, attempt):
        sent.append(batch)
        await gate.wait()
        return Classified(Outcome.OK)

    d = make(feed, send, tmp_path)
    task = asyncio.create_task(d.run())
    try:
        async with asyncio.timeout(5):
            while not sent:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        first = sent[0].first_position
        assert all(c < first for c in feed.commits)
        gate.set()
        async with asyncio.timeout(5):
            while d.stats.delivered_events < sum(
                "ERROR" in m for r in feed.records for m in r.messages
            ):
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_a_send_cancelled_by_shutdown_is_sent_again_by_drain(tmp_path):
    feed = ListFeed(records(3))
    started = asyncio.Event()
    sent: list[list[int]] = []

    async def send(batch, attempt):
        sent.append(list(batch.seqs))
        if len(sent) == 1:
            started.set()
            await asyncio.Event().wait()  # hangs until cancelled
        return Classified(Outcome.OK)

    d = make(feed, send, tmp_path)
    task = asyncio.create_task(d.run())
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert all(c < (1, 0) for c in feed.commits)
    await d.drain()
    assert sent[0] in sent[1:]  # the very same batch again
    assert feed.commits[-1] == (1, 2)


def every(messages):
    return [True] * len(messages)


async def test_batches_of_different_streams_fly_together_never_two_of_one_stream(tmp_path):
    recs = records(40, per=3, streams=("a", "b", "c", "d", "e"))
    feed = ListFeed(recs)
    active: set[str] = set()
    overlaps: list[str] = []
    most = 0
    full = asyncio.Event()
    got: list[PendingBatch] = []

    async def send(batch, attempt):
        nonlocal most
        if batch.stream in active:
            overlaps.append(batch.stream)
        active.add(batch.stream)
        most = max(most, len(active))
        if len(active) == 3:
            full.set()
        await full.wait()  # the first batches wait until three are in flight
        await asyncio.sleep(0)
        active.discard(batch.stream)
        got.append(batch)
        return Classified(Outcome.OK)

    d = make(feed, send, tmp_path, match=every, batch_max_events=2, max_in_flight=3)
    await run_until(d, feed, lambda: sum(len(b) for b in got) == 40 * 3)
    assert (most, overlaps) == (3, [])
    for stream in "abcde":
        seqs = [s for b in got if b.stream == stream for s in b.seqs]
        assert seqs == [r.first_seq + i for r in recs if r.stream == stream for i in range(3)]
    assert feed.commits == sorted(feed.commits)
    assert feed.commits[-1] == (1, 39)


async def test_the_cursor_waits_for_the_oldest_unacknowledged_batch_of_any_stream(tmp_path):
    recs = [Rec("g", "a", 1, 1, [1, 1], ["a 1", "a 2"])]
    recs += [Rec("g", "b", 3 + 2 * i, 1, [1, 1], [f"b {i}", f"b {i}."]) for i in range(30)]
    feed = ListFeed(recs)
    gate = asyncio.Event()
    delivered: list[int] = []

    async def send(batch, attempt):
        if batch.stream == "a":
            await gate.wait()
        delivered.extend(batch.seqs)
        return Classified(Outcome.OK)

    d = make(feed, send, tmp_path, match=every, batch_max_events=4, max_in_flight=2)
    task = asyncio.create_task(d.run())
    try:
        async with asyncio.timeout(5):
            while len(delivered) < 60:  # every b event, while a's batch is held
                await asyncio.sleep(0.01)
        assert 1 not in delivered
        assert all(c < (1, 0) for c in feed.commits)  # never past a's record
        gate.set()
        async with asyncio.timeout(5):
            while not feed.commits or feed.commits[-1] != (1, 30):
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert sorted(delivered) == list(range(1, 63))


async def test_after_a_crash_batches_are_cut_again_at_their_stored_boundaries(tmp_path):
    recs = records(12, per=3, streams=("a", "b"))
    boundaries = tmp_path / "batches"
    feed = ListFeed(recs)
    first: list[PendingBatch] = []
    hung = asyncio.Event()

    async def send(batch, attempt):
        if batch.stream == "a" and any(b.stream == "a" for b in first):
            hung.set()
            await asyncio.Event().wait()  # a's second batch is in flight at the crash
        first.append(batch)
        return Classified(Outcome.OK)

    d = make(
        feed, send, tmp_path, match=every, batch_max_events=4,
        boundaries=BatchBoundaries(boundaries, "sub:1:f", ""),
    )  # fmt: skip
    task = asyncio.create_task(d.run())
    await asyncio.wait_for(hung.wait(), 5)
    async with asyncio.timeout(5):
        while sum(len(b) for b in first if b.stream == "b") < 18:
            await asyncio.sleep(0.01)
    in_flight = [b for b in d._inflight.values() if b.stream == "a"]
    task.cancel()  # the crash: no drain
    with pytest.raises(asyncio.CancelledError):
        await task
    committed = feed.commits[-1] if feed.commits else None

    # The restart: other batching options, which alone would cut other batches.
    feed2 = ListFeed(recs, after=committed)
    second: list[PendingBatch] = []

    async def send2(batch, attempt):
        second.append(batch)
        return Classified(Outcome.OK)

    d2 = make(
        feed2, send2, tmp_path, match=every, batch_max_events=3, batch_send_when_idle=False,
        boundaries=BatchBoundaries(boundaries, "sub:1:f", ""),
    )  # fmt: skip
    await run_until(d2, feed2, lambda: bool(feed2.commits) and feed2.commits[-1] == (1, 11))
    again = next(b for b in second if b.stream == "a")
    assert (again.seqs, again.idempotency_key) == (in_flight[0].seqs, in_flight[0].idempotency_key)
    sent_before = {tuple(b.seqs): b.idempotency_key for b in first}
    for batch in second:  # a batch sent before is either skipped or the very same batch
        overlap = set(batch.seqs) & {s for b in first for s in b.seqs}
        if overlap:
            assert sent_before.get(tuple(batch.seqs)) == batch.idempotency_key
    delivered = {s for b in [*first, *second] for s in b.seqs}
    assert delivered == set(range(1, 12 * 3 + 1))
