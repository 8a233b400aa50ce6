"""Operation handlers, one module per resource family, gathered into one registry.

A handler is ``async def put_log_events(ctx: OpContext, req: dict) -> dict``: `req` is
the request body, already validated against botocore's model; the return value is the
response body; failures are `logd.errors.*`. Adding a family = writing
``logd/api/ops/<family>.py`` with an ``OPERATIONS`` dict (operation name →
`Operation`) and naming the module in `logd.api.ops.registry.FAMILIES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

Body = dict[str, Any]
Handler = Callable[[Any, Body], Awaitable[Body]]


@dataclass(frozen=True, slots=True)
class Operation:
    """A registered operation: its handler and the input members it validates itself."""

    handler: Handler
    skip_validation: frozenset[str] = field(default_factory=frozenset)


def merge(families: Iterable[ModuleType]) -> dict[str, Operation]:
    """Operation name → `Operation` from each module's ``OPERATIONS``; no name twice."""
    registry: dict[str, Operation] = {}
    for module in families:
        for name, entry in module.OPERATIONS.items():
            if name in registry:
                raise ValueError(f"{name} is defined twice (again in {module.__name__})")
            registry[name] = entry
    return registry
