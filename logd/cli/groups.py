"""`logd groups [--prefix P]`: list log groups."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from logd.cli import connection, output

COLUMNS = ("logGroupName", "creationTime", "retentionInDays", "storedBytes", "logGroupClass")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prefix", help="only groups whose name starts with this")
    connection.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    with connection.connect(args) as client:
        request: dict[str, Any] = {}
        if args.prefix:
            request["logGroupNamePrefix"] = args.prefix
        while True:
            page = client.call("DescribeLogGroups", request)
            for group in page["logGroups"]:
                rows.append({**group, "creationTime": output.iso_ms(group.get("creationTime"))})
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
    output.write(rows, COLUMNS, args.output or output.default_format(sys.stdout))
    return 0
