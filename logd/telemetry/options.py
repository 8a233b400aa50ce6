"""Options of logd's own logs and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class TelemetryOptions:
    """logd's own log lines (stderr) and its /metrics endpoint."""

    reloadable: ClassVar[frozenset[str]] = frozenset({"log_level"})

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written to stderr; reloadable with SIGHUP."""
    log_format: Literal["json", "text"] = "json"
    """"json": one JSON object per line; "text": human-readable lines."""
    metrics: bool = True
    """Serve Prometheus metrics on GET /metrics of the API listener."""

    def validate(self) -> None:
        return None
