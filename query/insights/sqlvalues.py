"""Values in SQL: static kinds, conversions, quoting and the language's comparison rules.

Every compiled value carries a `Kind` so that typed columns compile to plain SQL
(`"f.status" >= 400`) while values of unknown type (JSON fields read from the message,
`DYN`) get the language's mixed rules (§4.3: numeric strings compare as numbers). User text
reaches SQL only through `lit()` (a quoted literal) or `num_lit()` (a number Python
formatted); identifiers are ours or the relation's own, quoted by `ident()`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from query.insights import ast
from query.insights.functions import CALENDAR_UNIT_MONTHS, FIXED_UNIT_MS, time_unit


class Kind(Enum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TS = "timestamp"
    STR = "string"
    DYN = "dynamic"  # a JSON scalar's text (string, number or 1/0): type known per row only
    JSON = "json"
    NULL = "null"


NUMERIC = {Kind.INT, Kind.FLOAT, Kind.BOOL}
TEXTUAL = {Kind.STR, Kind.DYN}
NUMBER_VALUE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
WEEK_ANCHOR_MS = 4 * 86_400_000  # 1970-01-05, the first Monday after the epoch

#: Helper macros every compiled query may use (installed by execute.py per connection).
MACROS: tuple[str, ...] = (
    r"ld_isnum(s) AS regexp_full_match(s, '[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)')",
    "ld_num(s) AS CASE WHEN ld_isnum(s) THEN TRY_CAST(s AS DOUBLE) END",
    "ld_ftext(d) AS CASE WHEN d = trunc(d) AND abs(d) < 1e15 "
    "THEN CAST(CAST(d AS BIGINT) AS VARCHAR) ELSE CAST(d AS VARCHAR) END",
    "ld_tstext(t) AS strftime(epoch_ms(t), '%Y-%m-%d %H:%M:%S.%g')",
    "ld_jscalar(j) AS CASE json_type(j) WHEN 'VARCHAR' THEN json_extract_string(j, '$') "
    "WHEN 'BIGINT' THEN CAST(j AS VARCHAR) WHEN 'UBIGINT' THEN CAST(j AS VARCHAR) "
    "WHEN 'DOUBLE' THEN ld_ftext(CAST(j AS DOUBLE)) "
    "WHEN 'BOOLEAN' THEN CASE WHEN CAST(j AS VARCHAR) = 'true' THEN '1' ELSE '0' END END",
    "ld_jtext(j) AS CASE json_type(j) WHEN 'NULL' THEN NULL "
    "WHEN 'OBJECT' THEN CAST(j AS VARCHAR) WHEN 'ARRAY' THEN CAST(j AS VARCHAR) "
    "ELSE ld_jscalar(j) END",
    "ld_natkey(s) AS array_to_string(list_transform(regexp_extract_all(s, '[0-9]+|[^0-9]+'), "
    "lambda c: CASE WHEN c[1] BETWEEN '0' AND '9' "
    "THEN '0' || lpad(CAST(length(c) AS VARCHAR), 8, '0') || c ELSE c || chr(1) END), '')",
    r"ld_tsparse(s) AS CASE WHEN ld_isnum(s) THEN CAST(floor(CAST(s AS DOUBLE)) AS BIGINT) "
    "ELSE epoch_ms(TRY_CAST(s AS TIMESTAMPTZ)) END",
    "ld_floor(t, p, a) AS t - ((((t - a) % p) + p) % p)",
    "ld_months(t) AS year(epoch_ms(t)) * 12 + month(epoch_ms(t)) - 1",
    "ld_month_start(m) AS epoch_ms(make_timestamp(CAST(m // 12 AS BIGINT), "
    "CAST(m % 12 + 1 AS BIGINT), 1, 0, 0, 0))",
    "ld_mfloor(t, n) AS ld_month_start(ld_months(t) - (ld_months(t) % n))",
    "ld_ptr(g, q) AS to_base64(encode(g || chr(10) || CAST(q AS VARCHAR)))",
)

_CMP = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FLIP = {"=": "=", "!=": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT")
_UINT_TYPES = ("UINTEGER", "UBIGINT", "UHUGEINT")


def lit(value: str) -> str:
    """A DuckDB string literal (standard SQL: only the quote is special; NUL spliced in)."""
    quoted = "'" + value.replace("'", "''") + "'"
    if "\x00" in quoted:
        quoted = "(" + quoted.replace("\x00", "' || chr(0) || '") + ")"
    return quoted


def ident(name: str) -> str:
    """A quoted DuckDB identifier."""
    if "\x00" in name:
        raise ValueError("identifier with NUL")
    return '"' + name.replace('"', '""') + '"'


def num_lit(value: int | float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value) if -(2**63) <= value < 2**63 else repr(float(value))
    text = repr(float(value))
    return f"CAST('{text}' AS DOUBLE)" if text in ("inf", "-inf", "nan") else text


def json_pointer(path: str) -> str:
    """A flattened field name (`req.id`, `tags.0`) as a JSON pointer."""
    parts = path.split(".")
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def kind_of_type(duck_type: str) -> Kind:
    t = duck_type.upper()
    if t.startswith(_INT_TYPES) or t.startswith(_UINT_TYPES):
        return Kind.INT
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL")):
        return Kind.FLOAT
    if t == "BOOLEAN":
        return Kind.BOOL
    if t == "VARCHAR":
        return Kind.DYN
    if t == "JSON":
        return Kind.JSON
    return Kind.NULL


@dataclass(frozen=True, slots=True)
class Val:
    sql: str
    kind: Kind
    #: the literal's value when the expression is a literal
    const: str | int | float | None = None


def num(v: Val) -> str:
    match v.kind:
        case Kind.INT | Kind.FLOAT | Kind.TS:
            return v.sql
        case Kind.BOOL:
            return f"CAST({v.sql} AS INTEGER)"
        case Kind.STR | Kind.DYN:
            return f"ld_num({v.sql})"
        case Kind.JSON:
            return f"ld_num(ld_jscalar({v.sql}))"
    return "NULL"


def text(v: Val) -> str:
    match v.kind:
        case Kind.INT:
            return f"CAST({v.sql} AS VARCHAR)"
        case Kind.FLOAT:
            return f"ld_ftext({v.sql})"
        case Kind.BOOL:
            return f"CAST(CAST({v.sql} AS INTEGER) AS VARCHAR)"
        case Kind.TS:
            return f"ld_tstext({v.sql})"
        case Kind.STR | Kind.DYN:
            return v.sql
        case Kind.JSON:
            return f"ld_jtext({v.sql})"
    return "CAST(NULL AS VARCHAR)"


def truth(v: Val) -> str:
    match v.kind:
        case Kind.BOOL:
            return v.sql
        case Kind.NULL:
            return "CAST(NULL AS BOOLEAN)"
    return f"({num(v)} <> 0)"


def timestamp(v: Val) -> str:
    match v.kind:
        case Kind.TS | Kind.INT:
            return v.sql
        case Kind.FLOAT | Kind.BOOL:
            return f"CAST(floor({num(v)}) AS BIGINT)"
        case Kind.STR | Kind.DYN:
            return f"ld_tsparse({v.sql})"
        case Kind.JSON:
            return f"ld_tsparse(ld_jscalar({v.sql}))"
    return "CAST(NULL AS BIGINT)"


def scalar(v: Val) -> Val:
    """A JSON value as the dynamic scalar it prints as."""
    if v.kind is Kind.JSON:
        return Val(f"ld_jtext({v.sql})", Kind.DYN)
    return v


def sort_keys(v: Val) -> list[str]:
    """SQL expressions whose ascending order is the natural order of `v`."""
    v = scalar(v)
    match v.kind:
        case Kind.INT | Kind.FLOAT | Kind.TS:
            return [v.sql]
        case Kind.BOOL:
            return [f"CAST({v.sql} AS INTEGER)"]
        case Kind.STR | Kind.DYN:
            return [f"ld_isnum({v.sql})", f"ld_num({v.sql})", f"ld_natkey({v.sql})"]
    return []


def natural_key(v: Val) -> str:
    """One comparable value (a struct) in natural order, for arg_min/arg_max."""
    keys = sort_keys(v)
    if len(keys) == 1:
        return keys[0]
    return f"{{'n': {keys[0]}, 'v': coalesce({keys[1]}, 0), 's': {keys[2]}}}" if keys else "NULL"


def is_number_value(value: str) -> bool:
    return NUMBER_VALUE.fullmatch(value) is not None


def period_ms(period: ast.Period) -> tuple[str, int]:
    """('fixed', ms) or ('months', n) for a checked period."""
    unit = time_unit(period.unit)
    if unit is None:
        raise ValueError(f"unknown time unit {period.unit!r}")
    if unit in FIXED_UNIT_MS:
        return "fixed", period.count * FIXED_UNIT_MS[unit]
    return "months", period.count * CALENDAR_UNIT_MONTHS[unit]


def floor_to(t: str, period: ast.Period) -> str:
    mode, size = period_ms(period)
    if mode == "months":
        return f"ld_mfloor({t}, {size})"
    anchor = WEEK_ANCHOR_MS if time_unit(period.unit) == "w" else 0
    return f"ld_floor({t}, {size}, {anchor})"


def ceil_to(t: str, period: ast.Period) -> str:
    floor = floor_to(t, period)
    mode, size = period_ms(period)
    step = (
        f"ld_month_start(ld_months({floor}) + {size})" if mode == "months" else f"{floor} + {size}"
    )
    return f"(CASE WHEN {floor} = {t} THEN {t} ELSE {step} END)"


def compare(op: str, a: Val, b: Val) -> str:
    """The §4.3 comparison of two values of any kinds."""
    a, b = scalar(a), scalar(b)
    sop = _CMP[op]
    if Kind.NULL in (a.kind, b.kind):
        return "CAST(NULL AS BOOLEAN)"
    if a.kind in NUMERIC | {Kind.TS} and b.kind in NUMERIC | {Kind.TS}:
        return f"({num(a)} {sop} {num(b)})"
    if Kind.TS in (a.kind, b.kind):
        return f"({timestamp(a)} {sop} {timestamp(b)})"
    if a.kind in NUMERIC:
        return _number_vs_text(sop, a, b)
    if b.kind in NUMERIC:
        return _number_vs_text(_FLIP[op], b, a)
    if a.kind is Kind.STR and b.kind is Kind.STR:
        return f"({a.sql} {sop} {b.sql})"
    if isinstance(b.const, str):
        return _dyn_vs_const(sop, a, b)
    if isinstance(a.const, str):
        return _dyn_vs_const(_FLIP[op], b, a)
    both = f"ld_isnum({a.sql}) AND ld_isnum({b.sql})"
    numeric = f"CAST({a.sql} AS DOUBLE) {sop} CAST({b.sql} AS DOUBLE)"
    return f"(CASE WHEN {both} THEN {numeric} ELSE {a.sql} {sop} {b.sql} END)"


def _number_vs_text(sop: str, n: Val, s: Val) -> str:
    if isinstance(s.const, str):
        if is_number_value(s.const):
            return f"({num(n)} {sop} {num_lit(float(s.const))})"
        return f"({text(n)} {sop} {s.sql})"
    numeric = f"{num(n)} {sop} CAST({s.sql} AS DOUBLE)"
    return f"(CASE WHEN ld_isnum({s.sql}) THEN {numeric} ELSE {text(n)} {sop} {s.sql} END)"


def _dyn_vs_const(sop: str, d: Val, c: Val) -> str:
    if not isinstance(c.const, str):
        raise TypeError("a string literal expected")
    if not is_number_value(c.const):
        return f"({d.sql} {sop} {c.sql})"
    value = num_lit(float(c.const))
    return (
        f"(CASE WHEN ld_isnum({d.sql}) THEN CAST({d.sql} AS DOUBLE) {sop} {value} "
        f"ELSE {d.sql} {sop} {c.sql} END)"
    )
