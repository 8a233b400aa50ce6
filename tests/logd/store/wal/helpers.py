"""Helpers shared by the WAL tests: small options, condition waits (no timing), reopen."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from logd.store.wal import Wal, WalOptions

SMALL = 4096


def small(**overrides: object) -> WalOptions:
    """Options with 4 KiB files so that tests roll and delete files quickly."""
    values: dict[str, object] = {"segment_bytes": SMALL, "max_bytes": 64 * SMALL}
    values.update(overrides)
    return WalOptions(**values)  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool], *, limit_s: float = 10.0) -> None:
    """Yield to the loop until `predicate()` holds (a hang guard, not a timing check)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.001)


async def reopen(directory: Path, options: WalOptions | None = None) -> list[bytes]:
    """Open the WAL again, read every record, close it."""
    wal, _ = Wal.open(directory, options or small())
    try:
        return [payload for _, payload in wal.records()]
    finally:
        await wal.close()
