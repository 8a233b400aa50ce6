"""Child process: the tail agent writing into a REAL store until killed (or idle).

    python -m tests.logd.tail.store_agent_child CONFIG.json DATA_DIR READY [--until-idle]

Writes its pid to READY once the store has recovered and the agent's first scan is done.
With --until-idle it stops cleanly (agent cancelled, store closed) once every followed
file has been read to its end for a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import orjson

from logd.clock import SystemClock
from logd.store.options import StoreOptions
from logd.store.store import Store
from logd.tail.options import AgentOptions, agent_from_mapping
from logd.tail.store_sink import tail_into_store


async def main(options: AgentOptions, data_dir: Path, ready: Path, until_idle: bool) -> None:
    clock = SystemClock()
    store = await Store.open(data_dir, StoreOptions(seal_interval_ms=1000), clock)
    try:
        agent, _sink = tail_into_store(store, options, clock)
        task = asyncio.create_task(agent.run())
        await agent.first_scan_done.wait()
        tmp = f"{ready}.tmp"
        with open(tmp, "w") as fh:  # noqa: ASYNC230 -- a few bytes, once
            fh.write(str(os.getpid()))
        os.replace(tmp, ready)
        if not until_idle:
            await task
            return
        quiet = 0
        while quiet < 10 and not task.done():
            await asyncio.sleep(0.1)
            quiet = quiet + 1 if agent.gauges()["file_lag_bytes"] == 0 else 0
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        await store.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    idle = "--until-idle" in args
    config, data, ready = (Path(a) for a in args if a != "--until-idle")
    options = agent_from_mapping(orjson.loads(config.read_bytes()))
    asyncio.run(main(options, data, ready, idle))
