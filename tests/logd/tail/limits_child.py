"""Child process: the tail agent under real process limits, writing into a DurableLog.

    python -m tests.logd.tail.limits_child CONFIG.json LOG READY REPORT
        [--nofile N] [--exhaust-inotify]

--nofile N lowers RLIMIT_NOFILE (soft and hard, as `ulimit -n N` does) before the agent
starts. --exhaust-inotify opens inotify instances until inotify_init1 fails with EMFILE
(the per-user `max_user_instances` is reached), so the agent's own inotify init fails as
it does on a host whose instances are used up; they are closed as soon as the agent has
made its choice (it does not retry), so other processes of the user are short of
instances only for that moment.

Writes READY once the agent's first scan is done. Runs until SIGTERM, sampling the gauges
(the last sample is reported) and the peaks of `files_open` and of the process's real
descriptors, then writes REPORT:
{"metrics", "gauges", "peak_files_open", "peak_fds", "nofile", "inotify_held"}.
Warnings and errors of the agent go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import errno
import logging
import os
import resource
import signal
from pathlib import Path

import orjson

from logd.clock import SystemClock
from logd.tail.agent import TailAgent
from logd.tail.options import agent_from_mapping
from logd.tail.watch import IN_CLOEXEC, IN_NONBLOCK
from tests.logd.tail.support import DurableLog


def exhaust_inotify() -> list[int]:
    """Open inotify instances until the per-user limit refuses one (EMFILE)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    held: list[int] = []
    while len(held) < 65536:
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            if err != errno.EMFILE:
                raise OSError(err, os.strerror(err))
            return held
        held.append(fd)
    raise RuntimeError("inotify instances did not run out")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def main(a: argparse.Namespace, held: list[int]) -> None:
    options = agent_from_mapping(orjson.loads(a.config.read_bytes()))
    log = DurableLog(a.log)
    agent = TailAgent(options, log.emit, log.checkpoints(), SystemClock())
    peak = {"files_open": 0, "fds": 0}
    gauges = agent.gauges()
    task = asyncio.create_task(agent.run())
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        # Until the agent chose inotify or polling (once, at its start).
        while held and "watch_errors_total" not in agent.metrics and not task.done():
            if agent.first_scan_done.is_set():
                break
            await asyncio.sleep(0)
        for fd in held:
            os.close(fd)
        scanned = asyncio.create_task(agent.first_scan_done.wait())
        await asyncio.wait([task, scanned], return_when=asyncio.FIRST_COMPLETED)
        scanned.cancel()
        tmp = a.ready.with_name(a.ready.name + ".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(a.ready)
        while not task.done():
            gauges = agent.gauges()  # the last sample is reported (run() ends its watches)
            peak["files_open"] = max(peak["files_open"], gauges["files_open"])
            peak["fds"] = max(peak["fds"], open_fds() - 1)  # not listdir's own
            await asyncio.sleep(0.02)
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        log.close()
    report = {
        "metrics": agent.metrics,
        "gauges": gauges,
        "peak_files_open": peak["files_open"],
        "peak_fds": peak["fds"],
        "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "inotify_held": len(held),
    }
    a.report.write_bytes(orjson.dumps(report))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    for name in ("config", "log", "ready", "report"):
        ap.add_argument(name, type=Path)
    ap.add_argument("--nofile", type=int, default=0)
    ap.add_argument("--exhaust-inotify", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    instances = exhaust_inotify() if args.exhaust_inotify else []
    if args.nofile:  # after the instances (fds too), so only the user limit refuses them
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))
    asyncio.run(main(args, instances))
