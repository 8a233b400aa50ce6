"""One SQL renderer per Insights function: `fn_<name>` (scalar), `agg_<name>` (stats).

A mixin of the compiler (`sql.Compiler`), which supplies `expr()` and `events`. Null in,
null out unless the reference says otherwise; wrong types give null, never an error.
"""

from __future__ import annotations

from query.insights import ast
from query.insights.sqlvalues import (
    Kind,
    Val,
    ceil_to,
    floor_to,
    natural_key,
    num,
    scalar,
    text,
    timestamp,
)

_EVENT_ORDER = "{'t': \"timestamp\", 'i': ingestion_time, 'g': \"group\", 's': stream, 'q': seq}"
_IP_VERSION = {
    "isvalidip": 0,
    "isvalidipv4": 4,
    "isvalidipv6": 6,
    "isipinsubnet": 0,
    "isipv4insubnet": 4,
    "isipv6insubnet": 6,
}


class Unsupported(Exception):
    """A node without a renderer: a bug in logd (the checker should have refused it)."""


class FunctionRenderers:
    events: bool

    def expr(self, node: ast.Expr) -> Val:
        raise NotImplementedError

    def args(self, node: ast.Call) -> list[Val]:
        return [self.expr(a) for a in node.args]

    # --- numeric -------------------------------------------------------------------------

    def fn_abs(self, node: ast.Call) -> Val:
        (a,) = self.args(node)
        return Val(f"abs({num(a)})", Kind.INT if a.kind is Kind.INT else Kind.FLOAT)

    def _rounding(self, node: ast.Call, fn: str) -> Val:
        (a,) = self.args(node)
        if a.kind is Kind.INT:
            return a
        return Val(f"{fn}({num(a)})", Kind.FLOAT)

    def fn_ceil(self, node: ast.Call) -> Val:
        return self._rounding(node, "ceil")

    def fn_floor(self, node: ast.Call) -> Val:
        return self._rounding(node, "floor")

    def _extreme(self, node: ast.Call, fn: str) -> Val:
        vals = self.args(node)
        kind = Kind.INT if all(v.kind is Kind.INT for v in vals) else Kind.FLOAT
        return Val(f"{fn}({', '.join(num(v) for v in vals)})", kind)

    def fn_greatest(self, node: ast.Call) -> Val:
        return self._extreme(node, "greatest")

    def fn_least(self, node: ast.Call) -> Val:
        return self._extreme(node, "least")

    def fn_log(self, node: ast.Call) -> Val:
        x = num(self.args(node)[0])
        return Val(f"(CASE WHEN {x} > 0 THEN ln({x}) END)", Kind.FLOAT)

    def fn_sqrt(self, node: ast.Call) -> Val:
        x = num(self.args(node)[0])
        return Val(f"(CASE WHEN {x} >= 0 THEN sqrt({x}) END)", Kind.FLOAT)

    # --- string --------------------------------------------------------------------------

    def fn_strlen(self, node: ast.Call) -> Val:
        return Val(f"length({text(self.args(node)[0])})", Kind.INT)

    def fn_toupper(self, node: ast.Call) -> Val:
        return Val(f"upper({text(self.args(node)[0])})", Kind.STR)

    def fn_tolower(self, node: ast.Call) -> Val:
        return Val(f"lower({text(self.args(node)[0])})", Kind.STR)

    def _trim(self, node: ast.Call, fn: str, pattern: str) -> Val:
        vals = self.args(node)
        if len(vals) == 2:
            return Val(f"{fn}({text(vals[0])}, {text(vals[1])})", Kind.STR)
        return Val(f"regexp_replace({text(vals[0])}, '{pattern}', '', 'g')", Kind.STR)

    def fn_trim(self, node: ast.Call) -> Val:
        return self._trim(node, "trim", r"^\s+|\s+$")

    def fn_ltrim(self, node: ast.Call) -> Val:
        return self._trim(node, "ltrim", r"^\s+")

    def fn_rtrim(self, node: ast.Call) -> Val:
        return self._trim(node, "rtrim", r"\s+$")

    def fn_concat(self, node: ast.Call) -> Val:
        parts = ", ".join(f"coalesce({text(v)}, '')" for v in self.args(node))
        return Val(f"concat({parts})", Kind.STR)

    def fn_substr(self, node: ast.Call) -> Val:
        vals = self.args(node)
        s = text(vals[0])
        start = f"CAST(floor({num(vals[1])}) AS BIGINT)"
        if len(vals) == 2:
            return Val(f"(CASE WHEN {start} >= 0 THEN substr({s}, {start} + 1) END)", Kind.STR)
        length = f"CAST(floor({num(vals[2])}) AS BIGINT)"
        return Val(
            f"(CASE WHEN {start} >= 0 AND {length} >= 0 "
            f"THEN substr({s}, {start} + 1, {length}) END)",
            Kind.STR,
        )

    def fn_replace(self, node: ast.Call) -> Val:
        s, old, new = (text(v) for v in self.args(node))
        return Val(f"replace({s}, {old}, {new})", Kind.STR)

    def fn_strcontains(self, node: ast.Call) -> Val:
        s, sub = (text(v) for v in self.args(node))
        return Val(f"CAST(contains({s}, {sub}) AS INTEGER)", Kind.INT)

    def fn_isempty(self, node: ast.Call) -> Val:
        return Val(f"coalesce({text(self.args(node)[0])} = '', true)", Kind.BOOL)

    def fn_isblank(self, node: ast.Call) -> Val:
        s = text(self.args(node)[0])
        return Val(f"coalesce(regexp_full_match({s}, '\\s*'), true)", Kind.BOOL)

    # --- datetime ------------------------------------------------------------------------

    def _period(self, node: ast.Call, index: int) -> ast.Period:
        period = node.args[index]
        if not isinstance(period, ast.Period):
            raise Unsupported("period expected")
        return period

    def fn_bin(self, node: ast.Call) -> Val:
        if not self.events:
            return Val("NULL", Kind.NULL)
        return Val(floor_to('"timestamp"', self._period(node, 0)), Kind.TS)

    def fn_datefloor(self, node: ast.Call) -> Val:
        t = timestamp(self.expr(node.args[0]))
        return Val(floor_to(t, self._period(node, 1)), Kind.TS)

    def fn_dateceil(self, node: ast.Call) -> Val:
        t = timestamp(self.expr(node.args[0]))
        return Val(ceil_to(t, self._period(node, 1)), Kind.TS)

    def fn_frommillis(self, node: ast.Call) -> Val:
        (a,) = self.args(node)
        if a.kind in (Kind.INT, Kind.TS):
            return Val(a.sql, Kind.TS)
        return Val(f"CAST(floor({num(a)}) AS BIGINT)", Kind.TS)

    def fn_tomillis(self, node: ast.Call) -> Val:
        return Val(timestamp(self.args(node)[0]), Kind.INT)

    # --- general, JSON, IP ---------------------------------------------------------------

    def fn_ispresent(self, node: ast.Call) -> Val:
        return Val(f"({scalar(self.args(node)[0]).sql} IS NOT NULL)", Kind.BOOL)

    def fn_coalesce(self, node: ast.Call) -> Val:
        vals = [scalar(v) for v in self.args(node) if v.kind is not Kind.NULL]
        if not vals:
            return Val("NULL", Kind.NULL)
        kinds = {v.kind for v in vals}
        if len(kinds) == 1:
            return Val(f"coalesce({', '.join(v.sql for v in vals)})", vals[0].kind)
        if kinds <= {Kind.INT, Kind.FLOAT}:
            return Val(f"coalesce({', '.join(num(v) for v in vals)})", Kind.FLOAT)
        return Val(f"coalesce({', '.join(text(v) for v in vals)})", Kind.DYN)

    def fn_unmask(self, node: ast.Call) -> Val:
        return self.args(node)[0]

    def fn_jsonparse(self, node: ast.Call) -> Val:
        (a,) = self.args(node)
        if a.kind is Kind.JSON:
            return a
        return Val(f"TRY_CAST({text(a)} AS JSON)", Kind.JSON)

    def fn_jsonstringify(self, node: ast.Call) -> Val:
        (a,) = self.args(node)
        match a.kind:
            case Kind.JSON:
                return Val(f"CAST({a.sql} AS VARCHAR)", Kind.STR)
            case Kind.INT | Kind.FLOAT | Kind.BOOL | Kind.STR:
                return Val(f"CAST(to_json({a.sql}) AS VARCHAR)", Kind.STR)
            case Kind.DYN:  # a JSON number's text stays a number
                number = rf"regexp_full_match({a.sql}, '-?(0|[1-9][0-9]*)(\.[0-9]+)?')"
                return Val(
                    f"(CASE WHEN {number} THEN {a.sql} ELSE CAST(to_json({a.sql}) AS VARCHAR) END)",
                    Kind.STR,
                )
            case Kind.TS:
                return Val(f"CAST(to_json({text(a)}) AS VARCHAR)", Kind.STR)
        return Val("NULL", Kind.NULL)

    def _ip(self, node: ast.Call) -> Val:
        vals = self.args(node)
        version = _IP_VERSION[node.name.lower()]
        if len(vals) == 1:
            return Val(f"ld_ipvalid({text(vals[0])}, {version})", Kind.BOOL)
        return Val(f"ld_ipin({text(vals[0])}, {text(vals[1])}, {version})", Kind.BOOL)

    fn_isvalidip = fn_isvalidipv4 = fn_isvalidipv6 = _ip
    fn_isipinsubnet = fn_isipv4insubnet = fn_isipv6insubnet = _ip

    # --- aggregations (args are columns computed before the GROUP BY) ------------------

    def agg_count(self, node: ast.Call, args: list[Val]) -> Val:
        if not args:
            return Val("count(*)", Kind.INT)
        return Val(f"count({scalar(args[0]).sql})", Kind.INT)

    def agg_count_distinct(self, node: ast.Call, args: list[Val]) -> Val:
        return Val(f"count(DISTINCT {scalar(args[0]).sql})", Kind.INT)

    def agg_sum(self, node: ast.Call, args: list[Val]) -> Val:
        a = args[0]
        kind = Kind.INT if a.kind in (Kind.INT, Kind.BOOL) else Kind.FLOAT
        return Val(f"sum({num(a)})", kind)

    def agg_avg(self, node: ast.Call, args: list[Val]) -> Val:
        return Val(f"avg({num(args[0])})", Kind.FLOAT)

    def agg_stddev(self, node: ast.Call, args: list[Val]) -> Val:
        return Val(f"stddev_samp({num(args[0])})", Kind.FLOAT)

    def agg_pct(self, node: ast.Call, args: list[Val]) -> Val:
        a = args[0]
        p = node.args[1]
        if not isinstance(p, ast.Number):
            raise Unsupported("pct takes a number literal")
        kind = Kind.INT if a.kind is Kind.INT else Kind.FLOAT
        return Val(f"quantile_disc({num(a)}, {float(p.value) / 100!r})", kind)

    def _natural(self, a: Val, fn: str) -> Val:
        a = scalar(a)
        if a.kind is Kind.NULL:
            return a
        if a.kind is Kind.BOOL:
            return Val(f"{fn}(CAST({a.sql} AS INTEGER))", Kind.INT)
        if a.kind in (Kind.INT, Kind.FLOAT, Kind.TS):
            return Val(f"{fn}({a.sql})", a.kind)
        arg = "arg_min" if fn == "min" else "arg_max"
        return Val(f"{arg}({a.sql}, {natural_key(a)}) FILTER (WHERE {a.sql} IS NOT NULL)", a.kind)

    def agg_min(self, node: ast.Call, args: list[Val]) -> Val:
        return self._natural(args[0], "min")

    def agg_max(self, node: ast.Call, args: list[Val]) -> Val:
        return self._natural(args[0], "max")

    agg_sortsfirst = agg_min
    agg_sortslast = agg_max

    def _timeline(self, a: Val, fn: str) -> Val:
        a = scalar(a)
        if a.kind is Kind.NULL:
            return a
        return Val(f"{fn}({a.sql}, {_EVENT_ORDER}) FILTER (WHERE {a.sql} IS NOT NULL)", a.kind)

    def agg_earliest(self, node: ast.Call, args: list[Val]) -> Val:
        return self._timeline(args[0], "arg_min")

    def agg_latest(self, node: ast.Call, args: list[Val]) -> Val:
        return self._timeline(args[0], "arg_max")
