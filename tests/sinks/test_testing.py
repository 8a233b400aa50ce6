"""The test kit itself: RecordingSink under the contract, scripted failures, make_batch."""

import asyncio

import pytest

from sinks import FatalError, PayloadTooLargeError, RetryableError
from sinks.testing import RecordingOptions, RecordingSink, SinkContract, decode_payload, make_batch


class TestRecordingSinkContract(SinkContract):
    @pytest.fixture
    def sink(self):
        return RecordingSink()

    @pytest.fixture
    def delivered(self, sink):
        return lambda: sink.events

    @pytest.fixture
    def broken_sink(self):
        broken = RecordingSink()
        broken.fail_next(RetryableError("down", retry_after=1.0))
        return broken


async def test_scripted_outcomes_in_order():
    sink = RecordingSink()
    sink.fail_next(RetryableError("busy", retry_after=2), None, FatalError("bad"))
    await sink.start()
    with pytest.raises(RetryableError):
        await sink.send(make_batch(1, first_seq=1))
    await sink.send(make_batch(1, first_seq=2))
    with pytest.raises(FatalError):
        await sink.send(make_batch(1, first_seq=3))
    await sink.send(make_batch(1, first_seq=4))
    await sink.close()
    assert [eid[-1] for eid, _ in sink.events] == ["2", "4"]
    assert sink.calls == ["start", "send", "send", "send", "send", "close"]
    assert sink.violations == []


async def test_hang_until_cancelled():
    sink = RecordingSink()
    sink.fail_next(float("inf"))
    await sink.start()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sink.send(make_batch(1)), 0.05)
    assert sink.batches == []
    await sink.close()


async def test_poison_and_size_limits():
    sink = RecordingSink(RecordingOptions(poison_marker="BAD", max_events=2))
    await sink.start()
    with pytest.raises(FatalError, match="poison"):
        await sink.send(make_batch(2, message=lambda s: "BAD" if s == 2 else "ok"))
    with pytest.raises(PayloadTooLargeError):
        await sink.send(make_batch(3))
    await sink.send(make_batch(2))
    await sink.close()
    assert len(sink.events) == 2


async def test_violations_are_recorded():
    sink = RecordingSink()
    await sink.send(make_batch(1))
    await sink.start()
    sink.fail_next(0.05)
    await asyncio.gather(sink.send(make_batch(1)), sink.send(make_batch(1)))
    await sink.close()
    await sink.send(make_batch(1))
    assert sink.violations == ["send while new", "concurrent send", "send while closed"]


def test_make_batch_and_decode_payload():
    batch = make_batch(3, first_seq=10, stream="s")
    assert batch.ids[0] == "0" * 54 + "10"
    assert list(batch.timestamps) == [batch.timestamps[0] + i for i in range(3)]
    assert decode_payload(batch.to_cloudwatch_payload())["logStream"] == "s"
