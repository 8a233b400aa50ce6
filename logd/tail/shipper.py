"""`logd agent`: the same tailer, shipping over PutLogEvents to a remote logd or CloudWatch.

Delivery is at-least-once: PutLogEvents has no idempotency token, so a lost response to
a request that succeeded is sent again. Each emit (already cut by the tailer to the
API's limits: 1 MiB with 26 bytes per event, 10,000 events, sorted, a 24 h span) is one
signed request (SigV4, botocore's signer). Throttling, 5xx and network errors are
retried with `logd.backoff`; `ResourceNotFoundException` creates the group and stream
once and retries; any other 4xx is a rejected batch: counted, never retried forever.
`rejectedLogEventsInfo` is counted. The checkpoint of an emit is recorded only after its
2xx and saved to `state_file` (temp file, fsync, rename, fsync of the directory) at most
every second and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
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
from logd.model import InputEvents
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


class Shipper:
    """The `emit` of `logd agent`: one PutLogEvents per emit, then the checkpoint."""

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

    def _bump(self, name: str, n: int = 1) -> None:
        self.metrics[name] = self.metrics.get(name, 0) + n

    async def emit(
        self, group: str, stream: str, events: InputEvents, checkpoint: tuple[str, bytes]
    ) -> None:
        if len(events):
            order = sorted(range(len(events)), key=events.timestamps.__getitem__)
            body = {
                "logGroupName": group,
                "logStreamName": stream,
                "logEvents": [
                    {"timestamp": events.timestamps[i], "message": events.messages[i]}
                    for i in order
                ],
            }
            reply = await self._call("PutLogEvents", body, create=(group, stream))
            rejected = reply.get("rejectedLogEventsInfo") if reply else None
            if rejected:
                self._bump("ship_rejected_info_total")
            self._bump("ship_events_total", len(events))
        key, value = checkpoint
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
) -> None:
    """Run `logd agent` until cancelled: tail the configured files and ship them."""
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
        waiter: asyncio.Task[Any] | None = None
        if ready is not None:
            waiter = asyncio.create_task(agent.first_scan_done.wait())
            waiter.add_done_callback(lambda _: ready.set())
        try:
            await agent.run()
        finally:
            if waiter is not None:
                waiter.cancel()
            with contextlib.suppress(Exception):
                await shipper.save()
