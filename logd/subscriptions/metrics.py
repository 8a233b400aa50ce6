"""Per-subscription metrics, filled from `SubscriptionService.figures()` on collect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logd.telemetry.metrics import Counter, Registry, SubscriptionMetrics

if TYPE_CHECKING:
    from logd.subscriptions.service import SubscriptionService


def register_metrics(
    service: SubscriptionService, metrics: SubscriptionMetrics, registry: Registry
) -> None:
    """Fill `metrics` from `service.figures()` before each exposition."""
    seen: dict[tuple[str, ...], float] = {}

    def bump(counter: Counter, value: float, **labels: str) -> None:
        key = (counter.name, *labels.values())
        delta = value - seen.get(key, 0.0)
        if delta > 0:
            counter.inc(delta, **labels)
        seen[key] = value

    def collect() -> None:
        m = metrics
        m.lag_bytes.clear()
        m.lag_seconds.clear()
        m.state.clear()
        for f in service.figures():
            sub = f.subscription
            bump(m.delivered_events, f.delivered_events, subscription=sub, sink=f.sink)
            bump(m.delivered_batches, f.delivered_batches, subscription=sub, sink=f.sink)
            for cls, n in f.retries_by_class.items():
                bump(m.retries, n, subscription=sub, **{"class": cls})
            bump(m.failed_attempts, f.failed_attempts, subscription=sub)
            bump(m.dead_lettered_events, f.dead_lettered_events, subscription=sub)
            m.lag_bytes.set(f.lag_bytes, subscription=sub)
            m.lag_seconds.set(f.lag_seconds, subscription=sub)
            m.state.set(1, subscription=sub, state=f.state)

    registry.on_collect(collect)
