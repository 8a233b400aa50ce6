"""The filter-pattern AST: small frozen nodes, each with `pos`, its 0-based offset in the text.

One node type per construct of docs/filter-patterns.md. The parser builds them, the
checker counts them, compile.py and sql.py turn them into a predicate and SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# -- shared values -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Regex:
    """`%source%`: `source` is the text between the percent signs, `re2` its RE2 form."""

    source: str
    re2: str
    pos: int


@dataclass(frozen=True, slots=True)
class Text:
    """A string value. `quoted` values are literal; in a bare value `*` is a wildcard."""

    text: str
    quoted: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric value, compared numerically (`400` equals `400.0`)."""

    text: str
    value: float
    pos: int


@dataclass(frozen=True, slots=True)
class AnyValue:
    """`= *` (JSON: the path holds a value; space-delimited: any field text)."""

    pos: int


Value = Regex | Text | Number | AnyValue
CompareOp = Literal["=", "!=", "<", "<=", ">", ">="]

# -- match-all, terms, regex -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchAll:
    """The empty (or all-blank) pattern."""

    pos: int = 0


@dataclass(frozen=True, slots=True)
class Term:
    """One term or quoted phrase; `kind` is its prefix: none, `?` or `-`."""

    text: str
    kind: Literal["plain", "optional", "excluded"]
    quoted: bool
    pos: int


@dataclass(frozen=True, slots=True)
class TermsPattern:
    terms: tuple[Term, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class RegexPattern:
    regex: Regex
    pos: int


# -- JSON --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """`.name` or `.['name']`."""

    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """`[n]`."""

    index: int


@dataclass(frozen=True, slots=True)
class AnyMember:
    """`.*`: every member of an object."""


@dataclass(frozen=True, slots=True)
class AnyIndex:
    """`[*]`: every element of an array."""


Step = Member | Index | AnyMember | AnyIndex


@dataclass(frozen=True, slots=True)
class Selector:
    text: str
    steps: tuple[Step, ...]
    pos: int

    @property
    def wildcards(self) -> int:
        return sum(isinstance(s, AnyMember | AnyIndex) for s in self.steps)


@dataclass(frozen=True, slots=True)
class Compare:
    """`selector op value`."""

    selector: Selector
    op: CompareOp
    value: Value
    pos: int


@dataclass(frozen=True, slots=True)
class IsLiteral:
    """`selector IS NULL | TRUE | FALSE`."""

    selector: Selector
    literal: Literal["NULL", "TRUE", "FALSE"]
    pos: int


@dataclass(frozen=True, slots=True)
class NotExists:
    """`selector NOT EXISTS`."""

    selector: Selector
    pos: int


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[JsonExpr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[JsonExpr, ...]
    pos: int


JsonCondition = Compare | IsLiteral | NotExists
JsonExpr = JsonCondition | And | Or


@dataclass(frozen=True, slots=True)
class JsonPattern:
    expr: JsonExpr
    pos: int


# -- space-delimited ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldCompare:
    """One condition on a field's text: `op value`."""

    op: CompareOp
    value: Value
    pos: int


@dataclass(frozen=True, slots=True)
class FieldAnd:
    items: tuple[FieldExpr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class FieldOr:
    items: tuple[FieldExpr, ...]
    pos: int


FieldExpr = FieldCompare | FieldAnd | FieldOr


@dataclass(frozen=True, slots=True)
class Field:
    """A slot that takes one field: named or not, with an optional condition."""

    name: str | None
    condition: FieldExpr | None
    pos: int


@dataclass(frozen=True, slots=True)
class AnyFields:
    """`...`: any number of fields."""

    pos: int


Slot = Field | AnyFields


@dataclass(frozen=True, slots=True)
class SpacePattern:
    slots: tuple[Slot, ...]
    pos: int

    @property
    def ellipsis_index(self) -> int | None:
        for i, slot in enumerate(self.slots):
            if isinstance(slot, AnyFields):
                return i
        return None


Pattern = MatchAll | TermsPattern | RegexPattern | JsonPattern | SpacePattern
