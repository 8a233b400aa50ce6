"""The agent's `emit` inside the daemon: events and checkpoint into the store, one record.

`StoreSink.emit(group, stream, events, checkpoint)` is `Store.append` with the checkpoint
in the same log record as the events, so a recovered log always holds a checkpoint that
matches the events stored (docs/tail.md). Around it:

- **Groups and streams** are created on first use, once per name even when several
  workers emit to a new stream at the same moment (one creation task per name, awaited
  by all); one that already exists (made by the API, another process, or a race) is
  fine. A group created here gets its entry's `retention_in_days`. A group or stream
  deleted while the agent runs is created again on the next emit.
- **Zero-event emits** (a tail or ignore_older start, dropped bytes, a tombstone,
  possibly for the stream `logd-agent` of a key with no file) are
  `Store.append_checkpoint`: recorded, ordered with the appends, creating nothing.
- **Rejected events**: the store drops events outside its acceptance window (too old,
  expired by the group's retention, too new) and still records the checkpoint; they
  are counted in `rejected_events_total`. A batch the store refuses whole
  (`InvalidParameterException`, e.g. a negative timestamp kept by `out_of_window =
  "keep"`) is counted in `rejected_batches_total`, logged once per stream, and its
  checkpoint is recorded without it, so a bad batch never stalls its file.
- **Backpressure**: `emit` returns only once the record is durable; a store that is
  slow or full (the log's bound with `on_full = "block"`) makes `emit` wait, and the
  worker that called it stops reading. Any other failure (I/O errors, a full disk, a
  name the catalog refuses) is logged and retried with `logd.backoff`
  (`store_retries_total`), so the file pauses instead of the agent stopping; nothing
  is acknowledged that was not stored.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping

from logd.backoff import Backoff
from logd.clock import Clock
from logd.errors import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from logd.model import InputEvents
from logd.store.store import Store
from logd.tail.agent import TailAgent
from logd.tail.options import AgentOptions
from logd.telemetry.metrics import TAIL_LOST_BYTES, DaemonMetrics

log = logging.getLogger("logd.tail.store_sink")


class StoreSink:
    """Adapts `TailAgent`'s emit to `Store.append` (see the module docstring)."""

    def __init__(self, store: Store, *, retention: Mapping[str, int] | None = None) -> None:
        self.store = store
        self.retention = dict(retention or {})
        """Group name -> retention_in_days for groups this sink creates."""
        self.metrics: dict[str, int] = {}
        self._ready: set[tuple[str, str]] = set()
        self._creating: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._warned: set[tuple[str, str]] = set()
        self._backoff = Backoff(base_s=0.1, cap_s=5.0)
        self._rng = random.Random()  # noqa: S311 -- jitter for backoff, not cryptography

    def _bump(self, name: str, n: int = 1) -> None:
        if n:
            self.metrics[name] = self.metrics.get(name, 0) + n

    async def emit(
        self, group: str, stream: str, events: InputEvents, checkpoint: tuple[str, bytes]
    ) -> None:
        attempt = 0
        while True:
            try:
                await self._emit_once(group, stream, events, checkpoint)
                return
            except Exception as exc:  # I/O, disk full, a name the catalog refuses: retried
                attempt += 1
                self._bump("store_retries_total")
                if attempt == 1 or attempt % 50 == 0:
                    log.warning(
                        "Storing tailed events failed; the file waits and retries",
                        extra={"group": group, "stream": stream, "error": repr(exc)},
                        exc_info=attempt == 1,
                    )
                await asyncio.sleep(self._backoff.delay(attempt, None, rng=self._rng))

    async def _emit_once(
        self, group: str, stream: str, events: InputEvents, checkpoint: tuple[str, bytes]
    ) -> None:
        if not len(events):
            await self.store.append_checkpoint(*checkpoint)
            return
        key = (group, stream)
        for recreate in (False, True):
            if key not in self._ready or recreate:
                await self._ensure(group, stream)
            try:
                result = await self.store.append(group, stream, events, checkpoint=checkpoint)
            except ResourceNotFoundException:
                self._ready.discard(key)  # deleted meanwhile: create it again, once
                if recreate:
                    raise
                continue
            except InvalidParameterException as exc:
                self._rejected_batch(key, len(events), exc)
                await self.store.append_checkpoint(*checkpoint)
                return
            self._bump("stored_events_total", result.accepted)
            self._bump("rejected_events_total", len(events) - result.accepted)
            return

    def _rejected_batch(self, key: tuple[str, str], n: int, exc: Exception) -> None:
        self._bump("rejected_batches_total")
        self._bump("rejected_events_total", n)
        if key not in self._warned:
            self._warned.add(key)
            log.error(
                "The store refused a batch of tailed events; they are dropped (counted)",
                extra={"group": key[0], "stream": key[1], "events": n, "error": str(exc)},
            )

    async def _ensure(self, group: str, stream: str) -> None:
        """Create the group and stream once, however many emits ask at the same time."""
        key = (group, stream)
        task = self._creating.get(key)
        if task is None:
            task = asyncio.create_task(self._create(group, stream))
            self._creating[key] = task
        try:
            await asyncio.shield(task)
        finally:
            if task.done():
                self._creating.pop(key, None)
        self._ready.add(key)

    async def _create(self, group: str, stream: str) -> None:
        catalog = self.store.catalog
        now = self.store.clock.now_ms()
        if catalog.get_group(group) is None:
            try:
                await asyncio.to_thread(
                    catalog.create_group,
                    group,
                    now_ms=now,
                    retention_days=self.retention.get(group) or None,
                )
                self._bump("groups_created_total")
            except ResourceAlreadyExistsException:
                pass
        g = catalog.require_group(group)
        if not catalog.stream_exists(g.id, stream):
            try:
                await asyncio.to_thread(catalog.create_stream, group, stream, now_ms=now)
                self._bump("streams_created_total")
            except ResourceAlreadyExistsException:
                pass


def tail_into_store(
    store: Store, options: AgentOptions, clock: Clock
) -> tuple[TailAgent, StoreSink]:
    """The agent of the daemon: `options`' files into `store`, resuming from the
    checkpoints the store recovered. Run it after the store opened, cancel it before
    the store closes."""
    sink = StoreSink(store)
    agent = TailAgent(options, sink.emit, store.checkpoints(), clock)
    sink.retention = {
        e.group: e.options.retention_in_days for e in agent.entries if e.options.retention_in_days
    }
    return agent, sink


def bind_metrics(metrics: DaemonMetrics, agent: TailAgent, sink: StoreSink) -> None:
    """Export the agent's and the sink's counters and the agent's gauges on /metrics
    (`logd_tail_*`, declared in logd/telemetry/metrics.py), read at each scrape."""

    def collect() -> None:
        for source in (agent.metrics, sink.metrics):
            for name, value in source.items():
                counter = metrics.tail_counters.get(name)
                if counter is not None and value > counter.value():
                    counter.inc(value - counter.value())
        for name, value in agent.gauges().items():
            gauge = metrics.tail_gauges.get(name)
            if gauge is not None:
                gauge.set(value)
        lost = metrics.tail_lost_bytes
        for reason, name in TAIL_LOST_BYTES.items():  # both series, even at 0, for alerts
            lost.inc(max(0, agent.metrics.get(name, 0) - lost.value(reason=reason)), reason=reason)

    metrics.registry.on_collect(collect)
