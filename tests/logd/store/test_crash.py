"""Crash tests (R-23, R-02 for the store): SIGKILL a child process driving the store at
random moments — mid-append, mid-seal, mid-compaction, mid-sweep — and check after each
restart that every acknowledged event is stored exactly once and no file is orphaned.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.model import DAY_MS

from .support import NOW, ROOT, open_store

CHILD = r"""
import asyncio, random, sys
from pathlib import Path
from logd.clock import ManualClock
from logd.model import InputEvents
from logd.store.options import StoreOptions
from logd.store.store import Store

data_dir, cycle, start = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

async def main():
    clock = ManualClock(start)
    options = StoreOptions(
        seal_interval_ms=1, seal_max_events=200, maintenance_tick_ms=5,
        compaction_min_segments=2, retention_sweep_interval_ms=1,
        segment_delete_grace_ms=0, memtable_spill_bytes=16_384,
    )
    store = await Store.open(data_dir, options, clock)
    for group, days in (("keep", None), ("short", 1)):
        if store.catalog.get_group(group) is None:
            store.catalog.create_group(group, now_ms=start, retention_days=days)
            for s in range(3):
                store.catalog.create_stream(group, f"s{s}", now_ms=start)
    rng = random.Random(cycle)
    b = 0
    while True:
        for group in ("keep", "short"):
            n = rng.randint(1, 40)
            now = clock.now_ms()
            msgs = [f'{{"c": {cycle}, "b": {b}, "i": {i}, "g": "{group}"}}' for i in range(n)]
            r = await store.append(group, f"s{b % 3}", InputEvents([now] * n, msgs))
            print("A", group, r.first_seq, n, cycle, b, now, flush=True)
        print("T", clock.now_ms() + 20 * 60_000, flush=True)
        clock.advance(20 * 60_000)
        b += 1
        await asyncio.sleep(0)

asyncio.run(main())
"""


def run_child(data_dir: Path, cycle: int, start: int, kill_after: float) -> list[list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), str(cycle), str(start)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[list[str]] = []
    first = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            parts = line.split()
            complete = line.endswith("\n") and len(parts) == {"A": 7, "T": 2}.get(parts[0], 0)
            if complete:  # a line cut by the kill acknowledges nothing
                lines.append(parts)
                first.set()

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert first.wait(60), "child never acknowledged an append"
        time.sleep(kill_after)
    finally:
        child.send_signal(signal.SIGKILL)
        reader.join(60)  # stdout ends with the child; only then may communicate() close it
        _, err = child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL, err
    return lines


@pytest.mark.slow
async def test_acknowledged_events_survive_sigkill_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(23)
    acked: dict[str, dict[int, str]] = {"keep": {}, "short": {}}
    times: dict[str, dict[int, int]] = {"keep": {}, "short": {}}
    clock_ms = NOW
    for cycle in range(10):
        lines = run_child(tmp_path, cycle, clock_ms, rng.uniform(0.05, 0.8))
        for parts in lines:
            if parts[0] == "T":
                clock_ms = max(clock_ms, int(parts[1]))
            elif parts[0] == "A":
                group, first, n, c, b, ts = parts[1], *map(int, parts[2:])
                for i in range(n):
                    acked[group][first + i] = f'{{"c": {c}, "b": {b}, "i": {i}, "g": "{group}"}}'
                    times[group][first + i] = ts
        store = await open_store(tmp_path, ManualClock(clock_ms))
        try:
            for group in ("keep", "short"):
                seqs: list[int] = []
                found: dict[int, str] = {}
                for batch in store.scan([group], 0, 2**62, columns=["seq", "message"]):
                    s, m = batch.column("seq").to_pylist(), batch.column("message").to_pylist()
                    seqs += s
                    found.update(zip(s, m, strict=True))
                assert len(seqs) == len(set(seqs)), f"duplicates in {group} after cycle {cycle}"
                limit = clock_ms - DAY_MS if group == "short" else -1
                missing = [s for s, ts in times[group].items() if ts >= limit and s not in found]
                assert missing == [], f"{group}: acknowledged events lost after cycle {cycle}"
                for s, message in acked[group].items():
                    if s in found:
                        assert found[s] == message
            await store.sweep_now()
            on_disk = set(store.files.list_files())
            assert on_disk == {s.path for s in store.catalog.all_segments()}, "orphan files"
        finally:
            await store.close()
    assert len(acked["keep"]) > 100
