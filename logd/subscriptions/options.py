"""Options of subscription delivery: batching, retry and limits."""

from __future__ import annotations

from dataclasses import dataclass

from logd.errors import InvalidParameterException


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionOptions:
    max_filters_per_group: int = 2
    """Subscription filters allowed per log group (CloudWatch's quota is 2)."""
    batch_max_events: int = 10_000
    """A batch closes at this many events."""
    batch_max_bytes: int = 1_048_576
    """A batch closes at this many message bytes (+26 per event); a larger event goes alone."""
    batch_max_wait_ms: int = 100
    """A batch closes this long after its first event arrived."""
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
        ):
            if getattr(self, name) <= 0:
                raise InvalidParameterException(f"subscriptions.{name} must be positive")
        if self.batch_max_events > 10_000:
            raise InvalidParameterException("subscriptions.batch_max_events must be <= 10000")
