"""Options of the Insights engine (one field per config key)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class InsightsOptions:
    threads: int = 1
    """DuckDB worker threads per query (queries must not starve ingestion)."""

    memory_limit_mb: int = 1024
    """DuckDB memory limit per query, in MiB; a query that needs more fails cleanly."""

    temp_directory: str | None = None
    """Where DuckDB may spill large sorts and aggregations; None: no spilling."""

    def validate(self) -> None:
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.memory_limit_mb < 16:
            raise ValueError("memory_limit_mb must be at least 16")
