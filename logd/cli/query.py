"""`logd query`: run a Logs Insights query on the daemon, or on a plain file.

    logd query 'QUERY' -g GROUP [-g GROUP ...] [--since 1h | --start T [--end T]]
               [--limit N] [--output table|json|jsonl|csv|raw] [--ptr]
    logd query --definition NAME [--var NAME=VALUE ...] [-g GROUP ...] [...]
    logd query --file app.log [--format lines|events] 'QUERY'

The resolved time range and, at the end, the statistics go to stderr, with a warning
when the rows were cut by the row cap. Times: `--since 15m|1h|2d` (default 1h; a file is
read whole unless given a range), or `--start`/`--end` (RFC 3339, `YYYY-MM-DD[ HH:MM[:SS]]`
UTC, epoch seconds or ms); both ends inclusive, to the second on the daemon.
`--definition` runs a saved query definition (its groups unless `-g` is given; `{{name}}`
placeholders from `--var` or their defaults). On a terminal a progress line shows while
the query runs; Ctrl-C sends StopQuery. `--file` needs no daemon (one event per line;
see `query.NdjsonFileSource`).

Exit codes: 0 Complete, 1 the query failed, was cancelled or timed out (or the daemon
refused it), 2 usage, 130 interrupted (the query was stopped).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

from logd import errors
from logd.cli import connection, output
from logd.cli.get import parse_since, parse_time

FINISHED = ("Complete", "Failed", "Cancelled", "Timeout", "Unknown")
ROW_CAP = 10_000
PROGRESS_AFTER_S = 1.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="?", metavar="QUERY", help="the Insights query text")
    parser.add_argument("-g", "--group", action="append", default=[], help="log group or ARN")
    parser.add_argument("--since", help="relative start: 15m, 1h, 2d (default 1h)")
    parser.add_argument("--start", help="absolute start (UTC unless an offset is given)")
    parser.add_argument("--end", help="absolute end, inclusive (default now)")
    parser.add_argument("--limit", type=int, help="row cap when the query has no limit command")
    parser.add_argument("--definition", metavar="NAME", help="run a saved query definition")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--file", help="query this file instead of the daemon")
    parser.add_argument("--format", choices=("lines", "events"), default="lines", help="--file")
    parser.add_argument("--ptr", action="store_true", help="keep the @ptr column")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between polls")
    connection.add_arguments(parser)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "query",
        help="run a Logs Insights query",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def _say(text: str) -> None:
    sys.stderr.write(f"logd query: {text}\n")


def _range(args: argparse.Namespace, now: int, whole: bool) -> tuple[int, int] | None:
    if whole and not (args.since or args.start or args.end):
        return None
    start = parse_time(args.start) if args.start else parse_since(args.since or "1h", now)
    end = parse_time(args.end) if args.end else now
    if start > end:
        raise ValueError("--start is after --end")
    return start, end


def _print(rows: list[list[dict[str, str]]], args: argparse.Namespace) -> None:
    columns: list[str] = []
    for row in rows:
        for cell in row:
            if cell["field"] not in columns and (args.ptr or cell["field"] != "@ptr"):
                columns.append(cell["field"])
    fmt = args.output or output.default_format(sys.stdout)
    dicts = [{c["field"]: c["value"] for c in row} for row in rows]
    raw = "@message" if "@message" in columns else None
    if columns:
        output.write(dicts, columns, fmt, raw_column=raw)


def _statistics(stats: dict[str, float], rows: int, cap: int, has_more: bool) -> None:
    matched, scanned = int(stats.get("recordsMatched", 0)), int(stats.get("recordsScanned", 0))
    nbytes = int(stats.get("bytesScanned", 0))
    _say(f"{rows} rows; {matched} records matched, {scanned} scanned, {nbytes} bytes scanned")
    if has_more:
        _say(f"warning: results truncated at {cap} rows ({matched} records matched)")


def run(args: argparse.Namespace) -> int:
    now = time.time_ns() // 1_000_000
    if args.limit is not None and not 1 <= args.limit <= ROW_CAP:
        _say(f"--limit must be between 1 and {ROW_CAP}")
        return 2
    try:
        span = _range(args, now, whole=args.file is not None)
        variables = dict(_pair(v) for v in args.var)
    except ValueError as exc:
        _say(str(exc))
        return 2
    if args.file is not None:
        return _run_file(args, span)
    if span is None:  # unreachable: only files are read whole
        return 2
    if args.query is None and args.definition is None:
        _say("give a QUERY, --definition NAME or --file PATH")
        return 2
    with connection.connect(args) as client:
        text, groups = args.query, list(args.group)
        if args.definition is not None:
            text, saved_groups = _definition(client, args.definition, variables)
            groups = groups or saved_groups
        start_s, end_s = span[0] // 1000, span[1] // 1000
        _say(f"from {output.iso_ms(start_s * 1000)} to {output.iso_ms(end_s * 1000 + 999)}")
        body: dict[str, Any] = {"queryString": text, "startTime": start_s, "endTime": end_s}
        if groups:
            body["logGroupIdentifiers"] = groups
        if args.limit is not None:
            body["limit"] = args.limit
        query_id = client.call("StartQuery", body)["queryId"]
        try:
            page = _wait(client, query_id, args.interval)
        except KeyboardInterrupt:
            client.call("StopQuery", {"queryId": query_id})
            _say(f"stopped query {query_id}")
            return 130
    status, rows = page["status"], page.get("results", [])
    if status != "Complete":
        _say(f"query {query_id} ended {status}")
        return 1
    _print(rows, args)
    cap = args.limit or ROW_CAP
    matched = page.get("statistics", {}).get("recordsMatched", 0)
    has_more = len(rows) >= cap and matched > len(rows) and "@ptr" in _fields(rows)
    _statistics(page.get("statistics", {}), len(rows), cap, has_more)
    return 0


def _fields(rows: list[list[dict[str, str]]]) -> set[str]:
    return {cell["field"] for row in rows[:1] for cell in row}


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--var takes NAME=VALUE, not {text!r}")
    return name, value


def _definition(client: Any, name: str, variables: dict[str, str]) -> tuple[str, list[str]]:
    from logd.queries.definitions import render
    from logd.queries.history import QueryDefinition, QueryParameter

    body: dict[str, Any] = {"queryDefinitionNamePrefix": name}
    while True:
        page = client.call("DescribeQueryDefinitions", body)
        for d in page.get("queryDefinitions", []):
            if d["name"] == name:
                params = tuple(
                    QueryParameter(p["name"], p.get("defaultValue"), p.get("description"))
                    for p in d.get("parameters", [])
                )
                saved = QueryDefinition(
                    d["queryDefinitionId"], name, d["queryString"], (), params, 0
                )
                return render(saved, variables), list(d.get("logGroupNames", []))
        if not page.get("nextToken"):
            break
        body["nextToken"] = page["nextToken"]
    raise errors.ResourceNotFoundException(f"No query definition is named {name!r}.")


def _wait(client: Any, query_id: str, interval: float) -> dict[str, Any]:
    started = time.monotonic()
    shown = False
    try:
        while True:
            page: dict[str, Any] = client.call("GetQueryResults", {"queryId": query_id})
            if page["status"] in FINISHED:
                break
            elapsed = time.monotonic() - started
            if sys.stderr.isatty() and elapsed >= PROGRESS_AFTER_S:
                sys.stderr.write(f"\rlogd query: {page['status']} for {elapsed:.0f}s ")
                sys.stderr.flush()
                shown = True
            time.sleep(interval)
    finally:
        if shown:
            sys.stderr.write("\r\x1b[K")
    rows: list[Any] = list(page.get("results", []))
    while page.get("nextToken"):
        page = {
            **client.call("GetQueryResults", {"queryId": query_id, "nextToken": page["nextToken"]}),
            "status": page["status"],
        }
        rows += page.get("results", [])
    page["results"] = rows
    return page


def _run_file(args: argparse.Namespace, span: tuple[int, int] | None) -> int:
    from query import InsightsQueryError, NdjsonFileSource, run_query

    text = args.query
    if text is None:
        _say("--file needs a QUERY")
        return 2
    start, end = span if span is not None else (0, 2**62)
    if span is not None:
        _say(f"from {output.iso_ms(start)} to {output.iso_ms(end)}")
    source = NdjsonFileSource(args.file, format=args.format)
    groups: Sequence[str] = args.group
    try:
        result = run_query(
            text, source, groups=groups, start_ms=start, end_ms=end + 1, limit=args.limit
        )
    except InsightsQueryError as exc:
        _say(f"line {exc.line}, column {exc.column}: {exc.message}")
        if exc.excerpt:
            sys.stderr.write(exc.excerpt + "\n")
        return 1
    _print(result.to_cloudwatch(), args)
    cap = args.limit or ROW_CAP
    _statistics(result.statistics.to_cloudwatch(), len(result.rows), cap, result.truncated)
    return 0
