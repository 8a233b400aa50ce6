"""A real store on a temp dir with a subscription service over real sinks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson

from logd.clock import SystemClock
from logd.model import InputEvents, Scope
from logd.store.options import StoreOptions
from logd.store.store import Store
from logd.subscriptions.options import SubscriptionOptions
from logd.subscriptions.service import SubscriptionService

SCOPE = Scope()
QUIET = {"seal_interval_ms": 3_600_000, "retention_sweep_interval_ms": 3_600_000}
FAST = {"batch_max_wait_ms": 20, "retry_base_ms": 20, "retry_cap_ms": 200, "commit_interval_ms": 20}


def arn(sink: str) -> str:
    return f"arn:logd:sink:{SCOPE.region}:{SCOPE.account}:{sink}"


@contextlib.asynccontextmanager
async def running(
    data_dir: Path, sinks: dict[str, dict[str, Any]], **options: Any
) -> AsyncIterator[SubscriptionService]:
    store = await Store.open(data_dir, StoreOptions(**QUIET), SystemClock())  # type: ignore[arg-type]
    try:
        service = SubscriptionService(
            store,
            SubscriptionOptions(**{**FAST, **options}),
            sinks,
            scope=SCOPE,
            clock=SystemClock(),
        )
        try:
            await service.start()
            yield service
        finally:
            await service.close()
    finally:
        await store.close()


def ensure(service: SubscriptionService, group: str, *streams: str, **kw: Any) -> None:
    catalog = service.store.catalog
    if catalog.get_group(group) is None:
        catalog.create_group(group, now_ms=int(time.time() * 1000), **kw)
    for stream in streams:
        if catalog.get_stream(group, stream) is None:
            catalog.create_stream(group, stream, now_ms=int(time.time() * 1000))


async def append(service: SubscriptionService, group: str, stream: str, messages: list[str]) -> int:
    now = int(time.time() * 1000)
    result = await service.store.append(group, stream, InputEvents([now] * len(messages), messages))
    assert result.accepted == len(messages)
    assert result.first_seq is not None
    return result.first_seq


async def until(predicate: Callable[[], bool], limit_s: float = 20.0) -> None:
    async with asyncio.timeout(limit_s):
        while not predicate():
            await asyncio.sleep(0.02)


def file_events(root: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted(root.rglob("*.ndjson")):
        out += [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
    return out
