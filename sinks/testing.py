"""The sink test kit: `make_batch()`, `RecordingSink` and the `SinkContract` mixin.

For plugin authors and for logd's own tests (needs pytest and pytest-asyncio)::

    from sinks.testing import SinkContract

    class TestMySink(SinkContract):
        @pytest.fixture
        def sink(self, tmp_path): ...          # a fresh, unstarted sink
        @pytest.fixture
        def delivered(self, ...): ...          # () -> [(event id, message)] received
        @pytest.fixture
        def broken_sink(self, ...): ...        # an unstarted sink whose destination refuses

`RecordingSink` keeps what it is sent in memory and fails on command; logd's dispatcher
tests drive it. It also records contract violations (send before start or after close,
overlapping sends) in `violations`.
"""

# ruff: noqa: S101 (a test kit: its checks are pytest assertions)
from __future__ import annotations

import asyncio
import gc
import gzip
import inspect
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from sinks.base import (
    SINK_API_VERSION,
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    Sink,
    SinkContext,
    SinkError,
    SinkOptions,
    SinkOptionsError,
)
from sinks.batch import Batch

#: 2024-05-01T10:00:00Z, the reference's example timestamp.
BASE_MS = 1_714_557_600_000


def make_batch(
    n: int = 3,
    *,
    first_seq: int = 1,
    group: str = "/logd/test",
    stream: str = "stream-1",
    owner: str = "123456789012",
    filter_name: str = "test-filter",
    start_ms: int = BASE_MS,
    message: Callable[[int], str] | None = None,
    **fields: Any,
) -> Batch:
    """A batch of `n` events with sequence numbers `first_seq`, `first_seq + 1`, …

    Ids are logd's 56-digit event ids; timestamps 1 ms apart from `start_ms`; message
    `i` is `message(seq)` or a small JSON log line. Extra `fields` go to `Batch`.
    """
    seqs = range(first_seq, first_seq + n)
    render = message or (lambda seq: f'{{"level":"INFO","msg":"event {seq}","seq":{seq}}}')
    timestamps = [start_ms + seq for seq in seqs]
    return Batch(
        owner=owner,
        group=group,
        stream=stream,
        subscription_filters=(filter_name,),
        ids=[f"{seq:056d}" for seq in seqs],
        timestamps=timestamps,
        messages=[render(seq) for seq in seqs],
        ingestion_times=[t + 7 for t in timestamps],
        **fields,
    )


def decode_payload(data: bytes) -> dict[str, Any]:
    """A CloudWatch payload (gzip JSON) back to its envelope."""
    envelope: dict[str, Any] = orjson.loads(gzip.decompress(data))
    return envelope


# -- RecordingSink ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingOptions(SinkOptions):
    """Options of the in-memory test sink."""

    poison_marker: str | None = None
    """A batch with a message containing this text is refused with FatalError."""
    max_events: int = 0
    """A batch with more events is refused with PayloadTooLargeError; 0 = no limit."""


class RecordingSink(Sink[RecordingOptions]):
    """Keeps every delivered batch in memory; scripted failures, delays and hangs."""

    options_class = RecordingOptions

    def __init__(
        self, options: RecordingOptions | None = None, context: SinkContext | None = None
    ) -> None:
        super().__init__(
            options or RecordingOptions(), context or SinkContext.create("recording", "test")
        )
        self.batches: list[Batch] = []
        self.calls: list[str] = []
        self.violations: list[str] = []
        self._script: deque[BaseException | float | None] = deque()
        self._state = "new"
        self._sending = False

    def fail_next(self, *outcomes: BaseException | float | None) -> None:
        """Script the next sends: an exception is raised, a number is a delay in
        seconds before delivering (`float("inf")` hangs until cancelled), None delivers."""
        self._script.extend(outcomes)

    async def start(self) -> None:
        self.calls.append("start")
        if self._state == "closed":
            self.violations.append("start after close")
        self._state = "started"

    async def send(self, batch: Batch) -> None:
        self.calls.append("send")
        if self._state != "started":
            self.violations.append(f"send while {self._state}")
        if self._sending:
            self.violations.append("concurrent send")
        self._sending = True
        try:
            await self._send(batch)
        finally:
            self._sending = False

    async def _send(self, batch: Batch) -> None:
        outcome = self._script.popleft() if self._script else None
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is not None:
            if outcome == float("inf"):
                await asyncio.Event().wait()
            await asyncio.sleep(outcome)
        marker = self.options.poison_marker
        if marker is not None:
            for eid, message in zip(batch.ids, batch.messages, strict=True):
                if marker in message:
                    raise FatalError(f"event {eid} is poison ({marker!r})")
        limit = self.options.max_events
        if limit and len(batch) > limit:
            raise PayloadTooLargeError(
                f"{len(batch)} events, over {limit}", size=len(batch), limit=limit
            )
        self.batches.append(batch)

    async def close(self) -> None:
        self.calls.append("close")
        self._state = "closed"

    @property
    def events(self) -> list[tuple[str, str]]:
        """(event id, message) of every delivered event, in delivery order."""
        return [
            (eid, message)
            for batch in self.batches
            for eid, message in zip(batch.ids, batch.messages, strict=True)
        ]


# -- SinkContract -----------------------------------------------------------------------

Delivered = Callable[[], "list[tuple[str, str]] | Awaitable[list[tuple[str, str]]]"]


async def _received(delivered: Delivered) -> list[tuple[str, str]]:
    result = delivered()
    if inspect.isawaitable(result):
        return list(await result)
    return list(result)


def _expected(*batches: Batch) -> list[tuple[str, str]]:
    return [
        (eid, message)
        for batch in batches
        for eid, message in zip(batch.ids, batch.messages, strict=True)
    ]


def _fresh(sink: Sink[Any]) -> Sink[Any]:
    return type(sink)(sink.options, sink.context)


class SinkContract:
    """Mix into a test class that provides the `sink`, `delivered` and `broken_sink`
    fixtures (see the module docstring). Each test gets fresh fixtures."""

    #: Events per batch the contract sends.
    contract_batch_size = 4

    def _batches(self, count: int) -> list[Batch]:
        n = self.contract_batch_size
        return [
            make_batch(n, first_seq=1 + i * n, message=lambda s: f"contract event {s} ✓")
            for i in range(count)
        ]

    def test_contract_class(self, sink: Sink[Any]) -> None:
        cls = type(sink)
        assert issubclass(cls, Sink)
        assert not inspect.isabstract(cls)
        assert cls.api_version == SINK_API_VERSION
        assert issubclass(cls.options_class, SinkOptions)
        assert isinstance(sink.options, cls.options_class)
        with pytest.raises(SinkOptionsError, match="allowed keys"):
            cls.options_class.from_dict({"no_such_key_in_any_sink": 1})

    @pytest.mark.asyncio
    async def test_contract_lifecycle(self, sink: Sink[Any], delivered: Delivered) -> None:
        await _fresh(sink).close()  # close without start is allowed
        (batch,) = self._batches(1)
        await sink.start()
        await sink.send(batch)
        await sink.close()
        await sink.close()  # idempotent
        assert await _received(delivered) == _expected(batch)

    @pytest.mark.asyncio
    async def test_contract_order_and_integrity(
        self, sink: Sink[Any], delivered: Delivered
    ) -> None:
        batches = self._batches(3)
        before = [(list(b.ids), list(b.messages), b.id) for b in batches]
        async with sink:
            for batch in batches:
                await sink.send(batch)
        assert await _received(delivered) == _expected(*batches)
        assert [(list(b.ids), list(b.messages), b.id) for b in batches] == before

    @pytest.mark.asyncio
    async def test_contract_redelivery(self, sink: Sink[Any], delivered: Delivered) -> None:
        first, second = self._batches(2)
        again = make_batch(
            len(first), first_seq=1, message=lambda s: f"contract event {s} ✓", attempt=2
        )
        assert again.id == first.id
        async with sink:
            await sink.send(first)
            await sink.send(again)  # a redelivery must be accepted
            await sink.send(second)
        got = await _received(delivered)
        wanted = _expected(first, second)
        assert set(got) == set(wanted)
        assert list(dict.fromkeys(got)) == wanted  # first arrivals keep the order

    @staticmethod
    async def _start_and_send(sink: Sink[Any], batch: Batch) -> None:
        await sink.start()  # may refuse already, or only at send
        await sink.send(batch)

    @pytest.mark.asyncio
    async def test_contract_error_classification(self, broken_sink: Sink[Any]) -> None:
        (batch,) = self._batches(1)
        try:
            with pytest.raises(SinkError) as info:
                await self._start_and_send(broken_sink, batch)
            assert isinstance(info.value, RetryableError | FatalError), info.value
        finally:
            await broken_sink.close()

    @pytest.mark.asyncio
    async def test_contract_leaves_nothing_behind(self, sink: Sink[Any]) -> None:
        before = asyncio.all_tasks()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fresh = _fresh(sink)
            async with fresh:
                for batch in self._batches(2):
                    await fresh.send(batch)
            del fresh
            for _ in range(3):
                await asyncio.sleep(0)
            gc.collect()
        leftover = [t for t in asyncio.all_tasks() - before if not t.done()]
        assert leftover == [], f"tasks left running after close(): {leftover}"
        resource = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
        assert resource == [], f"ResourceWarning after close(): {resource}"
