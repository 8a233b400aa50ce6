"""The two languages over log events: filter patterns and Logs Insights.

Usable on its own; imports nothing from logd.
"""

from query.errors import FilterPatternError, InsightsQueryError, QueryError
from query.files import NdjsonFileSource, ParquetFileSource
from query.filterpattern import EventView, FilterPattern, JsonCache
from query.filterpattern import compile_pattern as compile_filter_pattern
from query.insights import (
    InsightsOptions,
    QueryCancelled,
    QueryExecutionError,
    QueryHandle,
    QueryResult,
    QueryStatistics,
    decode_ptr,
    parse_query,
    run_query,
)
from query.source import EventSource

__all__: list[str] = []
# filter patterns
__all__ += ["EventView", "FilterPattern", "JsonCache", "compile_filter_pattern"]
# Logs Insights
__all__ += [
    "EventSource",
    "InsightsOptions",
    "NdjsonFileSource",
    "ParquetFileSource",
    "QueryCancelled",
    "QueryExecutionError",
    "QueryHandle",
    "QueryResult",
    "QueryStatistics",
    "decode_ptr",
    "parse_query",
    "run_query",
]
# errors
__all__ += ["FilterPatternError", "InsightsQueryError", "QueryError"]
