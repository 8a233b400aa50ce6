"""The `logd` command: one module per subcommand, imported lazily."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    from logd import __version__

    parser = argparse.ArgumentParser(prog="logd", description="A self-hosted CloudWatch Logs.")
    parser.add_argument("--version", action="version", version=f"logd {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0
