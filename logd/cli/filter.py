"""`logd filter GROUP [PATTERN] [--since 1h | --start T --end T] [--follow]`: print matches.

FilterLogEvents over every stream of GROUP (or ``--stream NAME``, repeatable, or
``--stream-prefix P``), page by page until the search is complete. PATTERN is a
CloudWatch filter pattern (docs/filter-patterns.md); quote it for the shell:
``logd filter app '{ $.level = "ERROR" }'``. Times as for ``logd get``: ``--since``
15m/1h/2d (default 1h), or ``--start``/``--end`` (RFC 3339, ``YYYY-MM-DD[ HH:MM[:SS]]``
UTC, epoch seconds or milliseconds; ``--end`` inclusive). ``--follow`` keeps searching
from the newest event printed, every ``--interval`` seconds, printing each event once.
Output: ``--output table|json|jsonl|csv|raw`` (default: table on a terminal, else jsonl).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from logd.cli import connection, output
from logd.cli.get import parse_since, parse_time

COLUMNS = ("timestamp", "logStreamName", "message")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group", metavar="GROUP")
    parser.add_argument("pattern", nargs="?", default="", metavar="PATTERN")
    parser.add_argument("--since", help="relative start: 15m, 1h, 2d (default 1h)")
    parser.add_argument("--start", help="absolute start (UTC unless an offset is given)")
    parser.add_argument("--end", help="absolute end, inclusive")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stream", action="append", help="only this stream (repeatable)")
    where.add_argument("--stream-prefix", help="only streams whose name starts with it")
    parser.add_argument("--limit", type=int, default=None, help="events per request (1-10000)")
    parser.add_argument("--follow", "-f", action="store_true", help="keep polling for new events")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    connection.add_arguments(parser)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """For a `logd.cli` that lets commands build their own parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "filter",
        help="print the events of GROUP that match a filter pattern",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def _rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "timestamp": output.iso_ms(e["timestamp"])} for e in events]


def run(args: argparse.Namespace) -> int:
    now = time.time_ns() // 1_000_000
    try:
        start = parse_time(args.start) if args.start else parse_since(args.since or "1h", now)
        end = parse_time(args.end) if args.end else None
    except ValueError as exc:
        sys.stderr.write(f"logd filter: {exc}\n")
        return 2
    if end is not None and start > end:
        sys.stderr.write("logd filter: --start is after --end\n")
        return 2
    if args.limit is not None and not 1 <= args.limit <= 10_000:
        sys.stderr.write("logd filter: --limit must be between 1 and 10000\n")
        return 2
    sys.stderr.write(f"logd filter: from {output.iso_ms(start)} to {output.iso_ms(end) or 'now'}\n")
    fmt = args.output or output.default_format(sys.stdout)
    emit = output.stream_writer(COLUMNS, fmt, raw_column="message")
    base: dict[str, Any] = {"logGroupName": args.group, "filterPattern": args.pattern}
    if end is not None:
        base["endTime"] = end
    if args.stream:
        base["logStreamNames"] = list(args.stream)
    if args.stream_prefix:
        base["logStreamNamePrefix"] = args.stream_prefix
    if args.limit is not None:
        base["limit"] = args.limit
    newest = start  # follow: the next search starts at the newest timestamp printed ...
    seen_at_newest: set[str] = set()  # ... skipping the events already printed at it
    with connection.connect(args) as client:
        while True:
            request = {**base, "startTime": newest}
            while True:
                page = client.call("FilterLogEvents", request)
                events = [e for e in page["events"] if e["eventId"] not in seen_at_newest]
                if events:
                    emit(_rows(events))
                for event in events:
                    if event["timestamp"] > newest:
                        newest, seen_at_newest = event["timestamp"], set()
                    if event["timestamp"] == newest:
                        seen_at_newest.add(event["eventId"])
                token = page.get("nextToken")
                if token is None:
                    break
                request["nextToken"] = token
            if not args.follow:
                return 0
            time.sleep(args.interval)
