"""`logd get GROUP STREAM [--since 1h | --start T --end T] [--follow]`: print events.

Times: ``--since 15m|1h|2d`` (the default is ``--since 1h``, said on stderr), or
``--start``/``--end`` as RFC 3339, ``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM[:SS]`` (UTC) or
epoch seconds/milliseconds. ``--follow`` prints history, then polls GetLogEvents with
the forward token.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from logd.cli import connection, output

COLUMNS = ("timestamp", "message", "ingestionTime")
UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_since(text: str, now_ms: int) -> int:
    match = re.fullmatch(r"(\d+)\s*([smhdw])", text.strip())
    if not match:
        raise ValueError(f"--since takes a duration like 15m, 1h or 2d, not {text!r}")
    return now_ms - int(match.group(1)) * UNITS[match.group(2)]


def parse_time(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        value = int(text)
        return value if value > 10**11 else value * 1000
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read the time {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group")
    parser.add_argument("stream")
    parser.add_argument("--since", help="relative start: 15m, 1h, 2d (default 1h)")
    parser.add_argument("--start", help="absolute start (UTC unless an offset is given)")
    parser.add_argument("--end", help="absolute end, exclusive")
    parser.add_argument("--follow", "-f", action="store_true", help="keep polling for new events")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    connection.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    now = time.time_ns() // 1_000_000
    try:
        start = parse_time(args.start) if args.start else parse_since(args.since or "1h", now)
        end = parse_time(args.end) if args.end else None
    except ValueError as exc:
        sys.stderr.write(f"logd get: {exc}\n")
        return 2
    if end is not None and start > end:
        sys.stderr.write("logd get: --start is after --end\n")
        return 2
    sys.stderr.write(f"logd get: from {output.iso_ms(start)} to {output.iso_ms(end) or 'now'}\n")
    fmt = args.output or output.default_format(sys.stdout)
    emit = output.stream_writer(COLUMNS, fmt, raw_column="message")
    request: dict[str, Any] = {
        "logGroupName": args.group, "logStreamName": args.stream,
        "startTime": start, "startFromHead": True,
    }  # fmt: skip
    if end is not None:
        request["endTime"] = end
    with connection.connect(args) as client:
        while True:
            page = client.call("GetLogEvents", request)
            rows = [
                {**e, "timestamp": output.iso_ms(e["timestamp"]),
                 "ingestionTime": output.iso_ms(e["ingestionTime"])}
                for e in page["events"]
            ]  # fmt: skip
            if rows:
                emit(rows)
            token = page["nextForwardToken"]
            if token == request.get("nextToken"):
                if not args.follow:
                    return 0
                time.sleep(args.interval)
            request["nextToken"] = token
