"""Checked AST -> logical plan: one step per command, every field name bound.

The planner decides *what* each command does, independent of storage: which names refer
to system fields, to fields discovered in the JSON message, or to columns an earlier
command made (the latest definition wins); which steps exist; what the output columns
are; where `recordsMatched` is counted. `sql.py` decides *how*, over a concrete relation.

Bindings are attached to AST nodes by identity (`Plan.bindings[id(node)]`): a `Field`, or
a `Member`/`Index` chain over a discovered field, or (after `stats`) any expression whose
text names a stats column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeAlias

from query.insights import ast, regex

SYSTEM_FIELDS = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime", "@ptr")
#: The row cap of every result (CloudWatch's).
MAX_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class System:
    name: str


@dataclass(frozen=True, slots=True)
class Discovered:
    """A field of the event's JSON message, by flattened name (`req.method`, `tags.0`)."""

    path: str


@dataclass(frozen=True, slots=True)
class Column:
    """A value an earlier step computed; `name` is its user-facing name."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Missing:
    """A name nothing defines (an `@name` that is not a system field): always null."""

    name: str


@dataclass(frozen=True, slots=True)
class Access:
    """`m.key.0` where `m` is a computed value (a `jsonParse` map): structure access."""

    base: Column
    path: tuple[str, ...]


Binding: TypeAlias = System | Discovered | Column | Missing | Access


@dataclass(frozen=True, slots=True)
class Compute:
    """`fields`: new columns from expressions over the incoming row."""

    columns: tuple[tuple[Column, ast.Expr], ...]


@dataclass(frozen=True, slots=True)
class Where:
    expr: ast.Expr


@dataclass(frozen=True, slots=True)
class Extract:
    """`parse`: RE2 `pattern` (captures g1..gN) searched in `source`; null if no match."""

    source: ast.Expr
    pattern: str
    columns: tuple[Column, ...]


@dataclass(frozen=True, slots=True)
class Order:
    keys: tuple[tuple[ast.Expr, bool], ...]  # (expression, descending)


@dataclass(frozen=True, slots=True)
class Take:
    count: int


@dataclass(frozen=True, slots=True)
class Aggregate:
    by: tuple[tuple[Column, ast.Expr], ...]
    items: tuple[tuple[Column, ast.Expr], ...]
    #: the first stats (rows still have @timestamp etc.)
    first: bool


@dataclass(frozen=True, slots=True)
class Distinct:
    """`dedup`: first row per key tuple in the current order; rows with a null key stay."""

    keys: tuple[ast.Expr, ...]


@dataclass(frozen=True, slots=True)
class Explode:
    """`unnest`: one row per element of a list value."""

    source: ast.Expr
    column: Column


Step: TypeAlias = Compute | Where | Extract | Order | Take | Aggregate | Distinct | Explode


@dataclass(frozen=True, slots=True)
class OutputColumn:
    name: str
    binding: Binding


@dataclass(slots=True)
class Plan:
    query: ast.Query
    steps: list[Step]
    output: list[OutputColumn]
    #: whether result rows carry @ptr (every non-stats query)
    with_ptr: bool
    #: recordsMatched counts the rows entering steps[matched_at] (len(steps): the end)
    matched_at: int
    #: the query has a `limit` command (StartQuery's limit is then ignored)
    has_limit: bool
    bindings: dict[int, Binding] = field(default_factory=dict)

    def binding(self, node: object) -> Binding | None:
        return self.bindings.get(id(node))


def _item_name(item: ast.NamedExpr) -> str:
    if item.alias is not None:
        return item.alias.name
    if isinstance(item.expr, ast.Field):
        return item.expr.name
    return item.text


class _Planner:
    def __init__(self, query: ast.Query) -> None:
        self.query = query
        self.steps: list[Step] = []
        self.bindings: dict[int, Binding] = {}
        self.scope: dict[str, Binding] = {}
        self.after_stats = False
        self.next_id = 0
        self.fields_names: list[str] = []
        self.parse_names: list[str] = []
        self.display: list[str] | None = None
        self.stats_output: list[str] = []
        self.matched_at: int | None = None
        self.has_limit = False
        self.stats_count = 0

    def column(self, name: str) -> Column:
        self.next_id += 1
        return Column(self.next_id, name)

    def mark_matched(self) -> None:
        if self.matched_at is None:
            self.matched_at = len(self.steps)

    # --- name resolution -----------------------------------------------------------------

    def resolve_name(self, name: str) -> Binding:
        if name in self.scope:
            return self.scope[name]
        if "." in name:
            parts = name.split(".")
            for cut in range(len(parts) - 1, 0, -1):
                base = self.scope.get(".".join(parts[:cut]))
                if isinstance(base, Column):
                    return Access(base, tuple(parts[cut:]))
        if self.after_stats:
            return Missing(name)
        if name in SYSTEM_FIELDS:
            return System(name)
        if name.startswith("@") and not name.startswith("@@"):
            return Missing(name)
        return Discovered(name)

    def bind(self, expr: ast.Expr) -> Binding | None:
        """Record the binding of every name in `expr`; return `expr`'s own, if any."""
        found: Binding | None = None
        match expr:
            case ast.Field(name=name):
                found = self.resolve_name(name)
            case ast.Logical():
                for operand in ast.chain(expr):
                    self.bind(operand)
            case ast.Member(obj=obj, key=key) | ast.Index(obj=obj, index=key):
                inner = self.bind(obj)
                if isinstance(inner, Discovered):
                    found = Discovered(f"{inner.path}.{key}")
                elif isinstance(inner, Access):
                    found = Access(inner.base, (*inner.path, str(key)))
            case _:
                for child in ast.children(expr):
                    self.bind(child)
        if found is not None:
            self.bindings[id(expr)] = found
        return found

    def bind_by_text(self, expr: ast.Expr, text: str) -> None:
        """After stats, an expression written like a stats column's name is that column."""
        if self.after_stats and text in self.scope and not isinstance(expr, ast.Field):
            self.bindings[id(expr)] = self.scope[text]
        else:
            self.bind(expr)

    # --- commands ------------------------------------------------------------------------

    def run(self) -> Plan:
        for command in self.query.commands:
            getattr(self, f"plan_{type(command).__name__.lower()}")(command)
        return self.finish()

    def plan_source(self, command: ast.Source) -> None:
        del command  # the caller selected the log groups from it

    def plan_unmask(self, command: ast.Unmask) -> None:
        if command.field is not None:  # logd has no masking: unmask shows what is there
            self.bind(command.field)

    def plan_fields(self, command: ast.Fields) -> None:
        columns: list[tuple[Column, ast.Expr]] = []
        names: list[tuple[str, Binding]] = []
        for item in command.items:
            name = _item_name(item)
            if item.alias is None and isinstance(item.expr, ast.Field):
                self.bind(item.expr)
            else:
                self.bind_by_text(item.expr, item.text)
                column = self.column(name)
                columns.append((column, item.expr))
                names.append((name, column))
            if name not in self.fields_names:
                self.fields_names.append(name)
        if columns:
            self.steps.append(Compute(tuple(columns)))
        self.scope.update(names)

    def plan_display(self, command: ast.Display) -> None:
        names: list[str] = []
        for item in command.items:
            expr = item.expr
            if isinstance(expr, ast.Call):  # unmask(field)
                expr = expr.args[0]
            if not isinstance(expr, ast.Field):  # the checker allows only fields here
                raise TypeError("display takes fields")
            self.bind(expr)
            names.append(expr.name)
        self.display = names

    def plan_filter(self, command: ast.Filter) -> None:
        self.bind(command.expr)
        self.steps.append(Where(command.expr))

    def plan_filterindex(self, command: ast.FilterIndex) -> None:
        value = command.value
        expr: ast.Expr
        if isinstance(value, ast.ListLit):
            expr = ast.In(command.field, value, False, command.pos)
        else:
            expr = ast.Compare("=", command.field, value, command.pos)
        self.bind(expr)
        self.steps.append(Where(expr))

    def plan_stats(self, command: ast.Stats) -> None:
        self.mark_matched()
        self.stats_count += 1
        by: list[tuple[Column, ast.Expr]] = []
        items: list[tuple[Column, ast.Expr]] = []
        for item in command.by:
            self.bind(item.expr)
            by.append((self.column(_item_name(item)), item.expr))
        for item in command.items:
            self.bind(item.expr)
            name = item.alias.name if item.alias else item.text
            items.append((self.column(name), item.expr))
        self.steps.append(Aggregate(tuple(by), tuple(items), first=self.stats_count == 1))
        self.after_stats = True
        self.scope = {column.name: column for column, _ in (*by, *items)}
        self.stats_output = list(self.scope)
        self.fields_names = []
        self.display = None

    def plan_sort(self, command: ast.Sort) -> None:
        for key in command.keys:
            self.bind_by_text(key.expr, key.text)
        self.steps.append(Order(tuple((key.expr, key.descending) for key in command.keys)))

    def plan_limit(self, command: ast.Limit) -> None:
        self.mark_matched()
        self.has_limit = True
        self.steps.append(Take(min(int(command.count), MAX_ROWS)))

    def plan_parse(self, command: ast.Parse) -> None:
        source: ast.Expr = command.source or ast.Field("@message", command.pos)
        self.bind(source)
        pattern = command.pattern
        if isinstance(pattern, ast.String):
            compiled = regex.glob_to_regex(pattern.value)
            names = [n.name for n in command.names]
        else:
            translated = regex.translate(pattern.pattern, positional=True)
            compiled, names = translated.pattern, list(translated.names)
        columns = tuple(self.column(name) for name in names)
        self.steps.append(Extract(source, compiled, columns))
        for column in columns:
            self.scope[column.name] = column
            if column.name not in self.parse_names:
                self.parse_names.append(column.name)

    def plan_dedup(self, command: ast.Dedup) -> None:
        self.mark_matched()
        for item in command.fields:
            self.bind(item)
        self.steps.append(Distinct(command.fields))

    def plan_unnest(self, command: ast.Unnest) -> None:
        self.bind(command.field)
        column = self.column(command.into.name)
        self.steps.append(Explode(command.field, column))
        self.scope[column.name] = column

    # --- output --------------------------------------------------------------------------

    def finish(self) -> Plan:
        if self.display is not None:
            names = list(self.display)
        elif self.stats_count:
            names = self.stats_output + [n for n in self.fields_names if n not in self.stats_output]
        elif self.fields_names:
            names = list(self.fields_names)
        else:
            names = ["@timestamp", "@message", *self.parse_names]
        with_ptr = self.stats_count == 0
        output = [OutputColumn(name, self.resolve_name(name)) for name in dict.fromkeys(names)]
        if with_ptr and "@ptr" not in names:
            output.append(OutputColumn("@ptr", System("@ptr")))
        return Plan(
            query=self.query,
            steps=self.steps,
            output=output,
            with_ptr=with_ptr,
            matched_at=len(self.steps) if self.matched_at is None else self.matched_at,
            has_limit=self.has_limit,
            bindings=self.bindings,
        )


def build(query: ast.Query) -> Plan:
    """The logical plan of a checked query."""
    return _Planner(query).run()


def explain(plan: Plan) -> str:
    """A readable outline of the plan (for `--explain` and plan goldens)."""
    lines: list[str] = []
    for step in plan.steps:
        match step:
            case Compute(columns=cols):
                lines.append(
                    "compute " + ", ".join(f"{c.name} := {_text(plan, e)}" for c, e in cols)
                )
            case Where(expr=e):
                lines.append(f"where {_text(plan, e)}")
            case Extract(source=src, pattern=pat, columns=cols):
                names = ", ".join(c.name for c in cols)
                lines.append(f"extract {names} from {_text(plan, src)} by /{pat}/")
            case Order(keys=sort_keys):
                lines.append(
                    "order "
                    + ", ".join(f"{_text(plan, e)} {'desc' if d else 'asc'}" for e, d in sort_keys)
                )
            case Take(count=n):
                lines.append(f"take {n}")
            case Aggregate(by=by, items=items):
                aggs = ", ".join(f"{c.name} := {_text(plan, e)}" for c, e in items)
                groups = ", ".join(f"{c.name} := {_text(plan, e)}" for c, e in by)
                lines.append(f"aggregate {aggs}" + (f" by {groups}" if by else ""))
            case Distinct(keys=fields):
                lines.append("distinct " + ", ".join(_text(plan, e) for e in fields))
            case Explode(source=src, column=col):
                lines.append(f"explode {_text(plan, src)} into {col.name}")
    columns = ", ".join(f"{c.name} <- {_binding_text(c.binding)}" for c in plan.output)
    lines.append(f"output {columns}")
    lines.append(f"matched before step {plan.matched_at}")
    return "\n".join(lines)


def _binding_text(binding: Binding) -> str:
    match binding:
        case System(name=n):
            return n
        case Discovered(path=p):
            return f"json:{p}"
        case Column(id=i, name=n):
            return f"${i}({n})"
        case Access(base=b, path=p):
            return f"${b.id}({b.name})" + "".join(f"[{k}]" for k in p)
        case Missing(name=n):
            return f"null:{n}"


def _text(plan: Plan, expr: ast.Expr) -> str:
    binding = plan.binding(expr)
    if binding is not None:
        return _binding_text(binding)
    text = plan.query.text[expr.pos.start : expr.pos.end]
    return " ".join(text.split())
