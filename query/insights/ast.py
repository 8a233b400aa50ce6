"""The typed syntax tree of an Insights query.

Every node is a frozen, slotted dataclass carrying `pos`, the span of source text it came
from (1-based line and column of its first character, 0-based character offsets
`start`/`end`, end exclusive). Nodes hold what was written, nothing resolved: field names
are not yet bound to system, discovered or computed fields (that is `plan.py`'s job), and
nothing here is checked beyond what the grammar enforces (that is `check.py`'s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from query.errors import InsightsQueryError


@dataclass(frozen=True, slots=True)
class Pos:
    """A span of the query text."""

    line: int
    column: int
    start: int
    end: int

    def to(self, other: Pos) -> Pos:
        """The span from the start of `self` to the end of `other`."""
        return Pos(self.line, self.column, self.start, other.end)


def pos_at(text: str, start: int, end: int | None = None) -> Pos:
    """The `Pos` of the characters text[start:end] (end defaults to start)."""
    start = max(0, min(start, len(text)))
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return Pos(line, column, start, start if end is None else max(start, end))


def error_at(text: str, pos: Pos, message: str) -> InsightsQueryError:
    """An error pointing at `pos`, with the offending line and a caret under it."""
    line_start = text.rfind("\n", 0, pos.start) + 1
    line_end = text.find("\n", pos.start)
    if line_end < 0:
        line_end = len(text)
    source_line = text[line_start:line_end].replace("\t", " ")
    width = max(1, min(pos.end, line_end) - pos.start)
    excerpt = f"{source_line}\n{' ' * (pos.start - line_start)}{'^' * width}"
    return InsightsQueryError(
        message,
        line=pos.line,
        column=pos.column,
        excerpt=excerpt,
        start=pos.start,
        end=pos.end,
    )


# --- expressions -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Field:
    """A field name: bare (`status`, `req.method`, `@timestamp`) or backticked."""

    name: str
    pos: Pos
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class String:
    value: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Number:
    value: int | float
    pos: Pos


@dataclass(frozen=True, slots=True)
class Regex:
    """A `/pattern/` literal; `pattern` is the text between the slashes, `\\/` kept."""

    pattern: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Period:
    """A time period such as `5m`: `unit` as written (validated by the checker)."""

    count: int
    unit: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[String | Number, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Star:
    """The `*` of `count(*)`."""

    pos: Pos


@dataclass(frozen=True, slots=True)
class Call:
    """A function call; `name` as written (function names are case-insensitive)."""

    name: str
    args: tuple[Expr, ...]
    pos: Pos
    name_pos: Pos


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Arith:
    """`+ - * / % ^`."""

    op: str
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Logical:
    """`and` / `or` (op lower-case)."""

    op: str
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Compare:
    """`= != < <= > >=`."""

    op: str
    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Like:
    """`like`, `not like` and `=~` (op is "like" or "=~")."""

    subject: Expr
    pattern: String | Regex
    negated: bool
    op: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class In:
    subject: Expr
    items: ListLit
    negated: bool
    pos: Pos


@dataclass(frozen=True, slots=True)
class Member:
    """`value.key` on a structure (jsonParse result)."""

    obj: Expr
    key: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Index:
    """`value[i]`."""

    obj: Expr
    index: int
    pos: Pos


Expr: TypeAlias = (
    Field
    | String
    | Number
    | Regex
    | Period
    | ListLit
    | Star
    | Call
    | Neg
    | Not
    | Arith
    | Logical
    | Compare
    | Like
    | In
    | Member
    | Index
)


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `expr`, in source order."""
    match expr:
        case Call(args=args):
            return args
        case Neg(operand=o) | Not(operand=o):
            return (o,)
        case Arith(left=a, right=b) | Logical(left=a, right=b) | Compare(left=a, right=b):
            return (a, b)
        case Like(subject=s, pattern=p):
            return (s, p)
        case In(subject=s, items=items):
            return (s, items)
        case Member(obj=o) | Index(obj=o):
            return (o,)
        case ListLit(items=items):
            return items
    return ()


def chain(expr: Logical) -> list[Expr]:
    """The operands of a run of the same `and`/`or`, flattened without recursion.

    Long `a or b or c ...` runs are legal (queries of 10,000 characters); passes that
    recurse over expressions go through this so a run costs one level, not hundreds.
    """
    out: list[Expr] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Logical) and node.op == expr.op:
            stack.append(node.right)
            stack.append(node.left)
        else:
            out.append(node)
    return out


def walk(expr: Expr) -> list[Expr]:
    """Every node of `expr`, parents before children (iterative: no recursion limit)."""
    out: list[Expr] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(reversed(children(node)))
    return out


# --- commands ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """A name being defined (`as name`, a `parse` capture, `unnest ... into name`)."""

    name: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class NamedExpr:
    """`expr [as name]`; `text` is the expression's source with whitespace removed."""

    expr: Expr
    alias: Name | None
    text: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class SortKey:
    expr: Expr
    descending: bool
    explicit: bool
    text: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Fields:
    items: tuple[NamedExpr, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Display:
    items: tuple[NamedExpr, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Filter:
    expr: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class Stats:
    items: tuple[NamedExpr, ...]
    by: tuple[NamedExpr, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Sort:
    keys: tuple[SortKey, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Limit:
    count: int | float
    any: bool
    count_pos: Pos
    pos: Pos


@dataclass(frozen=True, slots=True)
class Parse:
    """Glob mode (`pattern` a String, `names` given) or regex mode (a Regex, no names)."""

    source: Field | None
    pattern: String | Regex
    names: tuple[Name, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Dedup:
    fields: tuple[Field, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class Unmask:
    field: Field | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class FilterIndex:
    """`filterIndex field = literal` or `filterIndex field in [...]`."""

    field: Field
    value: String | Number | ListLit
    pos: Pos


@dataclass(frozen=True, slots=True)
class Pattern:
    expr: Expr | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class Diff:
    mode: Name | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class Unnest:
    field: Field
    into: Name
    pos: Pos


@dataclass(frozen=True, slots=True)
class SourceArg:
    name: Name
    values: ListLit
    pos: Pos


@dataclass(frozen=True, slots=True)
class Source:
    """`SOURCE logGroups(namePrefix: [...], ...)`: the caller resolves the groups."""

    function: Name
    args: tuple[SourceArg, ...]
    pos: Pos


Command: TypeAlias = (
    Fields
    | Display
    | Filter
    | Stats
    | Sort
    | Limit
    | Parse
    | Dedup
    | Unmask
    | FilterIndex
    | Pattern
    | Diff
    | Unnest
    | Source
)

#: The name of each command node as a user writes it.
COMMAND_NAMES: dict[type, str] = {
    Fields: "fields",
    Display: "display",
    Filter: "filter",
    Stats: "stats",
    Sort: "sort",
    Limit: "limit",
    Parse: "parse",
    Dedup: "dedup",
    Unmask: "unmask",
    FilterIndex: "filterIndex",
    Pattern: "pattern",
    Diff: "diff",
    Unnest: "unnest",
    Source: "SOURCE",
}


@dataclass(frozen=True, slots=True)
class Query:
    commands: tuple[Command, ...]
    text: str

    @property
    def source(self) -> Source | None:
        """The leading `SOURCE` command, if any (the caller selects groups from it)."""
        first = self.commands[0] if self.commands else None
        return first if isinstance(first, Source) else None
