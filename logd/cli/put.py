"""`logd put GROUP STREAM < lines`: each stdin line becomes an event, sent in batches.

Batches respect PutLogEvents' limits (10,000 events, 1,048,576 bytes counting 26 per
event); each event is stamped with the time its line was read. Rejected ranges
(too old/new) are reported on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Any

from logd.cli import connection
from logd.model import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, MAX_BATCH_EVENTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("group")
    parser.add_argument("stream")
    parser.add_argument("--create", action="store_true", help="create group and stream if absent")
    connection.add_arguments(parser)


def batches(lines: Any) -> Any:
    """Yield lists of InputLogEvent dicts within PutLogEvents' limits."""
    events: list[dict[str, Any]] = []
    size = 0
    for line in lines:
        message = line.rstrip("\n")
        if not message:
            continue
        cost = len(message.encode()) + EVENT_OVERHEAD_BYTES
        if events and (len(events) == MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
            yield events
            events, size = [], 0
        events.append({"timestamp": time.time_ns() // 1_000_000, "message": message})
        size += cost
    if events:
        yield events


def run(args: argparse.Namespace) -> int:
    from logd import errors

    sent = 0
    with connection.connect(args) as client:
        if args.create:
            for op, body in (
                ("CreateLogGroup", {"logGroupName": args.group}),
                ("CreateLogStream", {"logGroupName": args.group, "logStreamName": args.stream}),
            ):
                with contextlib.suppress(errors.ResourceAlreadyExistsException):
                    client.call(op, body)
        for batch in batches(sys.stdin):
            reply = client.call(
                "PutLogEvents",
                {"logGroupName": args.group, "logStreamName": args.stream, "logEvents": batch},
            )
            sent += len(batch)
            if "rejectedLogEventsInfo" in reply:
                sys.stderr.write(f"logd put: rejected: {reply['rejectedLogEventsInfo']}\n")
    sys.stderr.write(f"logd put: {sent} events sent\n")
    return 0
