"""AST -> a DuckDB boolean expression over the message column, with bound parameters.

Every user value (terms, strings, numbers, regexes, JSON paths, LIKE patterns) is a
numbered parameter `$n`; the SQL text holds only our own constants. Equal values share one
parameter, so a selector used twice renders as the same `json_extract(...)` expression and
DuckDB computes it once. One `<node>_sql` method per AST node (sqlglot's shape); a node
without one raises. The result is always TRUE or FALSE, never NULL (`CASE WHEN ... THEN
TRUE ELSE FALSE END`, which lets DuckDB skip the later parts of a conjunction).

Semantics mirror compile.py: terms via `contains`, regexes via `regexp_matches` (RE2),
JSON via `json_valid` + `json_extract` + `json_type`, space-delimited via the same field cut
(`fields.SPLIT_RE`) with `regexp_extract_all`.

Typed columns (`fields`: a relation's `f.<dotted.path>` columns and their DuckDB types, as
logd's store exposes them) only ever narrow the rows the JSON form looks at: a JSON
pattern's guard becomes `<typed pre-check> AND <literal pre-check> AND json_valid`, where
the typed pre-check is a condition every matching row meets (`typed_sql`). It never
decides a match by itself,
because a typed column is an approximation of the JSON value: a segment may lack the
column (NULL), and a value is converted leniently (`"5"` or `5.4` read as the BIGINT 5,
`true` as 1). So NULL always passes, numbers are compared with a margin, and only the
column types whose conversion keeps the condition are used; the answer stays the JSON
form's, only cheaper (fewer `json_extract` calls).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from . import ast
from .fields import NUMBER_RE, SPLIT_RE
from .glob import glob_parts, like_pattern
from .jsonpred import json_needles

__all__ = ["to_sql"]

_NUMERIC_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE')"
_VALUE_TYPES = "('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE', 'BOOLEAN')"
_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
#: lambda parameter names that no real column is likely to carry
_T, _F, _X, _V = "__fp_t", "__fp_f", "__fp_x", "__fp_v"


def to_sql(
    pattern: ast.Pattern, column: str, fields: Mapping[str, str] | None = None
) -> tuple[str, list[object]]:
    """`fields`: typed columns of the relation, `f.<dotted.path>` -> DuckDB type."""
    return _Compiler(column, fields or {}).pattern_sql(pattern)


def quote_identifier(name: str) -> str:
    if not name:
        raise ValueError("the column name cannot be empty")
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """One of OUR constants as a SQL string literal (never user input)."""
    return "'" + text.replace("'", "''") + "'"


class _Compiler:
    def __init__(self, column: str, fields: Mapping[str, str]) -> None:
        self.col = quote_identifier(column)
        self.fields = {name: kind.upper() for name, kind in fields.items()}
        self.params: list[object] = []
        self.slots: dict[tuple[type, object], int] = {}

    def param(self, value: object) -> str:
        key = (type(value), value)
        if key not in self.slots:
            self.params.append(value)
            self.slots[key] = len(self.params)
        return f"${self.slots[key]}"

    def pattern_sql(self, pattern: ast.Pattern) -> tuple[str, list[object]]:
        render = getattr(self, f"{type(pattern).__name__.lower()}_sql", None)
        if render is None:
            raise TypeError(f"no SQL form for {type(pattern).__name__}")
        body: str = render(pattern)
        # Not COALESCE(body, FALSE): DuckDB evaluates a CASE condition with selection
        # vectors, so `a AND b` tests b only on the rows a kept (COALESCE computes both
        # sides over every row first).
        return f"CASE WHEN {body} THEN TRUE ELSE FALSE END", self.params

    # -- match-all, terms, regex ---------------------------------------------------------

    def matchall_sql(self, pattern: ast.MatchAll) -> str:
        return "TRUE"

    def termspattern_sql(self, pattern: ast.TermsPattern) -> str:
        plain = [t.text for t in pattern.terms if t.kind == "plain"]
        excluded = [t.text for t in pattern.terms if t.kind == "excluded"]
        optional = [t.text for t in pattern.terms if t.kind == "optional"]
        if plain or excluded:
            if "" in excluded:
                return "FALSE"
            parts = [f"contains({self.col}, {self.param(t)})" for t in dict.fromkeys(plain) if t]
            parts += [f"NOT contains({self.col}, {self.param(t)})" for t in dict.fromkeys(excluded)]
            return " AND ".join(parts) if parts else "TRUE"
        if "" in optional:
            return "TRUE"
        return " OR ".join(
            f"contains({self.col}, {self.param(t)})" for t in dict.fromkeys(optional)
        )

    def regexpattern_sql(self, pattern: ast.RegexPattern) -> str:
        return f"regexp_matches({self.col}, {self.param(pattern.regex.re2)})"

    # -- JSON ----------------------------------------------------------------------------

    def jsonpattern_sql(self, pattern: ast.JsonPattern) -> str:
        # The same literal pre-check as the predicate (jsonpred.json_needles), then one
        # parse for every wildcard-free path: json_extract with a list of paths, bound to
        # a lambda parameter. CASE keeps json_extract away from non-JSON (it would raise).
        self.paths: dict[str, int] = {}
        body = self.json_sql(pattern.expr)
        guard = [
            f"(contains({self.col}, {self.param(n)}) OR contains({self.col}, '\\'))"
            for n in json_needles(pattern.expr)
        ]
        guard.append(f"json_valid({self.col})")
        if self.paths:
            paths = ", ".join(self.param(p) for p in self.paths)
            body = f"list_transform([json_extract({self.col}, [{paths}])], lambda {_V}: {body})[1]"
        typed = self.typed_sql(pattern.expr) if self.fields else None
        if typed is not None:
            guard.insert(0, typed)  # cheapest first: the conditions run left to right
        return f"CASE WHEN {' AND '.join(guard)} THEN {body} ELSE FALSE END"

    # -- typed pre-check -----------------------------------------------------------------

    def typed_sql(self, expr: ast.JsonExpr) -> str | None:
        """A condition on typed columns that every row matching `expr` meets (None: none
        known). A NULL column (missing, or the segment has no such column) passes."""
        render = self.typed_plan(expr)
        return None if render is None else render()

    def typed_plan(self, expr: ast.JsonExpr) -> Callable[[], str] | None:
        """How to render `typed_sql` (None: nothing known), decided before any parameter
        is taken, so that a side of an OR that cannot be checked leaves none unused."""
        if isinstance(expr, ast.And | ast.Or):
            plans = [self.typed_plan(e) for e in expr.items]
            known = [p for p in plans if p is not None]
            if not known or (isinstance(expr, ast.Or) and len(known) < len(plans)):
                return None
            joiner = " AND " if isinstance(expr, ast.And) else " OR "
            return lambda: "(" + joiner.join(p() for p in known) + ")"
        steps = expr.selector.steps
        if not steps or not all(isinstance(s, ast.Member) and "." not in s.name for s in steps):
            return None
        name = "f." + ".".join(s.name for s in steps if isinstance(s, ast.Member))
        kind = self.fields.get(name)
        if kind is None:
            return None
        x = quote_identifier(name)
        test = self.typed_test(expr, x, kind)
        if test is None:
            return None
        return lambda: f"({x} IS NULL OR {test()})"

    def typed_test(self, cond: ast.JsonCondition, x: str, kind: str) -> Callable[[], str] | None:
        """What the column holds when `cond` holds on the JSON value (None: nothing known)."""
        if isinstance(cond, ast.NotExists):
            return lambda: "FALSE"  # missing -> NULL
        if isinstance(cond, ast.IsLiteral):
            if cond.literal == "NULL":
                return lambda: "FALSE"  # JSON null -> NULL
            if kind != "BOOLEAN":
                return None
            return (lambda: x) if cond.literal == "TRUE" else (lambda: f"NOT {x}")
        op, value = cond.op, cond.value
        if isinstance(value, ast.Number) and kind in ("BIGINT", "DOUBLE"):
            c = value.value
            if not math.isfinite(c) or op == "!=":
                return None
            # A BIGINT (or a DOUBLE widened from one) may hold a rounded float, and either
            # may have rounded a long integer.
            margin = 1.0 + abs(c) * 1e-9
            if op in (">", ">="):
                return lambda: f"{x} >= {self.param(c - margin)}"
            if op in ("<", "<="):
                return lambda: f"{x} <= {self.param(c + margin)}"
            return lambda: f"{x} BETWEEN {self.param(c - margin)} AND {self.param(c + margin)}"
        if kind != "VARCHAR" or op != "=":
            return None
        if isinstance(value, ast.Regex):
            regex = value.re2
            return lambda: f"regexp_matches({x}, {self.param(regex)})"
        if isinstance(value, ast.Text):
            text = value.text
            if glob_parts(text, "none" if value.quoted else "ends") is None:
                return lambda: f"{x} = {self.param(text)}"  # a JSON string is held unescaped
        return None

    def json_sql(self, expr: ast.JsonExpr) -> str:
        if isinstance(expr, ast.And | ast.Or):
            joiner = " AND " if isinstance(expr, ast.And) else " OR "
            return "(" + joiner.join(self.json_sql(e) for e in expr.items) + ")"
        path = _duckdb_path(expr.selector.steps)
        if expr.selector.wildcards:
            # A list of the selected nodes; the condition holds for at least one of them.
            nodes = f"json_extract({self.col}, {self.param(path)})"
            if isinstance(expr, ast.NotExists):
                return f"(COALESCE(len({nodes}), 0) = 0)"
            test = self.node_sql(expr, _X)
            return f"COALESCE(len(list_filter({nodes}, lambda {_X}: {test})) > 0, FALSE)"
        index = self.paths.setdefault(path, len(self.paths) + 1)
        return self.node_sql(expr, f"{_V}[{index}]")

    def node_sql(self, cond: ast.JsonCondition, x: str) -> str:
        """The condition on one JSON node `x` (SQL NULL when the path is missing)."""
        if isinstance(cond, ast.NotExists):
            return f"({x} IS NULL)"
        kind = f"json_type({x})"
        if isinstance(cond, ast.IsLiteral):
            if cond.literal == "NULL":
                return f"COALESCE({kind} = 'NULL', FALSE)"
            want = "'true'" if cond.literal == "TRUE" else "'false'"
            return f"COALESCE({kind} = 'BOOLEAN' AND ({x} ->> '$') = {want}, FALSE)"
        op, value = cond.op, cond.value
        if isinstance(value, ast.AnyValue):
            return f"COALESCE({kind} IN {_VALUE_TYPES}, FALSE)"
        if isinstance(value, ast.Number):
            test = f"TRY_CAST({x} AS DOUBLE) {_SQL_OPS[op]} {self.param(value.value)}"
            return f"COALESCE({kind} IN {_NUMERIC_TYPES} AND {test}, FALSE)"
        text = f"({x} ->> '$')"
        if isinstance(value, ast.Regex):
            neg = "" if op == "=" else "NOT "
            test = f"{neg}regexp_matches({text}, {self.param(value.re2)})"
            return f"COALESCE({kind} = 'VARCHAR' AND {test}, FALSE)"
        parts = glob_parts(value.text, "none" if value.quoted else "ends")
        if parts is None:
            test = f"{text} {_SQL_OPS[op]} {self.param(value.text)}"
            return f"COALESCE({kind} = 'VARCHAR' AND {test}, FALSE)"
        # A wildcard value also matches a number by its JSON text (Python's str/repr).
        as_text = (
            f"(CASE {kind} WHEN 'VARCHAR' THEN {text} WHEN 'DOUBLE' THEN "
            f"CAST(TRY_CAST({x} AS DOUBLE) AS VARCHAR) ELSE CAST({x} AS VARCHAR) END)"
        )
        neg = "" if op == "=" else "NOT "
        like = f"{as_text} {neg}LIKE {self.param(like_pattern(parts))} ESCAPE '\\'"
        return f"COALESCE({kind} IN ('VARCHAR', 'BIGINT', 'UBIGINT', 'DOUBLE') AND {like}, FALSE)"

    # -- space-delimited -----------------------------------------------------------------

    def spacepattern_sql(self, pattern: ast.SpacePattern) -> str:
        n = len(pattern.slots)
        k = pattern.ellipsis_index
        if n == 0:
            return "TRUE"  # `[]`: any message
        tests = [f"len({_F}) = {n}" if k is None else f"len({_F}) >= {n - 1}"]
        for i, slot in enumerate(pattern.slots):
            if isinstance(slot, ast.Field) and slot.condition is not None:
                index = i + 1 if k is None or i < k else i - n  # DuckDB lists: 1-based, -1 last
                tests.append(self.field_sql(slot.condition, f"{_F}[{index}]"))
        if len(tests) == 1 and k is not None and n == 1:
            return "TRUE"  # `[...]`: any message
        strip = (
            f"CASE WHEN starts_with({_T}, '[') OR starts_with({_T}, '\"') THEN "
            f"substr({_T}, 2, length({_T}) - 1 - CAST(length({_T}) > 1 AND ends_with({_T}, "
            f"CASE WHEN starts_with({_T}, '[') THEN ']' ELSE '\"' END) AS INTEGER)) ELSE {_T} END"
        )
        cut = f"regexp_extract_all({self.col}, {_lit(SPLIT_RE)})"
        fields = f"list_transform({cut}, lambda {_T}: {strip})"
        body = " AND ".join(f"COALESCE({t}, FALSE)" for t in tests)
        return f"list_transform([{fields}], lambda {_F}: {body})[1]"

    def field_sql(self, expr: ast.FieldExpr, v: str) -> str:
        if isinstance(expr, ast.FieldAnd | ast.FieldOr):
            joiner = " AND " if isinstance(expr, ast.FieldAnd) else " OR "
            return "(" + joiner.join(self.field_sql(e, v) for e in expr.items) + ")"
        op, value = expr.op, expr.value
        if isinstance(value, ast.Number):
            otherwise = "TRUE" if op == "!=" else "FALSE"
            test = f"TRY_CAST({v} AS DOUBLE) {_SQL_OPS[op]} {self.param(value.value)}"
            return (
                f"(CASE WHEN regexp_full_match({v}, {_lit(NUMBER_RE)}) THEN "
                f"COALESCE({test}, FALSE) ELSE {otherwise} END)"
            )
        neg = "" if op == "=" else "NOT "
        if isinstance(value, ast.Regex):
            return f"({neg}regexp_matches({v}, {self.param(value.re2)}))"
        text = value.text if isinstance(value, ast.Text) else "*"
        quoted = isinstance(value, ast.Text) and value.quoted
        parts = glob_parts(text, "none" if quoted else "anywhere")
        if parts is None:
            return f"({v} {_SQL_OPS[op]} {self.param(text)})"
        return f"({v} {neg}LIKE {self.param(like_pattern(parts))} ESCAPE '\\')"


def _duckdb_path(steps: tuple[ast.Step, ...]) -> str:
    out = ["$"]
    for step in steps:
        if isinstance(step, ast.Member):
            out.append('."' + step.name.replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif isinstance(step, ast.Index):
            out.append(f"[{step.index}]")
        elif isinstance(step, ast.AnyIndex):
            out.append("[*]")
        else:
            out.append(".*")
    return "".join(out)
