"""R-27: a second process on the same data directory is refused, naming the holder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from logd.clock import ManualClock
from logd.errors import DataDirectoryLocked

from .support import ROOT, open_store

CHILD = """
import asyncio, sys
from pathlib import Path
from logd.clock import SystemClock
from logd.errors import DataDirectoryLocked
from logd.store.options import StoreOptions
from logd.store.store import Store

async def main():
    try:
        store = await Store.open(Path(sys.argv[1]), StoreOptions(), SystemClock())
    except DataDirectoryLocked as exc:
        print(exc, file=sys.stderr)
        return 1
    print("holding", flush=True)
    sys.stdin.readline()
    await store.close()
    return 0

sys.exit(asyncio.run(main()))
"""


def _child(data_dir: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_second_process_exits_non_zero_naming_the_pid(tmp_path: Path) -> None:
    store = await open_store(tmp_path, ManualClock())
    try:
        child = _child(tmp_path)
        _, err = child.communicate(timeout=60)
        assert child.returncode == 1
        assert f"locked by PID {os.getpid()}" in err
    finally:
        await store.close()


async def test_this_process_is_refused_while_a_child_holds_it(tmp_path: Path) -> None:
    child = _child(tmp_path)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "holding\n"
        with pytest.raises(DataDirectoryLocked, match=f"locked by PID {child.pid}"):
            await open_store(tmp_path, ManualClock())
    finally:
        child.communicate("\n", timeout=60)
    assert child.returncode == 0
    store = await open_store(tmp_path, ManualClock())  # released on exit
    await store.close()


async def test_lock_is_released_by_a_killed_holder(tmp_path: Path) -> None:
    child = _child(tmp_path)
    assert child.stdout is not None
    assert child.stdout.readline() == "holding\n"
    child.kill()
    child.communicate(timeout=60)
    store = await open_store(tmp_path, ManualClock())
    await store.close()
