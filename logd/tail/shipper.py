"""`logd agent`: the same tailer, shipping over PutLogEvents to a remote logd or CloudWatch.

Delivery is at-least-once: PutLogEvents has no idempotency token, so a lost response to
a request that succeeded is sent again.

Batching: emits (each already within the API's limits) are gathered per (group, stream)
into one request until the next emit would pass a limit (1 MiB counting 26 bytes per
event, 10,000 events, a 24 h span), or `batch_wait_ms` after the batch's first event.
`emit` returns once its events are in a batch; a full batch is sent before the emit
that did not fit returns (so a slow endpoint slows the tailer: memory stays at one batch
per stream). Batches of one stream are sent one at a time, in emit order; events are
sorted by timestamp inside a request (stable: file order among equal timestamps).

Each request is signed (SigV4, botocore's signer). Throttling, 5xx and network errors
are retried with `logd.backoff`; `ResourceNotFoundException` creates the group and
stream once and retries; any other 4xx is a rejected batch: counted, never retried
forever. `rejectedLogEventsInfo` is counted. The checkpoints of a batch's emits are
recorded only after its 2xx (a checkpoint with no events waits for the batch holding its
file's earlier events) and saved to `state_file` (temp file, fsync, rename, fsync of the
directory) at most every second and at shutdown. Events still in a batch when the agent
stops unexpectedly were never acknowledged: their checkpoints were not saved, so the
next run reads them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.session import Session

from logd.backoff import Backoff
from logd.clock import Clock, SystemClock
from logd.model import (
    DAY_MS,
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    InputEvents,
)
from logd.tail.agent import TailAgent
from logd.tail.options import AgentOptions

log = logging.getLogger("logd.tail.shipper")
_RETRYABLE_TYPES = {"ThrottlingException", "ServiceUnavailableException", "InternalFailure"}


class ShipError(Exception):
    """A request failed for good (retries exhausted)."""


def load_state(path: Path) -> dict[str, bytes]:
    """Checkpoints saved by a previous run; a corrupt file is quarantined, not fatal."""
    try:
        raw = orjson.loads(path.read_bytes())
        return {str(k): bytes.fromhex(v) for k, v in raw["checkpoints"].items()}
    except FileNotFoundError:
        return {}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        quarantine = path.with_name(path.name + ".corrupt")
        os.replace(path, quarantine)
        log.error("Agent state file is corrupt; moved aside", extra={"path": str(quarantine)})
        return {}


def save_state(path: Path, checkpoints: dict[str, bytes]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    data = orjson.dumps({"v": 1, "checkpoints": {k: v.hex() for k, v in checkpoints.items()}})
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class _Batch:
    """Events gathered for one PutLogEvents, and the checkpoints they settle."""

    __slots__ = ("bytes", "checkpoints", "due", "group", "hi", "lo", "messages", "stream", "ts")

    def __init__(self, group: str, stream: str, due: float) -> None:
        self.group, self.stream, self.due = group, stream, due
        self.ts: list[int] = []
        self.messages: list[str] = []
        self.bytes = 0
        self.lo, self.hi = 2**63, -(2**63)
        self.checkpoints: dict[str, bytes] = {}

    def fits(self, events: InputEvents, nbytes: int) -> bool:
        if not self.ts:
            return True
        lo = min(self.lo, min(events.timestamps))
        hi = max(self.hi, max(events.timestamps))
        return (
            len(self.ts) + len(events) <= MAX_BATCH_EVENTS
            and self.bytes + nbytes <= MAX_BATCH_BYTES
            and hi - lo <= DAY_MS
        )

    def add(self, events: InputEvents, nbytes: int) -> None:
        self.ts += events.timestamps
        self.messages += events.messages
        self.bytes += nbytes
        self.lo = min(self.lo, min(events.timestamps))
        self.hi = max(self.hi, max(events.timestamps))


def _batch_bytes(events: InputEvents) -> int:
    text = "".join(events.messages)
    size = len(text) if text.isascii() else len(text.encode())
    return size + EVENT_OVERHEAD_BYTES * len(events)


class Shipper:
    """The `emit` of `logd agent`: emits gathered into PutLogEvents batches per stream,
    checkpoints recorded once their batch is acknowledged. `run()` sends the batches
    whose wait is over; run it beside the agent (`run_agent` does)."""

    def __init__(
        self,
        options: AgentOptions,
        session: aiohttp.ClientSession,
        credentials: Credentials,
        clock: Clock,
        checkpoints: dict[str, bytes],
    ) -> None:
        self.options = options
        self.url = options.endpoint_url or f"https://logs.{options.region}.amazonaws.com"
        self._session = session
        self._signer = SigV4Auth(credentials, "logs", options.region)
        self._clock = clock
        self._rng = random.Random()  # noqa: S311 -- jitter for backoff, not cryptography
        self._backoff = Backoff(base_s=0.2, cap_s=60.0)
        self.checkpoints = checkpoints
        self.metrics: dict[str, int] = {}
        self._created: set[tuple[str, str]] = set()
        self._dirty = False
        self._saved_at = 0.0
        self._wait_s = options.batch_wait_ms / 1000
        self._pending: dict[tuple[str, str], _Batch] = {}
        """The batch being filled, per (group, stream)."""
        self._holding: dict[str, _Batch] = {}
        """Per checkpoint key: the latest batch (filling or in flight) with its events."""
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._filled = asyncio.Event()

    def _bump(self, name: str, n: int = 1) -> None:
        self.metrics[name] = self.metrics.get(name, 0) + n

    async def emit(
        self, group: str, stream: str, events: InputEvents, checkpoint: tuple[str, bytes]
    ) -> None:
        key, value = checkpoint
        if not len(events):
            holder = self._holding.get(key)
            if holder is not None:  # after the file's earlier events, never before them
                holder.checkpoints[key] = value
            else:
                await self._record({key: value})
            return
        where = (group, stream)
        nbytes = _batch_bytes(events)
        batch = self._pending.get(where)
        while batch is not None and not batch.fits(events, nbytes):
            await self._send_batch(where, batch)
            batch = self._pending.get(where)  # another file's emit may have started one
        if batch is None:
            batch = self._pending[where] = _Batch(
                group, stream, self._clock.monotonic() + self._wait_s
            )
            self._filled.set()
        batch.add(events, nbytes)
        batch.checkpoints[key] = value
        self._holding[key] = batch
        if len(batch.ts) >= MAX_BATCH_EVENTS or batch.bytes >= MAX_BATCH_BYTES - 26 * 1024:
            await self._send_batch(where, batch)  # full: send now (bounds memory)

    async def run(self) -> None:
        """Send each batch once its wait is over; raises if a batch fails for good."""
        while True:
            now = self._clock.monotonic()
            due = [(w, b) for w, b in self._pending.items() if b.due <= now]
            for where, batch in due:
                await self._send_batch(where, batch)
            nxt = min((b.due for b in self._pending.values()), default=None)
            self._filled.clear()
            if nxt is None:
                await self._filled.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._filled.wait(), max(nxt - now, 0.001))

    async def flush(self) -> None:
        """Send every batch now (shutdown)."""
        for where, batch in list(self._pending.items()):
            await self._send_batch(where, batch)

    async def _send_batch(self, where: tuple[str, str], batch: _Batch) -> None:
        lock = self._locks.setdefault(where, asyncio.Lock())
        async with lock:  # one request per stream at a time: batches go in emit order
            if self._pending.get(where) is batch:
                del self._pending[where]
            if not batch.ts:
                return  # sent meanwhile by the emit or the timer that held the lock
            order = sorted(range(len(batch.ts)), key=batch.ts.__getitem__)
            body = {
                "logGroupName": batch.group,
                "logStreamName": batch.stream,
                "logEvents": [
                    {"timestamp": batch.ts[i], "message": batch.messages[i]} for i in order
                ],
            }
            n = len(batch.ts)
            batch.ts, batch.messages = [], []  # sent (or being sent): never twice
            reply = await self._call("PutLogEvents", body, create=where)
            rejected = reply.get("rejectedLogEventsInfo") if reply else None
            if rejected:
                self._bump("ship_rejected_info_total")
            self._bump("ship_events_total", n)
            self._bump("ship_requests_total")
            for key in batch.checkpoints:
                if self._holding.get(key) is batch:
                    del self._holding[key]
            await self._record(batch.checkpoints)

    async def _record(self, checkpoints: dict[str, bytes]) -> None:
        for key, value in checkpoints.items():
            if value:
                self.checkpoints[key] = value
            else:
                self.checkpoints.pop(key, None)
        self._dirty = True
        if self._clock.monotonic() - self._saved_at >= 1.0:
            await self.save()

    async def save(self) -> None:
        if self._dirty:
            self._dirty = False
            self._saved_at = self._clock.monotonic()
            await asyncio.to_thread(
                save_state, Path(self.options.state_file), dict(self.checkpoints)
            )

    async def _call(
        self, operation: str, body: dict[str, Any], *, create: tuple[str, str] | None = None
    ) -> dict[str, Any] | None:
        data = orjson.dumps(body)
        attempt = 0
        while True:
            attempt += 1
            status, reply, retry_after = await self._send(operation, data)
            if 200 <= status < 300:
                return reply
            kind = str(reply.get("__type", "")).rpartition("#")[2] if reply else ""
            if kind == "ResourceNotFoundException" and create and create not in self._created:
                await self._create(*create)
                continue
            if status >= 400 and status < 500 and status != 429 and kind not in _RETRYABLE_TYPES:
                self._bump("ship_rejected_batches_total")
                log.error(
                    "PutLogEvents rejected a batch",
                    extra={"status": status, "type": kind, "message": (reply or {}).get("message")},
                )
                return None
            self._bump("ship_retries_total")
            if self.options.max_retries and attempt > self.options.max_retries:
                raise ShipError(f"{operation} failed after {attempt} attempts: {status} {kind}")
            await asyncio.sleep(self._backoff.delay(attempt, retry_after, rng=self._rng))

    async def _create(self, group: str, stream: str) -> None:
        for op, body in (
            ("CreateLogGroup", {"logGroupName": group}),
            ("CreateLogStream", {"logGroupName": group, "logStreamName": stream}),
        ):
            status, reply, _ = await self._send(op, orjson.dumps(body))
            kind = str((reply or {}).get("__type", "")).rpartition("#")[2]
            if status >= 300 and kind != "ResourceAlreadyExistsException":
                log.warning("Could not create", extra={"operation": op, "type": kind})
        self._created.add((group, stream))

    async def _send(self, operation: str, data: bytes) -> tuple[int, dict[str, Any], float | None]:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"Logs_20140328.{operation}",
        }
        request = AWSRequest(method="POST", url=self.url, data=data, headers=headers)
        self._signer.add_auth(request)
        try:
            async with self._session.post(
                self.url, data=data, headers=dict(request.headers.items())
            ) as resp:
                text = await resp.read()
                retry_after = resp.headers.get("Retry-After")
                try:
                    reply = orjson.loads(text) if text else {}
                except orjson.JSONDecodeError:
                    reply = {}
                after = float(retry_after) if retry_after and retry_after.isdigit() else None
                return resp.status, reply if isinstance(reply, dict) else {}, after
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("PutLogEvents transport error", extra={"error": str(exc)})
            return 599, {}, None


async def run_agent(
    options: AgentOptions,
    *,
    clock: Clock | None = None,
    credentials: Credentials | None = None,
    ready: asyncio.Event | None = None,
    started: Callable[[TailAgent, Shipper], None] | None = None,
) -> None:
    """Run `logd agent` until cancelled: tail the configured files and ship them.
    `started(agent, shipper)` is called once both exist (tests read their metrics)."""
    clock = clock or SystemClock()
    if credentials is None:
        found = Session().get_credentials()
        if found is None:
            raise ShipError("no AWS credentials found (environment, profile or instance role)")
        credentials = found
    checkpoints = await asyncio.to_thread(load_state, Path(options.state_file))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        shipper = Shipper(options, session, credentials, clock, checkpoints)
        agent = TailAgent(options, shipper.emit, dict(checkpoints), clock)
        if started is not None:
            started(agent, shipper)
        waiter: asyncio.Task[Any] | None = None
        if ready is not None:
            waiter = asyncio.create_task(agent.first_scan_done.wait())
            waiter.add_done_callback(lambda _: ready.set())
        try:
            async with asyncio.TaskGroup() as tasks:  # a batch failing for good stops all
                tasks.create_task(agent.run())
                tasks.create_task(shipper.run())
        finally:
            if waiter is not None:
                waiter.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(shipper.flush()), 5)
            with contextlib.suppress(Exception):
                await shipper.save()
