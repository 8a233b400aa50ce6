"""The `logd` command: one module per subcommand, imported lazily.

Each ``logd/cli/<name>.py`` has ``add_arguments(parser)`` (or ``add_parser(subparsers)``
when it builds its own parser) and ``run(args) -> int``; only the module of the command
being run is imported. Exit codes: 0 success, 1 error,
2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: command → one-line help; the module is logd/cli/<command with - as _>.py
COMMANDS: dict[str, str] = {
    "serve": "run the daemon (API, store)",
    "check-config": "validate a configuration file and report every problem",
    "agent": "tail files and ship them over PutLogEvents (to a logd or CloudWatch Logs)",
    "groups": "list log groups",
    "streams": "list the log streams of a group",
    "put": "send lines from stdin as events to GROUP STREAM",
    "get": "print the events of GROUP STREAM",
    "filter": "print the events of GROUP that match a filter pattern",
    "retention": "set (or clear with 0) the retention of a group",
    "export": "export a log group's time range to a bucket, or verify an export",
    "query": "run a Logs Insights query on the daemon or on a file",
    "tail": "print a group's recent events and follow new ones",
    "dlq": "list, show, replay or purge dead-lettered events",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    from logd import __version__

    parser = argparse.ArgumentParser(prog="logd", description="A self-hosted CloudWatch Logs.")
    parser.add_argument("--version", action="version", version=f"logd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, text in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=text, description=text)
            continue
        module = importlib.import_module(f"logd.cli.{name.replace('-', '_')}")
        if hasattr(module, "add_parser"):
            child = module.add_parser(sub)
        else:
            child = sub.add_parser(name, help=text, description=text)
            module.add_arguments(child)
        child.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    from logd import errors

    try:
        code: int = args.run(args)
    except errors.LogdError as exc:
        sys.stderr.write(f"logd {args.command}: {exc.type_name}: {exc.message}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"logd {args.command}: {exc}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return code
