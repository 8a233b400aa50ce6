"""Errors of the query languages: every one says where in the query text it went wrong.

The tree::

    QueryError(message, *, line, column, excerpt)     a query text that cannot be used
     ├── FilterPatternError(message, offset, pattern)  a filter pattern is refused
     │                                                 (CloudWatch: InvalidParameterException)
     └── InsightsQueryError(message, *, line, column, excerpt, start, end)
                                                       an Insights query is refused
                                                       (CloudWatch: MalformedQueryException)

`line` and `column` are 1-based; for a filter pattern `excerpt` is the line of the text the
fault is on, so that `caret()` can point at it; an Insights error's excerpt already carries
its caret line. Nothing here knows HTTP: the daemon maps these classes
to CloudWatch's `__type` in one place (`logd/api/errors.py`).
"""

from __future__ import annotations

__all__ = ["FilterPatternError", "InsightsQueryError", "QueryError"]


class QueryError(Exception):
    """A query text that cannot be parsed, checked or planned."""

    def __init__(self, message: str, *, line: int, column: int, excerpt: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.excerpt = excerpt

    def caret(self) -> str:
        """The excerpt with a caret under the fault's column (empty without an excerpt)."""
        if not self.excerpt:
            return ""
        # Tabs stay tabs so that the caret lines up in a terminal.
        pad = "".join("\t" if ch == "\t" else " " for ch in self.excerpt[: self.column - 1])
        return f"{self.excerpt}\n{pad}^"

    def headline(self) -> str:
        """One line: where and what, for an API error message or a log record."""
        return f"line {self.line}, column {self.column}: {self.message}"

    def __str__(self) -> str:
        caret = self.caret()
        return f"{self.headline()}\n{caret}" if caret else self.headline()

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments: pickle (worker threads, processes) needs the recipe.
        return (
            _rebuild_query_error,
            (type(self), self.message, self.line, self.column, self.excerpt),
        )


class FilterPatternError(QueryError):
    """A filter pattern that CloudWatch refuses with InvalidParameterException.

    `offset` is the 0-based index into the pattern text of the character at fault (the
    pattern's length when the text ended too soon); `position` is the same number.
    """

    def __init__(self, message: str, offset: int, *, pattern: str = "") -> None:
        offset = max(0, min(offset, len(pattern))) if pattern else max(0, offset)
        before = pattern[:offset]
        line = before.count("\n") + 1
        start = before.rfind("\n") + 1
        end = pattern.find("\n", offset)
        excerpt = pattern[start : end if end >= 0 else len(pattern)]
        super().__init__(message, line=line, column=offset - start + 1, excerpt=excerpt)
        self.offset = offset
        self.pattern = pattern

    @property
    def position(self) -> int:
        """The 0-based offset of the fault (the name docs/internals.md uses)."""
        return self.offset

    def headline(self) -> str:
        if self.line == 1:
            return f"Invalid filter pattern at column {self.column}: {self.message}"
        return f"Invalid filter pattern at line {self.line}, column {self.column}: {self.message}"

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_filter_pattern_error, (self.message, self.offset, self.pattern))


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

    def caret(self) -> str:
        return self.excerpt  # rendered with its caret by the Insights parser

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_insights_error,
            (self.message, self.line, self.column, self.excerpt, self.start, self.end),
        )


def _rebuild_insights_error(
    message: str, line: int, column: int, excerpt: str, start: int, end: int
) -> InsightsQueryError:
    return InsightsQueryError(
        message, line=line, column=column, excerpt=excerpt, start=start, end=end
    )


def _rebuild_query_error(
    cls: type[QueryError], message: str, line: int, column: int, excerpt: str
) -> QueryError:
    return cls(message, line=line, column=column, excerpt=excerpt)


def _rebuild_filter_pattern_error(message: str, offset: int, pattern: str) -> FilterPatternError:
    return FilterPatternError(message, offset, pattern=pattern)
