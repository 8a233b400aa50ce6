"""Options of the tail agent: one `[[tail]]` entry (`TailOptions`) and the agent (`AgentOptions`).

One field per config key, each with a default and a docstring; `validate()` checks what
crosses fields. `from_mapping` refuses unknown keys and lists the allowed ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import re2

from logd.model import EVENT_OVERHEAD_BYTES, MAX_BATCH_BYTES, RETENTION_DAYS

#: CloudWatch's largest message: one event of a full batch (1 MiB minus 26 bytes).
MAX_EVENT_BYTES = MAX_BATCH_BYTES - EVENT_OVERHEAD_BYTES

ReadFrom = Literal["head", "tail"]
LongLines = Literal["split", "truncate", "drop"]
OutOfWindow = Literal["drop", "read_time", "keep"]
WatchMode = Literal["auto", "inotify", "poll"]

_RE2_QUIET = re2.Options()
_RE2_QUIET.log_errors = False  # the error is reported as a config problem


class OptionsError(ValueError):
    """A config value is wrong; the message names the key path."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TailOptions:
    """One `[[tail]]` entry: which files, where their events go, how lines become events."""

    id: str = ""
    """Stable id of this entry; checkpoints are namespaced by it (default: the log group)."""
    paths: tuple[str, ...] = ()
    """Globs of files to follow; `**` matches any number of directories."""
    exclude: tuple[str, ...] = ("*.gz", "*.zst", "*.xz", "*.bz2")
    """Globs (matched against the full path and the file name) never followed."""
    log_group: str = ""
    """Log group the events go to (may use the stream template fields)."""
    retention_in_days: int = 0
    """Retention of the log group when the agent creates it (0: never expire); a group
    that already exists keeps its own."""
    log_stream: str = "{hostname}/{filename}"
    """Stream name template: {hostname} {local_hostname} {filename} {path} {instance_id}
    {ip_address} {date:%Y-%m-%d}."""
    encoding: str = "utf-8"
    """Python codec of the file; invalid bytes become U+FFFD and are counted."""
    read_from: ReadFrom = "head"
    """Where files found at the entry's first start (no state at all) begin: head or tail.
    Files discovered later are always read from the head; saved state always wins."""
    ignore_older_s: float = 0.0
    """If > 0, files whose mtime is older than this when first seen are remembered at
    their current size instead of being read (0 = off)."""
    multiline_start_pattern: str = ""
    """RE2 pattern a line matching which starts a new event; other lines continue it.
    `{timestamp_format}` stands for the entry's timestamp_format as a pattern."""
    multiline_flush_timeout_ms: int = 1000
    """An open multi-line event is emitted after this long without new bytes."""
    multiline_max_lines: int = 500
    """A multi-line event is cut after this many lines."""
    max_event_bytes: int = MAX_EVENT_BYTES
    """Largest message in UTF-8 bytes (CloudWatch: 1 MiB - 26)."""
    long_lines: LongLines = "split"
    """Lines over max_event_bytes: split into parts sharing a timestamp, truncate (with
    the marker) or drop. Each is counted; the file keeps being tailed."""
    truncate_marker: str = "[truncated]"
    """Appended to a line cut by long_lines = "truncate"."""
    timestamp_format: str = ""
    """strftime format (%Y %m %d %H %M %S %f %z %b ...), or epoch_s, epoch_ms, epoch_us,
    epoch_ns, rfc3339. Empty: the read time."""
    timestamp_key: str = ""
    """Dotted JSON path holding the timestamp (the line must be a JSON object)."""
    timezone: str = "utc"
    """Zone of timestamps without an offset: utc, local or an IANA name."""
    out_of_window: OutOfWindow = "drop"
    """Events older than 14 days or newer than now + 2 h: drop (counted), read_time
    (stamped with the read time, counted) or keep (left to the store, which rejects them)."""

    def validate(self, where: str = "tail") -> None:
        if not self.paths:
            raise OptionsError(f"{where}.paths: at least one glob is required")
        if not self.log_group:
            raise OptionsError(f"{where}.log_group: required")
        if self.retention_in_days and self.retention_in_days not in RETENTION_DAYS:
            allowed = ", ".join(map(str, RETENTION_DAYS))
            raise OptionsError(f"{where}.retention_in_days: must be 0 or one of {allowed}")
        if not 1 <= self.max_event_bytes <= MAX_EVENT_BYTES:
            raise OptionsError(f"{where}.max_event_bytes: must be in 1..{MAX_EVENT_BYTES}")
        if self.long_lines == "truncate" and len(self.truncate_marker.encode()) >= (
            self.max_event_bytes
        ):
            raise OptionsError(f"{where}.truncate_marker: longer than max_event_bytes")
        if self.multiline_max_lines < 1:
            raise OptionsError(f"{where}.multiline_max_lines: must be >= 1")
        if self.multiline_flush_timeout_ms < 0:
            raise OptionsError(f"{where}.multiline_flush_timeout_ms: must be >= 0")
        try:
            "".encode(self.encoding)
        except LookupError:
            raise OptionsError(f"{where}.encoding: unknown codec {self.encoding!r}") from None
        self._check_patterns(where)

    def _check_patterns(self, where: str) -> None:
        """The timestamp format, zone and multiline pattern compile as the agent compiles
        them, so a bad one is a config problem, not a failure when the agent starts."""
        from logd.tail.timestamps import TimestampParser, format_to_pattern

        if self.timestamp_format or self.timestamp_key:
            try:
                TimestampParser(self.timestamp_format, key=self.timestamp_key, timezone="utc")
            except ValueError as exc:
                raise OptionsError(f"{where}.timestamp_format: {exc}") from None
        try:
            TimestampParser("", timezone=self.timezone)
        except (ValueError, LookupError):
            raise OptionsError(f"{where}.timezone: unknown time zone {self.timezone!r}") from None
        if self.multiline_start_pattern:
            pattern = self.multiline_start_pattern.replace(
                "{timestamp_format}", format_to_pattern(self.timestamp_format or "rfc3339")
            )
            try:
                re2.compile(pattern, _RE2_QUIET)
            except re2.error as exc:
                reason = (
                    exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                )
                raise OptionsError(
                    f"{where}.multiline_start_pattern: not a valid RE2 pattern ({reason})"
                ) from None

    @property
    def source_id(self) -> str:
        return self.id or self.log_group


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSettings:
    """The tail agent as a whole: scanning, budgets, and for `logd agent`, shipping. The
    files it follows are the `[[tail]]` tables."""

    scan_interval_ms: int = 1000
    """Glob re-scan and stat reconcile period; alone it is correct (inotify only speeds up)."""
    watch_mode: WatchMode = "auto"
    """auto (inotify unless the file system is a network or FUSE one), inotify or poll."""
    max_open_files: int = 512
    """Budget of open descriptors; least recently active idle files are closed first."""
    read_chunk_bytes: int = 1 << 20
    """Bytes read per file per turn (fair scheduling across files)."""
    workers: int = 8
    """Files read and emitted concurrently (each waits for its own emit)."""
    rotate_wait_ms: int = 5000
    """A renamed or deleted file is kept open this long after its last byte was read."""
    deleted_hold_max_ms: int = 600_000
    """A deleted file held open by backpressure is released after this long; its unread
    bytes are counted as lost."""
    instance_id: str = ""
    """{instance_id} in templates (default: /etc/machine-id, else the hostname)."""
    hostname: str = ""
    """{hostname} in templates (default: the machine's host name)."""
    # `logd agent` (shipper) only:
    endpoint_url: str = ""
    """PutLogEvents endpoint (a remote logd or CloudWatch Logs); empty: AWS for region."""
    region: str = "us-east-1"
    """SigV4 region."""
    state_file: str = "logd-agent.state"
    """`logd agent` only: checkpoints saved after each acknowledged PutLogEvents."""
    batch_wait_ms: int = 200
    """`logd agent` only: longest wait to fill a PutLogEvents batch."""
    max_retries: int = 0
    """`logd agent` only: retries of a failing request before giving up (0 = forever)."""

    def validate(self) -> None:
        if self.scan_interval_ms < 10:
            raise OptionsError("agent.scan_interval_ms: must be >= 10")
        if self.max_open_files < 4:
            raise OptionsError("agent.max_open_files: must be >= 4")
        if self.read_chunk_bytes < MAX_BATCH_BYTES:
            raise OptionsError(f"agent.read_chunk_bytes: must be >= {MAX_BATCH_BYTES}")
        if self.workers < 1:
            raise OptionsError("agent.workers: must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentOptions(AgentSettings):
    """The `[agent]` table with its `[[tail]]` entries: what `TailAgent` runs."""

    tails: tuple[TailOptions, ...] = field(default_factory=tuple)
    """The `[[tail]]` entries."""

    @classmethod
    def of(cls, agent: AgentSettings, tails: tuple[TailOptions, ...]) -> AgentOptions:
        values = {f.name: getattr(agent, f.name) for f in dataclasses.fields(AgentSettings)}
        return cls(**values, tails=tails)

    def validate(self) -> None:
        AgentSettings.validate(self)
        ids = [t.source_id for t in self.tails]
        for i, tail in enumerate(self.tails):
            tail.validate(f"tail[{i}]")
            if ids.count(tail.source_id) > 1:
                raise OptionsError(f"tail[{i}].id: {tail.source_id!r} is used twice")


T = TypeVar("T", TailOptions, AgentOptions)


def from_mapping(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build `cls` from a TOML table, refusing unknown keys (the message lists the allowed)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields or key == "tails":
            allowed = ", ".join(sorted(k for k in fields if k != "tails"))
            raise OptionsError(f"{where}.{key}: unknown key; allowed: {allowed}")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise OptionsError(f"{where}.{key}: expected a list of strings")
            value = tuple(value)
        elif isinstance(default, Path):
            value = Path(value)
        elif isinstance(default, bool) or not isinstance(value, type(default)):
            if isinstance(default, float) and isinstance(value, int):
                value = float(value)
            else:
                raise OptionsError(
                    f"{where}.{key}: expected {type(default).__name__}, got {value!r}"
                )
        kwargs[key] = value
    return cls(**kwargs)


def agent_from_mapping(data: Mapping[str, Any]) -> AgentOptions:
    """`{"agent": {...}, "tail": [{...}, ...]}` (a parsed TOML file) → validated options."""
    unknown = set(data) - {"agent", "tail"}
    if unknown:
        raise OptionsError(f"{sorted(unknown)[0]}: unknown table; allowed: agent, tail")
    tails = tuple(
        from_mapping(TailOptions, entry, f"tail[{i}]")
        for i, entry in enumerate(data.get("tail", []))
    )
    agent = from_mapping(AgentOptions, data.get("agent", {}), "agent")
    agent = dataclasses.replace(agent, tails=tails)
    agent.validate()
    return agent
