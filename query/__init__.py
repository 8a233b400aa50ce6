"""The two languages over log events: filter patterns and Logs Insights.

Usable on its own; imports nothing from logd.
"""

from query.errors import InsightsQueryError, QueryError
from query.files import NdjsonFileSource, ParquetFileSource
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

__all__: list[str] = [
    "EventSource",
    "InsightsOptions",
    "InsightsQueryError",
    "NdjsonFileSource",
    "ParquetFileSource",
    "QueryCancelled",
    "QueryError",
    "QueryExecutionError",
    "QueryHandle",
    "QueryResult",
    "QueryStatistics",
    "decode_ptr",
    "parse_query",
    "run_query",
]
