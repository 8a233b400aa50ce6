"""Options of subscription delivery: batching, retry and limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfiguredFilter:
    """A subscription filter declared in the config file (`[[subscriptions.filters]]`).

    It appears in DescribeSubscriptionFilters, counts toward the per-group limit and
    cannot be changed or deleted through the API.
    """

    log_group_name: str = ""
    """The log group (must exist when the daemon starts; else it is skipped, logged)."""
    filter_name: str = ""
    """The filter's name, unique in its group."""
    filter_pattern: str = ""
    """Filter pattern; empty = every event."""
    destination_arn: str = ""
    """`arn:logd:sink:<region>:<account>:<sink>`, a bare sink name, or a sink alias."""
    distribution: Literal["ByLogStream", "Random"] = "ByLogStream"
    """`ByLogStream` keeps a stream together and in order; `Random` spreads it."""
    field_selection_criteria: str = ""
    """Select events by system fields, e.g. `@logStream IN ["web-1"]`; empty = all."""
    emit_system_fields: tuple[str, ...] = ()
    """System fields added to each delivered event: `@aws.account`, `@aws.region`,
    `@source.log`."""

    def validate(self) -> None:
        for name in ("log_group_name", "filter_name", "destination_arn"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionOptions:
    """Subscription filters: delivery to sinks, batching, retry, limits."""

    max_filters_per_group: int = 2
    """Subscription filters allowed per log group (CloudWatch's quota is 2)."""
    batch_max_events: int = 10_000
    """A batch closes at this many events."""
    batch_max_bytes: int = 1_048_576
    """A batch closes at this many message bytes (+26 per event); a larger event goes alone."""
    batch_max_wait_ms: int = 100
    """A batch closes this long after its first event arrived."""
    batch_send_when_idle: bool = True
    """Close a batch early when the subscription has read everything the log holds and
    the batch can start at once (low latency at low rates; batches still fill up while
    the sink is busy). false: only size and `batch_max_wait_ms` close a batch."""
    max_in_flight: int = 4
    """Batches of one subscription delivered at once, each of another log stream (a
    stream's batches go one after the other, in order). Sinks that cannot take
    concurrent sends (file, plugins that do not declare it) get one at a time anyway."""
    retry_base_ms: int = 100
    """First backoff ceiling; doubles per attempt (full jitter)."""
    retry_cap_ms: int = 30_000
    """Largest backoff ceiling."""
    retry_max_attempts: int = 0
    """Attempts before a batch is dead-lettered; 0 = retry until it goes through."""
    retry_max_duration_ms: int = 0
    """Time before a retried batch is dead-lettered; 0 = no limit."""
    send_timeout_ms: int = 30_000
    """A send that has not returned after this long counts as a retryable failure."""
    commit_interval_ms: int = 200
    """How often a moving cursor is made durable (after every acknowledged batch at most)."""
    queue_records: int = 64
    """WAL records read ahead of the batcher; bounds memory while a sink is slow."""
    drain_timeout_ms: int = 5_000
    """On shutdown, how long open batches may take to be delivered before logd stops."""
    live_tail_queue_events: int = 10_000
    """Events buffered per live-tail client; a slower client is told how many it missed."""
    live_tail_max_history_events: int = 100_000
    """At most this many past events are replayed when a live tail starts."""
    live_tail_max_sessions: int = 15
    """Concurrent StartLiveTail sessions; one more is LimitExceededException."""
    live_tail_session_timeout_ms: int = 10_800_000
    """A StartLiveTail session ends with SessionTimeoutException after this long (3 h)."""
    live_tail_update_interval_ms: int = 1_000
    """How often a StartLiveTail session sends a sessionUpdate (CloudWatch: every second)."""
    live_tail_max_events_per_update: int = 500
    """Events in one sessionUpdate; more are sampled down to this (sessionMetadata.sampled)."""
    filters: tuple[ConfiguredFilter, ...] = field(default_factory=tuple)
    """Filters declared here (`[[subscriptions.filters]]`) instead of through the API."""

    def validate(self) -> None:
        for name in (
            "max_filters_per_group",
            "batch_max_events",
            "batch_max_bytes",
            "batch_max_wait_ms",
            "retry_base_ms",
            "retry_cap_ms",
            "send_timeout_ms",
            "queue_records",
            "max_in_flight",
            "live_tail_queue_events",
            "live_tail_max_sessions",
            "live_tail_session_timeout_ms",
            "live_tail_update_interval_ms",
            "live_tail_max_events_per_update",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.batch_max_events > 10_000:
            raise ValueError("batch_max_events must be <= 10000")
        seen: set[tuple[str, str]] = set()
        for f in self.filters:
            key = (f.log_group_name, f.filter_name)
            if key in seen:
                raise ValueError(f"filters: {f.filter_name!r} is declared twice for the group")
            seen.add(key)
