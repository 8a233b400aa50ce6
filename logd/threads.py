"""Threads that give way: background work at a lower CPU priority, and prompt GIL handoffs.

On two cores the event loop (tailing, the API, acknowledgements) shares the machine with
work that can wait: sealing the log into Parquet segments and compacting them. That work
runs in a `BackgroundExecutor`, whose thread lowers its own CPU priority (a per-thread
nice value on Linux, where `setpriority` with a thread id renices that thread alone).
Threads started from it inherit the value, so the Parquet writer's thread and the
threads DuckDB starts for a connection opened there give way too.

A lower priority helps only if the interpreter hands the GIL over promptly: a thread that
needs it waits up to the switch interval (5 ms by default) for the holder to let go, and
one ingest batch of about a thousand lines takes a few milliseconds. `tune_interpreter`
shortens the interval; the daemon and `logd agent` call it at startup.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("logd.threads")

SWITCH_INTERVAL_S = 0.001
"""The interpreter's GIL switch interval while logd runs (Python's default is 0.005)."""

_MAX_NICE = 19


def tune_interpreter() -> None:
    """Hand the GIL over after at most `SWITCH_INTERVAL_S` (process-wide)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def lower_priority(increment: int) -> int:
    """Raise the calling thread's nice value by `increment` (capped at 19); the value now
    in force. A no-op (returning 0) where threads have no nice value of their own."""
    if increment <= 0 or not sys.platform.startswith("linux"):
        return 0
    tid = threading.get_native_id()
    try:
        value = min(_MAX_NICE, os.getpriority(os.PRIO_PROCESS, tid) + increment)
        os.setpriority(os.PRIO_PROCESS, tid, value)
    except OSError as exc:  # a sandbox may refuse it; the work still runs
        log.debug("Could not lower a background thread's priority: %s", exc)
        return 0
    return value


class BackgroundExecutor(ThreadPoolExecutor):
    """One worker thread, `nice` steps below the thread that submits the first job."""

    def __init__(self, name: str, nice: int) -> None:
        super().__init__(1, thread_name_prefix=name, initializer=lower_priority, initargs=(nice,))
