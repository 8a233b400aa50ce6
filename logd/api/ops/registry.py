"""The one place the API's operations are gathered: every ops module, once.

Families written against `OpContext` export ``OPERATIONS`` of `Operation`s. The export
family's handlers take the `ExportService` itself (``logd/api/ops/export.py``); they are
adapted here so that they see ``ctx.export``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from logd import errors
from logd.api.ops import (
    Body,
    Handler,
    Operation,
    events,
    export,
    filter_events,
    groups,
    merge,
    metric_filters,
    queries,
    retention,
    streams,
    subscriptions,
    tags,
)
from logd.api.ops.base import OpContext
from logd.export.tasks import ExportService
from logd.queries import QueryService
from logd.subscriptions.service import SubscriptionService

FAMILIES = (groups, streams, events, retention, tags, filter_events, metric_filters)


def _on_export(handler: Callable[[ExportService, Body], Awaitable[Body]]) -> Handler:
    async def run(ctx: OpContext, req: Body) -> Body:
        if ctx.export is None:
            raise errors.InvalidOperationException("Export tasks are not enabled on this logd.")
        return await handler(ctx.export, req)

    return run


def _on_queries(handler: Callable[[QueryService, Body], Awaitable[Body]]) -> Handler:
    async def run(ctx: OpContext, req: Body) -> Body:
        if ctx.queries is None:
            raise errors.InvalidOperationException("Logs Insights is not enabled on this logd.")
        return await handler(ctx.queries, req)

    return run


def _on_subscriptions(handler: Callable[[SubscriptionService, Body], Awaitable[Body]]) -> Handler:
    async def run(ctx: OpContext, req: Body) -> Body:
        if ctx.subscriptions is None:
            raise errors.InvalidOperationException("Subscriptions are not enabled on this logd.")
        return await handler(ctx.subscriptions, req)

    return run


def build_registry() -> dict[str, Operation]:
    adapted: Any = SimpleNamespace(
        __name__=export.__name__,
        OPERATIONS={name: Operation(_on_export(h)) for name, h in export.OPERATIONS.items()},
    )
    insights: Any = SimpleNamespace(
        __name__=queries.__name__,
        OPERATIONS={name: Operation(_on_queries(h)) for name, h in queries.OPERATIONS.items()},
    )
    subs: Any = SimpleNamespace(
        __name__=subscriptions.__name__,
        OPERATIONS={
            n: Operation(_on_subscriptions(h)) for n, h in subscriptions.OPERATIONS.items()
        },
    )
    return merge([*FAMILIES, adapted, insights, subs])
