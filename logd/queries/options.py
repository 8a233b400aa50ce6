"""Options of Logs Insights queries in the daemon: the `[queries]` table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryOptions:
    """Logs Insights in the daemon: the worker pool, time limits, what is remembered."""

    max_running: int = 4
    """Queries that run at once (one worker thread each); the rest wait as `Scheduled`."""

    max_active: int = 30
    """Running plus scheduled queries; StartQuery beyond it is LimitExceededException
    (CloudWatch's concurrent-query quota per account)."""

    timeout_ms: int = 900_000
    """A query running longer ends with status `Timeout` (CloudWatch: 60 minutes; logd's
    default is 15, insights-query-language.md §6.5)."""

    results_ttl_ms: int = 3_600_000
    """How long a finished query's rows stay available to GetQueryResults."""

    max_kept_results: int = 200
    """Finished queries whose rows are kept in memory at most (oldest dropped first)."""

    history_limit: int = 10_000
    """Queries remembered for DescribeQueries (oldest forgotten first)."""

    max_definitions: int = 1_000
    """Saved query definitions at most; PutQueryDefinition beyond is LimitExceededException."""

    threads: int = 1
    """DuckDB threads per query."""

    memory_limit_mb: int = 1024
    """DuckDB memory limit per query, in MiB."""

    temp_directory: str = ""
    """Where DuckDB may spill large sorts and aggregations; empty: no spilling."""

    def validate(self) -> None:
        if self.max_running < 1:
            raise ValueError("max_running must be at least 1")
        if self.max_active < self.max_running:
            raise ValueError("max_active must be at least max_running")
        if self.timeout_ms < 1:
            raise ValueError("timeout_ms must be at least 1")
        if self.results_ttl_ms < 0 or self.max_kept_results < 0:
            raise ValueError("results_ttl_ms and max_kept_results must not be negative")
        if self.history_limit < 1 or self.max_definitions < 1:
            raise ValueError("history_limit and max_definitions must be at least 1")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")
        if self.memory_limit_mb < 16:
            raise ValueError("memory_limit_mb must be at least 16")
