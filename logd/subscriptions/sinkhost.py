"""One started sink per configured destination, shared by its subscriptions.

The host is where a sink meets logd: it serialises `send` (the contract says never
concurrently on one instance) unless the sink declares `concurrent_sends` (then the
dispatchers' `max_in_flight` bounds it, and a stream never has two batches in flight),
bounds every call with a timeout, turns the sink's
outcome into a `Classified` for the dispatcher, and keeps a misbehaving plugin (one that
raises anything, hangs or never starts) from hurting anyone but its own subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from logd.model import event_id
from logd.subscriptions.delivery import Classified, Outcome, PendingBatch
from sinks import AuthorizationError, Batch, FatalError, RetryableError, Sink
from sinks.batch import Distribution

log = logging.getLogger("logd.subscriptions")

#: How long an authorisation failure pauses a subscription (CloudWatch's PAUSED_AUTH).
AUTH_PAUSE_S = 600.0


class SinkHost:
    def __init__(
        self,
        name: str,
        sink: Sink[Any],
        *,
        owner: str,
        rendering_type: str,
        send_timeout_s: float,
        start_retry_s: float = 5.0,
    ) -> None:
        self.name = name
        self.sink = sink
        self.owner = owner
        self.type = rendering_type
        self._timeout = send_timeout_s
        self._start_retry_s = start_retry_s
        self.concurrent = bool(getattr(sink, "concurrent_sends", False))
        self._lock = asyncio.Lock()  # one send at a time, unless concurrent
        self._start_lock = asyncio.Lock()
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._started = False
        self._closed = False

    async def _ensure_started(self) -> Classified | None:
        if self._started:
            return None
        async with self._start_lock:
            if self._started:
                return None
            return await self._start()

    async def _start(self) -> Classified | None:
        try:
            async with asyncio.timeout(self._timeout):
                await self.sink.start()
        except Exception as exc:  # a plugin may raise anything; it must not kill us
            return Classified(
                Outcome.RETRY,
                reason=f"start failed: {_describe(exc)}",
                error_class="start",
                retry_after=self._start_retry_s,
            )
        self._started = True
        return None

    def to_batch(
        self,
        pending: PendingBatch,
        attempt: int,
        filter_name: str,
        distribution: Distribution = "ByLogStream",
        system_fields: tuple[tuple[str, str], ...] = (),
    ) -> Batch:
        return Batch(
            owner=self.owner,
            group=pending.group,
            stream=pending.stream,
            subscription_filters=(filter_name,),
            subscription=pending.subscription,
            ids=[event_id(s) for s in pending.seqs],
            timestamps=pending.timestamps,
            messages=pending.messages,
            ingestion_times=pending.ingestion_times,
            attempt=attempt,
            distribution=distribution,
            system_fields=system_fields,
        )

    async def send(self, batch: Batch) -> Classified:
        """One attempt; never raises except CancelledError."""
        if not self.concurrent:
            async with self._lock:
                return await self._attempt(batch)
        self._active += 1
        self._idle.clear()
        try:
            return await self._attempt(batch)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _attempt(self, batch: Batch) -> Classified:
        if self._closed:
            return Classified(Outcome.RETRY, reason="sink closed", error_class="closed")
        failed_start = await self._ensure_started()
        if failed_start is not None:
            return failed_start
        try:
            async with asyncio.timeout(self._timeout):
                await self.sink.send(batch)
        except TimeoutError:
            return Classified(
                Outcome.RETRY,
                reason=f"send timed out after {self._timeout}s",
                error_class="timeout",
            )
        except AuthorizationError as exc:
            return Classified(
                Outcome.RETRY,
                reason=str(exc),
                error_class="authorization",
                retry_after=exc.retry_after,
                pause_s=AUTH_PAUSE_S,
            )
        except RetryableError as exc:
            return Classified(
                Outcome.RETRY,
                reason=str(exc),
                error_class=type(exc).__name__,
                retry_after=exc.retry_after,
            )
        except FatalError as exc:
            return Classified(Outcome.FATAL, reason=str(exc), error_class=type(exc).__name__)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return Classified(Outcome.RETRY, reason=_describe(exc), error_class="unclassified")
        return Classified(Outcome.OK)

    async def close(self) -> None:
        async with self._lock:
            if self._closed:
                return
            self._closed = True
        await self._idle.wait()  # concurrent sends still running (each has its timeout)
        try:
            async with asyncio.timeout(self._timeout):
                await self.sink.close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("sink close failed", extra={"sink": self.name, "error": _describe(exc)})


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
