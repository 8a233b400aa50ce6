"""FilterPattern: one compiled pattern, usable as a predicate, as SQL and for metric values."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Literal, cast

from query.errors import FilterPatternError

from . import ast
from .compile import JsonMatcher, Matcher, SpaceMatcher, build_matcher
from .jsonpred import NOT_JSON, EventView, JsonCache, parse_json, resolver
from .parser import parse, parse_metric_selector, regexes_of
from .sql import to_sql

__all__ = ["FilterPattern", "compile_pattern"]

Family = Literal["all", "terms", "regex", "json", "space"]
_FAMILIES: dict[type, Family] = {
    ast.MatchAll: "all",
    ast.TermsPattern: "terms",
    ast.RegexPattern: "regex",
    ast.JsonPattern: "json",
    ast.SpacePattern: "space",
}


def compile_pattern(text: str) -> FilterPattern:
    """Parse and compile a filter pattern; raises FilterPatternError at the fault."""
    return FilterPattern(text)


class FilterPattern:
    """A compiled filter pattern. Immutable and safe to share between threads.

    - `matches(message)` / `match_batch(messages, parsed_cache)`: the predicate;
    - `sql(column)`: the same predicate as DuckDB SQL with bound parameters;
    - `test(message)` / `fields(message)`: TestMetricFilter's `extractedValues`;
    - `extract(message, selector)`: a metric filter's `$.path` / `$name` value.
    """

    __slots__ = ("_matcher", "ast", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ast: ast.Pattern = parse(text)
        self._matcher: Matcher = build_matcher(self.ast, text)

    @property
    def family(self) -> Family:
        """all, terms, regex, json or space (docs/filter-patterns.md section 1)."""
        return _FAMILIES[type(self.ast)]

    @property
    def uses_regex(self) -> bool:
        """True when the pattern holds a regex (`%...%`): CloudWatch allows at most five
        such metric and subscription filters per log group."""
        return bool(regexes_of(self.ast))

    @property
    def uses_json(self) -> bool:
        """True when matching parses messages as JSON (share a JsonCache between such filters)."""
        return self._matcher.uses_json

    def matches(self, message: str | EventView) -> bool:
        if isinstance(message, EventView):
            return self._matcher.matches(message.message, message)
        return self._matcher.matches(message)

    def match_batch(
        self, messages: Sequence[str], parsed_cache: JsonCache | None = None
    ) -> list[bool]:
        """One bool per message. Pass one `JsonCache(messages)` to every filter of a batch so
        that each message is parsed as JSON at most once."""
        return self._matcher.batch(messages, parsed_cache)

    def sql(
        self, column: str = "message", fields: Mapping[str, str] | None = None
    ) -> tuple[str, list[object]]:
        """A DuckDB boolean expression over `column` and its parameters (`$1`, `$2`, ...).

        `fields`: the relation's typed columns (`f.<dotted.path>` -> DuckDB type), which a
        JSON pattern uses to skip most JSON parsing; the answers are the same without."""
        typed = tuple(sorted((fields or {}).items()))
        text, params = _sql(self.ast, column, typed)
        return text, list(params)

    def test(self, message: str) -> dict[str, str] | None:
        """None when the message does not match, else its extractedValues."""
        if not self._matcher.matches(message):
            return None
        return self._matcher.extracted(message)

    def fields(self, message: str) -> dict[str, str]:
        """extractedValues of the message ({} when it does not match or has no fields)."""
        return self.test(message) or {}

    def check_selector(self, selector: str) -> None:
        """Raise FilterPatternError unless `selector` can name a value of this pattern's events.

        JSON patterns take `$.path` (no wildcards), space-delimited patterns `$name` for a
        named slot or `$N` for a field position; term and regex patterns have no fields.
        """
        _selector_steps(self, selector)

    def extract(self, message: str, selector: str) -> str | float | None:
        """The value `selector` names in `message`: a JSON number as float, other JSON
        scalars and field text as str, None when absent (or an object, array or null)."""
        steps = _selector_steps(self, selector)
        if isinstance(self._matcher, SpaceMatcher):
            return self._matcher.named_value(message, selector)
        doc = parse_json(message)
        if doc is NOT_JSON or steps is None:
            return None
        node = resolver(steps)(doc)
        if type(node) is str:
            return node
        if type(node) is bool:
            return "true" if node else "false"
        if type(node) is int or type(node) is float:
            return float(node)
        return None

    def __repr__(self) -> str:
        return f"FilterPattern({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FilterPattern) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


@functools.lru_cache(maxsize=256)
def _sql(
    pattern: ast.Pattern, column: str, fields: tuple[tuple[str, str], ...]
) -> tuple[str, tuple[object, ...]]:
    text, params = to_sql(pattern, column, dict(fields))
    return text, tuple(params)


def _selector_steps(pattern: FilterPattern, selector: str) -> tuple[ast.Step, ...] | None:
    if isinstance(pattern._matcher, JsonMatcher):
        return parse_metric_selector(selector)
    if isinstance(pattern._matcher, SpaceMatcher):
        space = cast(ast.SpacePattern, pattern.ast)
        name = selector[1:]
        named = {s.name for s in space.slots if isinstance(s, ast.Field) and s.name}
        if selector.startswith("$") and (
            name in named or (name.isascii() and name.isdigit() and name != "0")
        ):
            return None
        raise FilterPatternError(
            f"{selector!r} names no field of this pattern (use $name or $N)", 0, pattern=selector
        )
    raise FilterPatternError(
        "this filter pattern has no fields: use a literal value (term and regex patterns)",
        0,
        pattern=selector,
    )
