"""Every Insights function: its family, arity and the kind of each argument.

The checker validates calls against this table; the SQL compiler has one renderer per
name (`sql.py`). Function names are case-insensitive: look them up with `lookup(name)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Family(Enum):
    SCALAR = "scalar"
    AGGREGATE = "aggregate"
    #: earliest/latest/sortsFirst/sortsLast: stats-only, first stats only (need @timestamp)
    TIMELINE = "timeline"


class Arg(Enum):
    EXPR = "an expression"
    PERIOD = "a time period"
    NUMBER_LITERAL = "a number literal"
    STAR = "'*' or an expression"


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    family: Family
    args: tuple[Arg, ...]
    min_args: int
    #: None: variadic, the last kind in `args` repeats
    max_args: int | None

    def arg_kind(self, index: int) -> Arg:
        return self.args[min(index, len(self.args) - 1)]

    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args}"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


def _f(
    name: str,
    n: int | tuple[int, int | None],
    *args: Arg,
    family: Family = Family.SCALAR,
) -> Function:
    low, high = (n, n) if isinstance(n, int) else n
    kinds = args or (Arg.EXPR,)
    return Function(name, family, kinds, low, high)


E, P, NUM, STAR = Arg.EXPR, Arg.PERIOD, Arg.NUMBER_LITERAL, Arg.STAR
AGG, TIME = Family.AGGREGATE, Family.TIMELINE

FUNCTIONS: tuple[Function, ...] = (
    # numeric
    _f("abs", 1),
    _f("ceil", 1),
    _f("floor", 1),
    _f("greatest", (1, None)),
    _f("least", (1, None)),
    _f("log", 1),
    _f("sqrt", 1),
    # string
    _f("strlen", 1),
    _f("toupper", 1),
    _f("tolower", 1),
    _f("trim", (1, 2)),
    _f("ltrim", (1, 2)),
    _f("rtrim", (1, 2)),
    _f("concat", (1, None)),
    _f("substr", (2, 3)),
    _f("replace", 3),
    _f("strcontains", 2),
    _f("isempty", 1),
    _f("isblank", 1),
    # datetime
    _f("bin", 1, P),
    _f("datefloor", 2, E, P),
    _f("dateceil", 2, E, P),
    _f("fromMillis", 1),
    _f("toMillis", 1),
    # general
    _f("ispresent", 1),
    _f("coalesce", (1, None)),
    _f("unmask", 1),
    # JSON
    _f("jsonParse", 1),
    _f("jsonStringify", 1),
    # IP addresses
    _f("isValidIp", 1),
    _f("isValidIpV4", 1),
    _f("isValidIpV6", 1),
    _f("isIpInSubnet", 2),
    _f("isIpv4InSubnet", 2),
    _f("isIpv6InSubnet", 2),
    # aggregations
    _f("count", (0, 1), STAR, family=AGG),
    _f("count_distinct", 1, family=AGG),
    _f("sum", 1, family=AGG),
    _f("avg", 1, family=AGG),
    _f("min", 1, family=AGG),
    _f("max", 1, family=AGG),
    _f("stddev", 1, family=AGG),
    _f("pct", 2, E, NUM, family=AGG),
    # non-aggregation stats functions
    _f("earliest", 1, family=TIME),
    _f("latest", 1, family=TIME),
    _f("sortsFirst", 1, family=TIME),
    _f("sortsLast", 1, family=TIME),
)

_BY_NAME = {f.name.lower(): f for f in FUNCTIONS}


def lookup(name: str) -> Function | None:
    """The function called `name` (any case), or None."""
    return _BY_NAME.get(name.lower())


def is_stats_function(name: str) -> bool:
    """True for aggregations and the timeline functions (allowed only in `stats`)."""
    fn = lookup(name)
    return fn is not None and fn.family is not Family.SCALAR


#: Time units: spelling -> (unit, count of that unit). Fixed units are in milliseconds.
_UNIT_SPELLINGS: dict[str, str] = {
    "ms": "ms",
    "msec": "ms",
    "millisecond": "ms",
    "s": "s",
    "sec": "s",
    "second": "s",
    "m": "m",
    "min": "m",
    "minute": "m",
    "h": "h",
    "hr": "h",
    "hour": "h",
    "d": "d",
    "w": "w",
    "mo": "mo",
    "mon": "mo",
    "month": "mo",
    "q": "q",
    "qtr": "q",
    "quarter": "q",
    "y": "y",
    "yr": "y",
    "year": "y",
}

#: Fixed-length units in milliseconds; months, quarters and years are calendar units.
FIXED_UNIT_MS = {
    "ms": 1,
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}
CALENDAR_UNIT_MONTHS = {"mo": 1, "q": 3, "y": 12}


def time_unit(spelling: str) -> str | None:
    """The canonical unit of a spelling (`hrs` -> `h`), or None if unknown."""
    if spelling in _UNIT_SPELLINGS:
        return _UNIT_SPELLINGS[spelling]
    if len(spelling) > 2 and spelling.endswith("s") and spelling[:-1] in _UNIT_SPELLINGS:
        singular = spelling[:-1]
        if len(singular) > 1:
            return _UNIT_SPELLINGS[singular]
    return None
