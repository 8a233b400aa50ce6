"""What every operation handler gets (`OpContext`) and small helpers they share."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from logd import errors
from logd.api.auth import group_from_identifier
from logd.api.validation import Validator
from logd.clock import Clock
from logd.model import Scope
from logd.telemetry.metrics import DaemonMetrics

if TYPE_CHECKING:
    from logd.export.tasks import ExportService
    from logd.filterevents import PageDatabase
    from logd.metricfilters import MetricFilterService
    from logd.queries import QueryService
    from logd.store.store import Store
    from logd.subscriptions.service import SubscriptionService

Body = dict[str, Any]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OpContext:
    """Everything a handler may touch: the store, services, clock, ARN scope, metrics."""

    store: Store
    clock: Clock
    scope: Scope
    metrics: DaemonMetrics
    validator: Validator
    export: ExportService | None = None
    metric_filters: MetricFilterService | None = None
    queries: QueryService | None = None
    subscriptions: SubscriptionService | None = None
    filter_database: PageDatabase | None = None  # FilterLogEvents' shared DuckDB database


async def blocking(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a catalog change (SQLite, fsync) off the event loop."""
    return await asyncio.to_thread(call, *args, **kwargs)


def one_group(req: Body) -> str:
    """Exactly one of logGroupName / logGroupIdentifier (logs-api.md §5.3)."""
    name, identifier = req.get("logGroupName"), req.get("logGroupIdentifier")
    if (name is None) == (identifier is None):
        raise errors.InvalidParameterException(
            "Exactly one of logGroupName or logGroupIdentifier must be specified."
        )
    return str(name) if name is not None else group_from_identifier(str(identifier))
