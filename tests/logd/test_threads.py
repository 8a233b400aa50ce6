"""Background threads give way: their own nice value, inherited by threads they start."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.model import InputEvents
from logd.store.options import StoreOptions
from logd.threads import SWITCH_INTERVAL_S, BackgroundExecutor, lower_priority, tune_interpreter
from tests.logd.store.support import NOW, make_group, open_store

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's"
)


def nice_of(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


@linux_only
def test_the_worker_is_niced_and_its_children_inherit_it_but_the_caller_is_not() -> None:
    caller = nice_of(threading.get_native_id())
    with BackgroundExecutor("test-bg", 3) as pool:

        def inside() -> tuple[int, int]:
            seen: list[int] = []
            child = threading.Thread(target=lambda: seen.append(nice_of(threading.get_native_id())))
            child.start()
            child.join()
            return nice_of(threading.get_native_id()), seen[0]

        worker, grandchild = pool.submit(inside).result()
    assert worker == min(19, caller + 3)
    assert grandchild == worker
    assert nice_of(threading.get_native_id()) == caller


@linux_only
def test_lower_priority_is_capped_and_zero_is_a_no_op() -> None:
    def probe(increment: int) -> tuple[int, int]:
        before = nice_of(threading.get_native_id())
        lower_priority(increment)
        return before, nice_of(threading.get_native_id())

    out: dict[int, tuple[int, int]] = {}
    for inc in (0, 40):
        t = threading.Thread(target=lambda inc=inc: out.__setitem__(inc, probe(inc)))
        t.start()
        t.join()
    assert out[0][1] == out[0][0]
    assert out[40][1] == 19


def test_tune_interpreter_shortens_the_switch_interval() -> None:
    old = sys.getswitchinterval()
    try:
        tune_interpreter()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)
        assert SWITCH_INTERVAL_S < 0.005
    finally:
        sys.setswitchinterval(old)


@linux_only
async def test_the_store_seals_on_a_thread_below_the_event_loop(tmp_path: Path) -> None:
    caller = nice_of(threading.get_native_id())
    before = set(threading.enumerate())
    async with await open_store(tmp_path, ManualClock(NOW), background_nice=7) as store:
        await make_group(store, "g", "s")
        await store.append("g", "s", InputEvents([NOW] * 10, [f"m{i}" for i in range(10)]))
        assert await store.seal_now() == 10
        new = set(threading.enumerate()) - before
        (worker,) = [t for t in new if t.name.startswith("logd-seal")]
        assert worker.native_id is not None
        assert nice_of(worker.native_id) == min(19, caller + 7)


def test_background_nice_out_of_range_names_the_key() -> None:
    with pytest.raises(ValueError, match="background_nice: must be 0 to 19"):
        StoreOptions(background_nice=20).validate()
