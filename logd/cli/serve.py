"""`logd serve [--config PATH] [--data-dir DIR] [--listen HOST:PORT]`: run the daemon."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML config file (default: built-in)")
    parser.add_argument("--data-dir", help="overrides daemon.data_dir")
    parser.add_argument("--listen", help="overrides api.listen (HOST:PORT)")


def run(args: argparse.Namespace) -> int:
    from logd import settings
    from logd.app import serve

    overrides: dict[str, object] = {}
    if args.data_dir:
        overrides["daemon.data_dir"] = args.data_dir
    if args.listen:
        overrides["api.listen"] = args.listen
    try:
        if args.config is not None:
            loaded = settings.load(args.config, env=os.environ, overrides=overrides)
        else:
            loaded = settings.parse("", env=os.environ, overrides=overrides)
    except settings.SettingsError as exc:
        for problem in exc.problems:
            sys.stderr.write(f"{args.config or '(defaults)'}: {problem}\n")
        return 1
    return serve(loaded, config_path=args.config, overrides=overrides)
