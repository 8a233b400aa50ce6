"""`logd dlq`: the dead-letter store, read and handled offline from the data directory.

    logd dlq list    [--data-dir D | --config C] [--json]
    logd dlq show    SUBSCRIPTION [--data-dir D | --config C] [--json]
    logd dlq replay  SUBSCRIPTION --config C [--sink NAME]
    logd dlq purge   SUBSCRIPTION [--data-dir D | --config C]

A subscription is named `<group>:<filter>`. The commands work on `<data_dir>/dlq`
directly, with or without a running daemon: every rewrite takes the same per-
subscription lock the daemon takes to append, so nothing appended meanwhile is lost.
`replay` builds the letter's sink (or `--sink`) from the config file's
`[sinks.<name>]` table, sends each dead-lettered batch again as it was (same events,
same subscription, so the same idempotency key: receivers drop what they already have),
and removes only the letters the sink acknowledged. A batch it still refuses stays.
Exit codes: 0 done, 1 some letters could not be replayed or nothing matched, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

import orjson

from logd.subscriptions.deadletter import DeadLetter, DeadLetterStore


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dlq",
        help="list, show, replay or purge dead-lettered events",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("action", choices=("list", "show", "replay", "purge"))
    parser.add_argument("subscription", nargs="?", metavar="SUBSCRIPTION", help="GROUP:FILTER")
    parser.add_argument("--data-dir", type=Path, help="the daemon's data directory")
    parser.add_argument("--config", type=Path, help="config file (data dir and sinks)")
    parser.add_argument("--sink", help="replay: send to this sink instead of the letter's")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def _raw_config(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    if args.config is not None:
        daemon = _raw_config(args.config).get("daemon", {})
        return Path(str(daemon.get("data_dir", "./data")))
    return Path("./data")


def run(args: argparse.Namespace) -> int:
    store = DeadLetterStore(_data_dir(args) / "dlq")
    if args.action == "list":
        return _list(store, args.json)
    if not args.subscription:
        sys.stderr.write(f"logd dlq {args.action}: SUBSCRIPTION (GROUP:FILTER) is required\n")
        return 2
    if args.action == "show":
        letters = list(store.letters(args.subscription))
        for letter in letters:
            if args.json:
                sys.stdout.write(orjson.dumps(letter.to_json()).decode() + "\n")
            else:
                sys.stdout.write(
                    f"{letter.idempotency_key} {letter.log_stream} {len(letter.events)} events "
                    f"after {letter.attempts} attempts: {letter.reason}\n"
                )
        return 0 if letters else 1
    if args.action == "purge":
        count = store.purge(args.subscription)
        sys.stdout.write(f"purged {count} dead-lettered batches of {args.subscription}\n")
        return 0
    if args.config is None:
        sys.stderr.write("logd dlq replay: --config is required (it defines the sinks)\n")
        return 2
    return asyncio.run(_replay(store, args))


def _list(store: DeadLetterStore, as_json: bool) -> int:
    for name in store.subscriptions():
        letters = list(store.letters(name))
        events = sum(len(x.events) for x in letters)
        sinks = sorted({x.sink for x in letters})
        row = {
            "subscription": name,
            "batches": len(letters),
            "events": events,
            "oldest": min((x.dead_lettered_at for x in letters), default=None),
            "sinks": sinks,
        }
        if as_json:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
        else:
            shown = ",".join(sinks)
            sys.stdout.write(f"{name}\t{len(letters)} batches\t{events} events\t{shown}\n")
    return 0


def to_batch(letter: DeadLetter, owner: str) -> Any:
    """The dead-lettered batch as it was sent: same ids, so the same idempotency key."""
    from sinks import Batch

    filter_name = letter.subscription.rsplit(":", 1)[-1]
    return Batch(
        owner=owner,
        group=letter.log_group,
        stream=letter.log_stream,
        subscription_filters=(filter_name,),
        subscription=letter.subscription,
        ids=[e["id"] for e in letter.events],
        timestamps=[int(e["timestamp"]) for e in letter.events],
        messages=[e["message"] for e in letter.events],
        ingestion_times=[int(e["ingestionTime"]) for e in letter.events],
        attempt=letter.attempts + 1,
    )


async def _replay(store: DeadLetterStore, args: argparse.Namespace) -> int:
    from logd.subscriptions.delivery import Outcome
    from logd.subscriptions.sinkconfig import build_host, parse_entries

    config = _raw_config(args.config)
    entries = parse_entries(config.get("sinks", {}))
    owner = str(config.get("api", {}).get("account_id", "123456789012"))
    letters = list(store.letters(args.subscription))
    if not letters:
        sys.stderr.write(f"logd dlq replay: no dead letters for {args.subscription}\n")
        return 1
    hosts: dict[str, Any] = {}
    done: list[tuple[str, int]] = []
    failed = 0
    try:
        for letter in letters:
            name = args.sink or letter.sink
            if name not in entries:
                sys.stderr.write(f"logd dlq replay: no sink {name!r} in {args.config}\n")
                failed += 1
                continue
            if name not in hosts:
                hosts[name] = build_host(
                    entries[name], owner=owner, send_timeout_s=30.0, environ=dict(os.environ)
                )
            batch = to_batch(letter, owner)
            result = await hosts[name].send(batch)
            if result.outcome == Outcome.OK:
                done.append((letter.idempotency_key, letter.dead_lettered_at))
            else:
                failed += 1
                sys.stderr.write(f"logd dlq replay: {batch.id} still refused: {result.reason}\n")
    finally:
        for host in hosts.values():
            await host.close()
    removed = store.remove(args.subscription, done)
    sys.stdout.write(f"replayed {removed} batches of {args.subscription}; {failed} remain\n")
    return 1 if failed else 0
