"""Child process: the tail agent writing into a DurableLog until killed.

python -m tests.logd.tail.agent_child CONFIG.json LOG
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson

from logd.clock import SystemClock
from logd.tail.agent import TailAgent
from logd.tail.options import agent_from_mapping
from tests.logd.tail.support import DurableLog


async def main(options_doc: bytes, log_path: Path) -> None:
    options = agent_from_mapping(orjson.loads(options_doc))
    log = DurableLog(log_path)
    try:
        agent = TailAgent(options, log.emit, log.checkpoints(), SystemClock())
        await agent.run()
    finally:
        log.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]).read_bytes(), Path(sys.argv[2])))
