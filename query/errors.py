"""Errors of the query languages.

```
Exception
 └── QueryError             a query (filter pattern or Insights) that cannot run as written
      └── InsightsQueryError   an Insights query; adds character offsets for queryCompileError
```

The daemon maps `QueryError` to `MalformedQueryException` (Insights) or
`InvalidParameterException` (filter patterns); the message never contains SQL.
"""

from __future__ import annotations


class QueryError(Exception):
    """A query that cannot run as written, with its 1-based line and column."""

    def __init__(self, message: str, *, line: int, column: int, excerpt: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = excerpt

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}: {self.message}"
        return f"{where}\n{self.excerpt}" if self.excerpt else where


class InsightsQueryError(QueryError):
    """An Insights query error; `start`/`end` are 0-based character offsets (end exclusive)."""

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int,
        excerpt: str = "",
        start: int = 0,
        end: int = 0,
    ) -> None:
        super().__init__(message, line=line, column=column, excerpt=excerpt)
        self.start = start
        self.end = end
