"""`logd retention GROUP DAYS`: set a group's retention; 0 removes the policy."""

from __future__ import annotations

import argparse

from logd.cli import connection


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group")
    parser.add_argument("days", type=int, help="one of CloudWatch's values, or 0 for none")
    connection.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with connection.connect(args) as client:
        if args.days == 0:
            client.call("DeleteRetentionPolicy", {"logGroupName": args.group})
        else:
            client.call(
                "PutRetentionPolicy", {"logGroupName": args.group, "retentionInDays": args.days}
            )
    return 0
