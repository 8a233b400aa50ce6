"""`logd streams GROUP [--prefix P]`: list the log streams of a group."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from logd.cli import connection, output

COLUMNS = ("logStreamName", "creationTime", "firstEventTimestamp", "lastEventTimestamp")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group")
    parser.add_argument("--prefix", help="only streams whose name starts with this")
    connection.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    with connection.connect(args) as client:
        request: dict[str, Any] = {"logGroupName": args.group}
        if args.prefix:
            request["logStreamNamePrefix"] = args.prefix
        while True:
            page = client.call("DescribeLogStreams", request)
            for s in page["logStreams"]:
                rows.append({**s, **{k: output.iso_ms(s.get(k)) for k in COLUMNS[1:]}})
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
    output.write(rows, COLUMNS, args.output or output.default_format(sys.stdout))
    return 0
