"""`logd tail`: print a log group's recent events, and follow new ones live.

    logd tail GROUP [--since 10m] [--stream NAME ... | --stream-prefix P]
              [--filter-pattern P] [--follow] [--json] [--endpoint URL]

Reads the daemon's `GET /v1/tail` (NDJSON). `--since` takes a duration back from now
(`30s`, `10m`, `2h`, `1d`), epoch seconds or milliseconds, or an RFC 3339 time; default
10m. Without `--follow` it prints the events since then and exits; with it, it keeps
printing new events and, when the connection drops, reconnects with `after=<last event
id>` so nothing is skipped or printed twice. When the daemon had to drop events for a
slow reader, a `(N events missed)` note goes to stderr.
Exit codes: 0 done, 1 error (unknown group, bad pattern), 130 interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import re
import sys
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from logd.cli import connection

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tail",
        help="print a group's recent events and follow new ones",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("group", metavar="GROUP")
    parser.add_argument("--since", default="10m", help="how far back to start (default 10m)")
    streams = parser.add_mutually_exclusive_group()
    streams.add_argument("--stream", action="append", metavar="NAME", help="only this stream")
    streams.add_argument("--stream-prefix", metavar="P", help="only streams starting with P")
    parser.add_argument("--filter-pattern", default="", metavar="P", help="a filter pattern")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    parser.add_argument("--json", action="store_true", help="print each event as JSON")
    connection.add_arguments(parser)
    return parser


def parse_since(text: str, now_ms: int) -> int:
    value = text.strip()
    match = _DURATION.match(value)
    if match:
        return now_ms - int(match.group(1)) * _UNITS[match.group(2)]
    if value.isdigit():
        return int(value) * 1000 if len(value) <= 10 else int(value)
    try:
        when = dt.datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError as exc:
        raise ValueError(f"cannot read --since {text!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _endpoint(args: argparse.Namespace) -> str:
    endpoint: str | None = args.endpoint or os.environ.get("LOGD_ENDPOINT")
    if endpoint is None and args.config is not None:
        from logd import settings

        endpoint = "http://" + settings.load(args.config, env=os.environ).api.listen
    return endpoint or "http://127.0.0.1:4586"


def _open(
    args: argparse.Namespace, query: list[tuple[str, str]]
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    parts = urlsplit(_endpoint(args))
    https = parts.scheme == "https"
    cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
    conn = cls(parts.hostname or "127.0.0.1", parts.port or (443 if https else 80), timeout=60)
    qs = urlencode(query)
    headers: dict[str, str] = {}
    env = os.environ
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        from logd import sigv4

        region = args.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        headers.update(
            sigv4.sign(
                method="GET", host=parts.netloc, path="/v1/tail", query=qs, headers=headers,
                body=b"", access_key=env["AWS_ACCESS_KEY_ID"],
                secret=env["AWS_SECRET_ACCESS_KEY"], region=region or "us-east-1",
                service="logs", now_ms=time.time_ns() // 1_000_000,
            )
        )  # fmt: skip
    try:
        conn.request("GET", f"/v1/tail?{qs}", headers=headers)
        return conn, conn.getresponse()
    except BaseException:
        conn.close()
        raise


def _print(event: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(event).decode() + "\n")
    else:
        when = dt.datetime.fromtimestamp(event["timestamp"] / 1000, dt.UTC)
        stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        sys.stdout.write(f"{stamp} {event['logStreamName']} {event['message']}\n")
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since, int(time.time() * 1000))
    except ValueError as exc:
        sys.stderr.write(f"logd tail: {exc}\n")
        return 2
    base = [("group", args.group), ("since", str(since)), ("follow", "1" if args.follow else "0")]
    base += [("stream", s) for s in args.stream or ()]
    if args.stream_prefix:
        base.append(("streamPrefix", args.stream_prefix))
    if args.filter_pattern:
        base.append(("filterPattern", args.filter_pattern))
    last: str | None = None
    try:
        while True:
            query = [*base, ("after", last)] if last else base
            try:
                conn, response = _open(args, query)
            except OSError as exc:
                if not args.follow or last is None:
                    raise
                sys.stderr.write(f"logd tail: reconnecting ({exc})\n")
                time.sleep(1.0)
                continue
            if response.status != 200:
                body = orjson.loads(response.read() or b"{}")
                conn.close()
                kind = str(body.get("__type", "error")).rsplit("#", 1)[-1]
                sys.stderr.write(f"logd tail: {kind}: {body.get('message', '')}\n")
                return 1
            try:
                while line := response.readline():
                    if not line.strip():
                        continue  # heartbeat
                    item = orjson.loads(line)
                    if "missed" in item:
                        sys.stderr.write(f"logd tail: ({item['missed']} events missed)\n")
                        continue
                    _print(item, args.json)
                    last = item["eventId"]
            except (OSError, http.client.HTTPException) as exc:
                if not args.follow:
                    raise OSError(f"connection lost: {exc}") from exc
            finally:
                response.close()
                conn.close()
            if not args.follow:
                return 0
            time.sleep(0.2)  # the daemon ended the stream (restart?): resume after `last`
    except KeyboardInterrupt:
        return 130
