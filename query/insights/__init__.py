"""The Logs Insights language: grammar, AST, checker, planner, SQL compiler, executor.

text -> `parser.parse` -> `ast.Query` -> `check.check` -> `plan.build` -> `sql.compile_plan`
-> `execute.run_query` (DuckDB) -> `QueryResult`. The daemon calls `run_query` in a worker
thread and maps `InsightsQueryError` to MalformedQueryException.
"""

from query.insights.ast import Query
from query.insights.check import check
from query.insights.execute import (
    QueryCancelled,
    QueryExecutionError,
    QueryHandle,
    QueryResult,
    QueryStatistics,
    decode_ptr,
    run_query,
)
from query.insights.options import InsightsOptions
from query.insights.parser import parse


def parse_query(text: str) -> Query:
    """Parse and check `text`; the `Query` tells the caller its `SOURCE` (if any)."""
    return check(parse(text))


run = run_query

__all__ = [
    "InsightsOptions",
    "Query",
    "QueryCancelled",
    "QueryExecutionError",
    "QueryHandle",
    "QueryResult",
    "QueryStatistics",
    "decode_ptr",
    "parse_query",
    "run",
    "run_query",
]
