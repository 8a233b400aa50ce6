"""Space-delimited patterns: a message cut into fields, fields paired with slots, conditions.

The cut (docs/filter-patterns.md section 6.1): fields are separated by runs of blanks
(space, tab); a field that starts with `[` runs to the next `]`, one that starts with `"`
to the next `"` (or to the end of the message when unterminated), and the brackets or
quotes are not part of its value. `SPLIT_RE` states that cut once; Python applies it with
`re` (our own fixed, linear expression, not user input) and sql.py hands the same text to
DuckDB, so both forms see the same fields.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from . import ast
from .glob import text_matcher
from .regex import compile_re2

__all__ = [
    "NUMBER_RE",
    "NUMERIC_OPS",
    "SPLIT_RE",
    "FieldMatcher",
    "assign",
    "field_predicate",
    "split_fields",
]

#: One field per match: bracketed, quoted, or a run of non-blanks (leftmost-first).
SPLIT_RE = r'\[[^\]]*\]?|"[^"]*"?|[^ \t]+'
#: A field that reads as a number (the pattern language's number grammar).
NUMBER_RE = r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"

_SPLIT = re.compile(r'\[([^\]]*)\]?|"([^"]*)"?|([^ \t]+)')
_NUMBER = re.compile(NUMBER_RE + r"\Z")

FieldMatcher = Callable[[str], bool]


def split_fields(message: str) -> list[str]:
    """The message's fields, brackets and quotes removed."""
    return [a or b or c for a, b, c in _SPLIT.findall(message)]


def field_number(text: str) -> float | None:
    return float(text) if _NUMBER.match(text) else None


def assign(pattern: ast.SpacePattern, count: int) -> tuple[int, int] | None:
    """For a message of `count` fields: (k, tail) when the slots fit, else None.

    Slots before the `...` (index k) take fields 0..k-1, the `tail` slots after it take the
    last `tail` fields; without `...`, k is the slot count and tail 0, and counts must match.
    """
    n = len(pattern.slots)
    k = pattern.ellipsis_index
    if n == 0:
        return (0, 0)  # `[]` matches every message; all of its fields are `$N`
    if k is None:
        return (n, 0) if count == n else None
    return (k, n - k - 1) if count >= n - 1 else None


def field_predicate(expr: ast.FieldExpr, pattern_text: str) -> FieldMatcher:
    """One field's condition as a function of the field's text."""
    if isinstance(expr, ast.FieldAnd):
        parts = [field_predicate(e, pattern_text) for e in expr.items]
        return lambda s: all(p(s) for p in parts)
    if isinstance(expr, ast.FieldOr):
        parts = [field_predicate(e, pattern_text) for e in expr.items]
        return lambda s: any(p(s) for p in parts)
    return _compare(expr, pattern_text)


def _compare(cond: ast.FieldCompare, pattern_text: str) -> FieldMatcher:
    op, value = cond.op, cond.value
    if isinstance(value, ast.Number):
        c = value.value
        test = NUMERIC_OPS[op]
        # A field that is not a number satisfies `!=` (as a string would) and nothing else.
        missing = op == "!="

        def numeric(s: str) -> bool:
            x = field_number(s)
            return missing if x is None else test(x, c)

        return numeric
    if isinstance(value, ast.Regex):
        search = compile_re2(value.source, value.re2, value.pos, pattern_text).search
        if op == "=":
            return lambda s: search(s) is not None
        return lambda s: search(s) is None
    text = value.text if isinstance(value, ast.Text) else "*"
    quoted = isinstance(value, ast.Text) and value.quoted
    match = text_matcher(text, wildcards="anywhere" if not quoted else "none")
    if op == "=":
        return match
    return lambda s: not match(s)


NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda x, c: x == c,
    "!=": lambda x, c: x != c,
    "<": lambda x, c: x < c,
    "<=": lambda x, c: x <= c,
    ">": lambda x, c: x > c,
    ">=": lambda x, c: x >= c,
}
