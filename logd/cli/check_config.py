"""`logd check-config PATH`: report every problem of a config file; exit 1 if any."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from types import ModuleType


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, help="the TOML file to check")
    parser.add_argument(
        "--schema", action="store_true", help="print the config JSON Schema (config/schema.json)"
    )
    parser.add_argument(
        "--example", action="store_true", help="print the documented example config"
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print the reference (docs/configuration.md)"
    )


def run(args: argparse.Namespace) -> int:
    from logd import settings

    if args.schema:
        sys.stdout.write(json.dumps(settings.json_schema(), indent=2) + "\n")
        return 0
    if args.example:
        sys.stdout.write(settings.example_toml())
        return 0
    if args.markdown:
        sys.stdout.write(settings.reference_markdown())
        return 0
    if args.path is None:
        sys.stderr.write("logd check-config: a PATH is required\n")
        return 2
    problems = settings.check(args.path, env=os.environ)
    for warning in _warnings(settings, args.path):
        sys.stderr.write(f"{args.path}: warning: {warning}\n")
    for problem in problems:
        sys.stderr.write(f"{args.path}: {problem}\n")
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        sys.stderr.write(f"{args.path}: {len(problems)} {noun}\n")
        return 1
    sys.stdout.write(f"{args.path}: ok\n")
    return 0


def _warnings(settings: ModuleType, path: Path) -> list[object]:
    """Self-tailing globs, when the file loads (a file with problems gets them first)."""
    try:
        loaded = settings.load(path, env=os.environ)
    except settings.SettingsError:
        return []
    return list(settings.self_tailing(loaded, text=path.read_text(encoding="utf-8")))
