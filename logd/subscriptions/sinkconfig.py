"""`[sinks.<name>]` tables → sink hosts, and destination ARNs → sink names.

A sink table holds the sink's own options plus the keys logd reads itself:

- `type` (required): the sink type, looked up in the `logd.sinks` entry-point group
  (`sinks.discovery`; built-ins `kafka`, `file`, `webhook` use the same door);
- `validate_on_put` (default true): PutSubscriptionFilter sends one CONTROL_MESSAGE to a
  `cloudwatch`-rendering sink and refuses the filter if it is not acknowledged;
- `aliases` (default []): other destination ARNs (Kinesis, Firehose, Lambda, logs
  destinations) that name this sink, so existing infrastructure code keeps working.

A subscription filter names its sink by `destinationArn`, in one of three forms:
`arn:logd:sink:<region>:<account>:<sink-name>` (the canonical form; region and account
are those of this logd's `[api]` scope, other values are refused), the bare sink name,
or an exact alias.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from logd.model import Scope
from logd.subscriptions.sinkhost import SinkHost
from sinks import Sink, SinkContext, SinkOptionsError, discovery

COMMON_KEYS = ("type", "validate_on_put", "aliases")


@dataclass(frozen=True, slots=True)
class SinkEntry:
    """One parsed `[sinks.<name>]` table."""

    name: str
    type: str
    validate_on_put: bool
    aliases: tuple[str, ...]
    options: Mapping[str, object]
    """The sink's own keys (everything but `COMMON_KEYS`)."""


def parse_entries(tables: Mapping[str, Mapping[str, Any]]) -> dict[str, SinkEntry]:
    """Parse every table; one SinkOptionsError lists all problems with `sinks.<name>` paths.

    Loads each named sink type (and only those) and parses its options, so a bad plugin
    or a bad key is found before the daemon starts.
    """
    problems: list[tuple[str, str]] = []
    entries: dict[str, SinkEntry] = {}
    aliases: dict[str, str] = {}
    for name, table in tables.items():
        path = f"sinks.{name}"
        kind = table.get("type")
        if not isinstance(kind, str) or not kind:
            problems.append((f"{path}.type", "required key is missing (a sink type)"))
            continue
        validate_on_put = table.get("validate_on_put", True)
        if not isinstance(validate_on_put, bool):
            problems.append((f"{path}.validate_on_put", "expected a boolean"))
            continue
        raw_aliases = table.get("aliases", [])
        if not isinstance(raw_aliases, list | tuple) or not all(
            isinstance(a, str) for a in raw_aliases
        ):
            problems.append((f"{path}.aliases", "expected an array of strings"))
            continue
        for alias in raw_aliases:
            if alias in aliases:
                problems.append(
                    (f"{path}.aliases", f"{alias!r} is also an alias of {aliases[alias]}")
                )
            aliases[alias] = name
        own = {k: v for k, v in table.items() if k not in COMMON_KEYS}
        try:
            discovery.parse_options(kind, own, path=path)
        except SinkOptionsError as exc:
            problems.extend(exc.problems)
            continue
        except ImportError as exc:  # SinkPluginError: unknown or broken plugin
            problems.append((f"{path}.type", str(exc)))
            continue
        entries[name] = SinkEntry(name, kind, validate_on_put, tuple(raw_aliases), own)
    if problems:
        raise SinkOptionsError(problems)
    return entries


def build_host(
    entry: SinkEntry,
    *,
    owner: str,
    send_timeout_s: float,
    environ: Mapping[str, str] | None = None,
) -> SinkHost:
    """An unstarted sink behind its host (the host starts it on first use)."""
    context = SinkContext.create(entry.type, entry.name, environ=environ)
    sink: Sink[Any] = discovery.create(
        entry.type, entry.options, context, path=f"sinks.{entry.name}"
    )
    return SinkHost(
        entry.name, sink, owner=owner, rendering_type=entry.type, send_timeout_s=send_timeout_s
    )


def sink_arn(scope: Scope, name: str) -> str:
    """The canonical destination ARN of sink `name`."""
    return f"arn:logd:sink:{scope.region}:{scope.account}:{name}"


def resolve(destination_arn: str, entries: Mapping[str, SinkEntry], scope: Scope) -> str | None:
    """The sink a `destinationArn` names, or None."""
    if destination_arn.startswith("arn:logd:sink:"):
        parts = destination_arn.split(":", 5)
        if len(parts) != 6 or (parts[3], parts[4]) != (scope.region, scope.account):
            return None
        return parts[5] if parts[5] in entries else None
    if destination_arn in entries:
        return destination_arn
    for entry in entries.values():
        if destination_arn in entry.aliases:
            return entry.name
    return None
