"""Store.add_append_observer: called after durability, in log order, failures contained."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.model import InputEvents

from .support import NOW, batch, make_group, open_store, rows


async def test_observers_see_accepted_batches_in_order_after_durability(tmp_path: Path) -> None:
    seen: list[tuple[str, str, list[str], int]] = []
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "a", "b")

        def observer(group: str, stream: str, messages) -> None:
            # durable and readable by the time the observer runs
            seen.append((group, stream, messages.to_pylist(), len(rows(store, ["g"]))))

        store.add_append_observer(observer)
        await store.append("g", "a", batch([NOW, NOW], "x"))
        await store.append("g", "b", InputEvents([NOW - 15 * 86_400_000, NOW], ["old", "kept"]))
        await store.append("g", "a", InputEvents([NOW - 15 * 86_400_000], ["rejected"]))
    assert seen == [("g", "a", ["x-0", "x-1"], 2), ("g", "b", ["kept"], 3)]


async def test_a_failing_observer_is_logged_and_the_append_succeeds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []
    async with await open_store(tmp_path, ManualClock(NOW)) as store:
        await make_group(store, "g", "s")

        def broken(group: str, stream: str, messages) -> None:
            raise RuntimeError("boom")

        store.add_append_observer(broken)
        store.add_append_observer(lambda g, s, m: calls.append(g))
        with caplog.at_level(logging.ERROR, logger="logd.store"):
            result = await store.append("g", "s", batch([NOW]))
        assert result.accepted == 1
        assert calls == ["g"]
        assert "append observer failed" in caplog.text
