"""`logd export`: run an export task through the API, and `logd export verify`.

    logd export GROUP --from T --to T (--to-bucket B | --to-dir NAME) [--prefix P]
                [--stream-prefix S] [--name N] [--no-wait] [--endpoint-url URL]
    logd export verify TARGET [--prefix P] [--deep] [--json] [--endpoint-url URL]

`--to-bucket` names a bucket of the daemon's `[export.buckets]`; `--to-dir NAME` a
folder of its local export root (`export.default_root`); on the wire both are
`destination`. Times: epoch milliseconds (13 digits), epoch seconds (up to 10 digits),
RFC 3339 or `YYYY-MM-DD[ HH:MM[:SS]]` in UTC; `from` and `to` are both inclusive.
`verify` works offline on a local folder `<root>/<bucket>` or on `s3://bucket`.

Exit codes: 0 done / verified, 1 the task FAILED or was CANCELLED / verify found
errors, 2 usage or I/O error, 130 interrupted (the task keeps running).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:4586"
_PROGRESS = re.compile(r"(\d+) of (\d+) events")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "export",
        help="export a log group's time range to a bucket, or verify an export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("group", metavar="GROUP", help="log group (or `verify`)")
    parser.add_argument("target", nargs="?", metavar="TARGET", help="verify: <dir> or s3://b")
    parser.add_argument("--from", dest="from_", metavar="TIME", help="first event time")
    parser.add_argument("--to", metavar="TIME", help="last event time (inclusive)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--to-bucket", metavar="BUCKET", help="a configured bucket")
    where.add_argument("--to-dir", metavar="NAME", help="a folder of the local export root")
    parser.add_argument("--prefix", help="destinationPrefix (default exportedlogs)")
    parser.add_argument("--stream-prefix", help="only streams whose name starts with it")
    parser.add_argument("--name", help="taskName")
    parser.add_argument("--no-wait", action="store_true", help="print the task id and return")
    parser.add_argument("--endpoint-url", default=None, help=f"default {DEFAULT_ENDPOINT}")
    parser.add_argument("--region", default=None)
    parser.add_argument("--poll-interval", type=float, default=0.5, help=argparse.SUPPRESS)
    parser.add_argument("--deep", action="store_true", help="verify: check every line's time")
    parser.add_argument("--json", action="store_true", help="verify: one JSON object a line")
    return parser


def parse_time(text: str) -> int:
    """Epoch ms from the accepted forms (UTC unless the text has an offset)."""
    value = text.strip()
    if value.isdigit():
        number = int(value)
        return number * 1000 if len(value) <= 10 else number
    try:
        when = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError as exc:
        raise ValueError(f"cannot read time {text!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def run(args: argparse.Namespace) -> int:
    try:
        if args.group == "verify":
            return _verify(args)
        return _export(args)
    except KeyboardInterrupt:
        return 130


def _client(args: argparse.Namespace) -> Any:
    import boto3

    session = boto3.session.Session()
    region = args.region or session.region_name or "us-east-1"
    # logd may run without auth: a placeholder key lets botocore sign anyway.
    placeholder = "logd" if session.get_credentials() is None else None
    endpoint = args.endpoint_url or os.environ.get("LOGD_ENDPOINT_URL") or DEFAULT_ENDPOINT
    return session.client(
        "logs",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=placeholder,
        aws_secret_access_key=placeholder,
    )


def _export(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    destination = args.to_bucket or args.to_dir
    if not (args.from_ and args.to and destination):
        print("logd export: --from, --to and --to-bucket or --to-dir are required", file=sys.stderr)
        return 2
    try:
        start, end = parse_time(args.from_), parse_time(args.to)
    except ValueError as exc:
        print(f"logd export: {exc}", file=sys.stderr)
        return 2
    if start > end:
        print("logd export: --from is after --to", file=sys.stderr)
        return 2
    print(f"exporting {args.group} from {_iso(start)} to {_iso(end)}", file=sys.stderr)
    request: dict[str, Any] = {
        "logGroupName": args.group,
        "from": start,
        "to": end,
        "destination": destination,
    }
    for member, value in (
        ("destinationPrefix", args.prefix),
        ("logStreamNamePrefix", args.stream_prefix),
        ("taskName", args.name),
    ):
        if value is not None:
            request[member] = value
    client = _client(args)
    try:
        task_id = client.create_export_task(**request)["taskId"]
        print(task_id)
        if args.no_wait:
            return 0
        return _wait(client, task_id, args.poll_interval)
    except (ClientError, BotoCoreError) as exc:
        print(f"logd export: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()


def _iso(ms: int) -> str:
    when = dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _wait(client: Any, task_id: str, interval: float) -> int:
    bar = ProgressBar(sys.stderr)
    while True:
        tasks = client.describe_export_tasks(taskId=task_id)["exportTasks"]
        if not tasks:
            print(f"logd export: task {task_id} vanished", file=sys.stderr)
            return 2
        status = tasks[0]["status"]
        code, message = status["code"], status.get("message", "")
        match = _PROGRESS.search(message)
        bar.show(code, int(match[1]) if match else None, int(match[2]) if match else None)
        if code == "COMPLETED":
            bar.done()
            task = tasks[0]
            where = f"{task['destinationPrefix']}/{task_id}/".lstrip("/")
            print(f"completed: {task['destination']}/{where}", file=sys.stderr)
            return 0
        if code in ("FAILED", "CANCELLED"):
            bar.done()
            print(f"{code.lower()}: {message}", file=sys.stderr)
            return 1
        time.sleep(interval)


class ProgressBar:
    """One updating line on a terminal; plain lines on change elsewhere."""

    def __init__(self, stream: Any, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last = ""

    def show(self, code: str, done: int | None, total: int | None) -> None:
        if done is not None and total:
            filled = round(self._width * done / total)
            bar = "#" * filled + "-" * (self._width - filled)
            line = f"{code:<9} [{bar}] {done}/{total} events ({100 * done // total}%)"
        else:
            line = f"{code:<9} [{'.' * self._width}]"
        if line == self._last:
            return
        self._last = line
        if self._tty:
            self._stream.write("\r" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def done(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()


def _verify(args: argparse.Namespace) -> int:
    from logd.export.destinations import Destination, LocalDestination, S3Destination
    from logd.export.errors import DestinationError
    from logd.export.options import BucketOptions, ExportOptions
    from logd.export.verify import verify

    if not args.target:
        print("logd export verify: TARGET (a folder or s3://bucket) is required", file=sys.stderr)
        return 2
    destination: Destination
    if args.target.startswith("s3://"):
        bucket = args.target[5:].strip("/")
        options = ExportOptions()
        destination = S3Destination(
            bucket,
            BucketOptions(
                type="s3", endpoint_url=args.endpoint_url or "", region=args.region or "us-east-1"
            ),
            threshold=options.multipart_threshold_bytes,
            part_bytes=options.multipart_part_bytes,
        )
    else:
        folder = Path(args.target).resolve()
        if not folder.is_dir():
            print(f"logd export verify: {folder} is not a folder", file=sys.stderr)
            return 2
        destination = LocalDestination(folder.name, folder.parent)
    try:
        report = verify(destination, args.prefix or "exportedlogs", deep=args.deep)
    except DestinationError as exc:
        print(f"logd export verify: {exc}", file=sys.stderr)
        return 2
    finally:
        destination.close()
    for finding in report.findings:
        if args.json:
            print(json.dumps(finding.to_json()))
        elif finding.kind != "OK":
            print(f"{finding.kind:<20} {finding.key}  {finding.detail}")
    summary = {
        "manifests": report.manifests,
        "objects": report.objects,
        "errors": len(report.errors),
        "warnings": sum(1 for f in report.findings if f.severity == "warning"),
    }
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        print(
            f"{summary['manifests']} manifests, {summary['objects']} objects, "
            f"{summary['errors']} errors, {summary['warnings']} warnings",
            file=sys.stderr,
        )
    return 0 if report.ok else 1
