"""`logd agent --config PATH`: tail files alone and ship them over PutLogEvents.

The config file holds an optional `[agent]` table (with `endpoint_url`, `region`,
`state_file` for shipping) and `[[tail]]` entries (docs/tail.md); other tables of a
daemon config are ignored, so one logd.toml can serve both. SIGTERM or SIGINT stops
the agent after saving its state. Delivery is at-least-once (docs/tail.md).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logd.tail.options import AgentOptions


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, required=True, help="TOML file with [agent] and [[tail]]"
    )


def run(args: argparse.Namespace) -> int:
    from logd.tail.options import OptionsError, agent_from_mapping

    try:
        doc = tomllib.loads(args.config.read_text())
        options = agent_from_mapping({k: v for k, v in doc.items() if k in ("agent", "tail")})
    except (tomllib.TOMLDecodeError, OptionsError) as exc:
        sys.stderr.write(f"logd agent: {args.config}: {exc}\n")
        return 2
    if not options.tails:
        sys.stderr.write(f"logd agent: {args.config}: no [[tail]] entries\n")
        return 2
    from logd.threads import tune_interpreter

    tune_interpreter()
    return asyncio.run(_main(options))


async def _main(options: AgentOptions) -> int:
    from logd.tail.shipper import ShipError, run_agent

    loop = asyncio.get_running_loop()
    task = asyncio.create_task(run_agent(options))
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        return 0
    except ShipError as exc:
        sys.stderr.write(f"logd agent: {exc}\n")
        return 1
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return 0
