"""Logical plan -> DuckDB SQL over the EventSource relation: one CTE per step.

One renderer per step (`<step>_sql`), per expression node (`<node>_sql`) and per function
(`fn_<name>`, `agg_<name>` in `sqlfunctions.py`); a name without a renderer raises
`Unsupported`, it is never skipped. Value semantics (kinds, conversions, comparisons,
quoting) live in `sqlvalues.py`.
"""

# ruff: noqa: S608 - this module writes SQL; user values enter only through lit()/num_lit()
from __future__ import annotations

from dataclasses import dataclass

from query.insights import ast, plan, regex
from query.insights.functions import Family, lookup
from query.insights.plan import Access, Column, Discovered, Missing, System
from query.insights.sqlfunctions import FunctionRenderers, Unsupported
from query.insights.sqlvalues import (
    TEXTUAL,
    Kind,
    Val,
    compare,
    ident,
    is_number_value,
    json_pointer,
    kind_of_type,
    lit,
    num,
    num_lit,
    scalar,
    sort_keys,
    text,
    truth,
)


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    #: one row: recordsMatched, recordsScanned, bytesScanned
    stats_sql: str
    #: output (name, kind), in order
    columns: tuple[tuple[str, Kind], ...]


class Compiler(FunctionRenderers):
    """Compiles one plan over one relation; `compile()` returns the SQL."""

    def __init__(
        self,
        the_plan: plan.Plan,
        relation: str,
        schema: dict[str, str],
        *,
        account_id: str | None = None,
        row_cap: int = plan.MAX_ROWS,
    ) -> None:
        self.plan = the_plan
        self.relation_name = relation
        self.relation = ident(relation)
        #: statistics mode: filters become counted conditions instead of WHERE clauses
        self.counting = False
        self.conditions: list[str] = []
        self.schema = schema
        self.account_id = account_id
        self.row_cap = row_cap
        self.ctes: list[tuple[str, str]] = []
        self.current = '"$base"'
        self.counter = 0
        self.columns: dict[int, Val] = {}
        self.discovered: dict[str, Val] = {}
        self.json_paths: list[str] = []
        self.base_columns: list[str] = []
        self.overrides: dict[int, Val] = {}
        self.events = True
        self.order: list[tuple[str, bool]] = [
            ('"timestamp"', True),
            ("ingestion_time", True),
            ('"group"', False),
            ("stream", False),
            ("seq", False),
        ]

    # --- plumbing ------------------------------------------------------------------------

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f'"${prefix}{self.counter}"'

    def emit(self, select: str) -> str:
        cte = self.name("s")
        self.ctes.append((cte, select))
        self.current = cte
        return cte

    def order_by(self) -> str:
        if not self.order:
            return ""
        return " ORDER BY " + ", ".join(
            f"{e} {'DESC' if d else 'ASC'} NULLS LAST" for e, d in self.order
        )

    def with_clause(self) -> str:
        base: list[tuple[str, str]] = []
        if self.json_paths:
            paths = ", ".join(lit(p) for p in self.json_paths)
            extract = (
                rf"CASE WHEN regexp_matches(message, '^\s*\{{') "
                f"THEN TRY(json_extract(message, [{paths}])) END"
            )
            base.append(('"$raw"', f'SELECT *, {extract} AS "$j" FROM {self.relation}'))
            source = '"$raw"'
        else:
            source = self.relation
        extra = "".join(f", {c}" for c in self.base_columns)
        base.append(('"$base"', f"SELECT *{extra} FROM {source}"))
        return "WITH " + ", ".join(f"{n} AS ({s})" for n, s in (*base, *self.ctes))

    # --- bindings ------------------------------------------------------------------------

    def system(self, name: str) -> Val:
        match name:
            case "@timestamp":
                return Val('"timestamp"', Kind.TS)
            case "@ingestionTime":
                return Val("ingestion_time", Kind.TS)
            case "@message":
                return Val("message", Kind.STR)
            case "@logStream":
                return Val("stream", Kind.STR)
            case "@log":
                if self.account_id:
                    return Val(f'({lit(self.account_id + ":")} || "group")', Kind.STR)
                return Val('"group"', Kind.STR)
            case "@ptr":
                return Val('ld_ptr("group", seq)', Kind.STR)
        raise Unsupported(name)

    def discovered_field(self, path: str) -> Val:
        if path in self.discovered:
            return self.discovered[path]
        typed = self.schema.get("f." + path)
        if typed is not None:
            kind = kind_of_type(typed)
            column = ident("f." + path)
            if kind is Kind.JSON:
                val = Val(f"ld_jscalar({column})", Kind.DYN)
            elif kind is Kind.NULL:
                val = Val(f"CAST({column} AS VARCHAR)", Kind.DYN)
            else:
                val = Val(column, kind)
        else:
            key = path[1:] if path.startswith("@@") else path
            pointers = [json_pointer(key)]
            if "." in key:  # a key that itself contains dots is tried first
                pointers.insert(0, "/" + key.replace("~", "~0").replace("/", "~1"))
            slots = []
            for pointer in pointers:
                if pointer not in self.json_paths:
                    self.json_paths.append(pointer)
                slots.append(f'"$j"[{self.json_paths.index(pointer) + 1}]')
            value = slots[0] if len(slots) == 1 else f"coalesce({', '.join(slots)})"
            column = self.name("d")
            self.base_columns.append(f"ld_jscalar({value}) AS {column}")
            val = Val(column, Kind.DYN)
        self.discovered[path] = val
        return val

    def binding(self, binding: plan.Binding) -> Val:
        match binding:
            case System(name=name):
                return self.system(name)
            case Discovered(path=path):
                return self.discovered_field(path)
            case Column(id=cid):
                return self.columns.get(cid, Val("NULL", Kind.NULL))
            case Access(base=base, path=path):
                inner = self.columns.get(base.id, Val("NULL", Kind.NULL))
                if inner.kind is not Kind.JSON:
                    return Val("NULL", Kind.NULL)
                return Val(
                    f"json_extract({inner.sql}, {lit(json_pointer('.'.join(path)))})", Kind.JSON
                )
            case Missing():
                return Val("NULL", Kind.NULL)
        raise Unsupported(str(binding))

    # --- expressions ---------------------------------------------------------------------

    def expr(self, node: ast.Expr) -> Val:
        override = self.overrides.get(id(node))
        if override is not None:
            return override
        bound = self.plan.binding(node)
        if bound is not None:
            return self.binding(bound)
        render = getattr(self, f"{type(node).__name__.lower()}_sql", None)
        if render is None:
            raise Unsupported(type(node).__name__)
        result: Val = render(node)
        return result

    def string_sql(self, node: ast.String) -> Val:
        return Val(lit(node.value), Kind.STR, node.value)

    def number_sql(self, node: ast.Number) -> Val:
        kind = Kind.INT if isinstance(node.value, int) else Kind.FLOAT
        return Val(num_lit(node.value), kind, node.value)

    def neg_sql(self, node: ast.Neg) -> Val:
        inner = self.expr(node.operand)
        if isinstance(inner.const, int | float) and not isinstance(inner.const, bool):
            return self.number_sql(ast.Number(-inner.const, node.pos))
        kind = inner.kind if inner.kind in (Kind.INT, Kind.FLOAT) else Kind.FLOAT
        return Val(f"(-{num(inner)})", kind)

    def not_sql(self, node: ast.Not) -> Val:
        return Val(f"(NOT {truth(self.expr(node.operand))})", Kind.BOOL)

    def logical_sql(self, node: ast.Logical) -> Val:
        operands = [truth(self.expr(e)) for e in ast.chain(node)]
        return Val("(" + f" {node.op.upper()} ".join(operands) + ")", Kind.BOOL)

    def compare_sql(self, node: ast.Compare) -> Val:
        return Val(compare(node.op, self.expr(node.left), self.expr(node.right)), Kind.BOOL)

    def arith_sql(self, node: ast.Arith) -> Val:
        a, b = self.expr(node.left), self.expr(node.right)
        ints = a.kind in (Kind.INT, Kind.TS, Kind.BOOL) and b.kind in (Kind.INT, Kind.TS, Kind.BOOL)
        x, y = num(a), num(b)
        match node.op:
            case "+" | "-" | "*" if ints:
                return Val(
                    f"coalesce(TRY({x} {node.op} {y}), CAST({x} AS DOUBLE) {node.op} {y})", Kind.INT
                )
            case "+" | "-" | "*":
                return Val(f"(CAST({x} AS DOUBLE) {node.op} {y})", Kind.FLOAT)
            case "/":
                return Val(f"(CAST({x} AS DOUBLE) / nullif({y}, 0))", Kind.FLOAT)
            case "%" if ints:
                return Val(f"({x} % nullif({y}, 0))", Kind.INT)
            case "%":
                return Val(f"fmod(CAST({x} AS DOUBLE), nullif({y}, 0))", Kind.FLOAT)
            case "^":
                return Val(f"TRY(power(CAST({x} AS DOUBLE), {y}))", Kind.FLOAT)
        raise Unsupported(node.op)

    def like_sql(self, node: ast.Like) -> Val:
        subject = text(self.expr(node.subject))
        if isinstance(node.pattern, ast.Regex):
            test = _regex_test(subject, regex.validate(node.pattern.pattern))
        else:
            test = f"contains({subject}, {lit(node.pattern.value)})"
        return Val(f"(NOT {test})" if node.negated else test, Kind.BOOL)

    def in_sql(self, node: ast.In) -> Val:
        subject = scalar(self.expr(node.subject))
        items = [self.expr(item) for item in node.items.items]
        if not items:
            test = f"(CASE WHEN {subject.sql} IS NOT NULL THEN false END)"
        elif (
            subject.kind in TEXTUAL
            and all(isinstance(i.const, str) and not is_number_value(i.const) for i in items)
        ) or (
            subject.kind in (Kind.INT, Kind.FLOAT)
            and all(isinstance(i.const, int | float) for i in items)
        ):
            test = f"({subject.sql} IN ({', '.join(i.sql for i in items)}))"
        else:
            test = "(" + " OR ".join(compare("=", subject, i) for i in items) + ")"
        return Val(f"(NOT {test})" if node.negated else test, Kind.BOOL)

    def member_sql(self, node: ast.Member) -> Val:
        return self._access(node.obj, node.key)

    def index_sql(self, node: ast.Index) -> Val:
        if node.index < 0:
            return Val("NULL", Kind.NULL)
        return self._access(node.obj, str(node.index))

    def _access(self, obj: ast.Expr, key: str) -> Val:
        inner = self.expr(obj)
        if inner.kind is not Kind.JSON:
            return Val("NULL", Kind.NULL)
        pointer = "/" + key.replace("~", "~0").replace("/", "~1")
        return Val(f"json_extract({inner.sql}, {lit(pointer)})", Kind.JSON)

    def call_sql(self, node: ast.Call) -> Val:
        fn = lookup(node.name)
        if fn is None or fn.family is not Family.SCALAR:
            raise Unsupported(node.name)
        render = getattr(self, f"fn_{fn.name.lower()}", None)
        if render is None:
            raise Unsupported(fn.name)
        result: Val = render(node)
        return result

    # --- steps ---------------------------------------------------------------------------

    def compile(self) -> Compiled:
        for step in self.plan.steps:
            self.step(step)
        outputs = [(c.name, self.binding(c.binding)) for c in self.plan.output]
        select = ", ".join(f"{v.sql} AS {self.name('v')}" for _, v in outputs)
        main = f"SELECT {select} FROM {self.current}{self.order_by()} LIMIT {self.row_cap}"
        return Compiled(
            sql=f"{self.with_clause()} {main}",
            stats_sql=self.statistics(),
            columns=tuple((name, v.kind) for name, v in outputs),
        )

    def step(self, step: plan.Step) -> None:
        render = getattr(self, f"{type(step).__name__.lower()}_sql", None)
        if render is None:
            raise Unsupported(type(step).__name__)
        render(step)

    def statistics(self) -> str:
        """recordsMatched, recordsScanned, bytesScanned in one scan where possible.

        The steps before the match point are compiled again with every `filter` turned
        into a counted condition, so scanned, matched and bytes come from one pass.
        A relation column `message_bytes` (the event's UTF-8 size, if the source keeps
        one) spares reading every message just to count its bytes.
        """
        size = '"message_bytes"' if "message_bytes" in self.schema else "strlen(message)"
        bytes_sum = f"coalesce(sum({size}), 0)"
        head = self.plan.steps[: self.plan.matched_at]
        counter = Compiler(self.plan, self.relation_name, self.schema, account_id=self.account_id)
        if all(isinstance(s, plan.Compute | plan.Where | plan.Extract | plan.Order) for s in head):
            counter.counting = True
            for step in head:
                if not isinstance(step, plan.Order):
                    counter.step(step)
            matched = " AND ".join(counter.conditions) or "true"
            select = f"count(*) FILTER (WHERE {matched}), count(*), {bytes_sum}"
            return f"{counter.with_clause()} SELECT {select} FROM {counter.current}"
        for step in head:
            counter.step(step)
        return (
            f"{counter.with_clause()} SELECT (SELECT count(*) FROM {counter.current}), "
            f"(SELECT count(*) FROM {self.relation}), "
            f"(SELECT {bytes_sum} FROM {self.relation})"
        )

    def compute_sql(self, step: plan.Compute) -> None:
        projections = []
        for column, node in step.columns:
            val = self.expr(node)
            name = self.name("c")
            projections.append(f"{val.sql} AS {name}")
            self.columns[column.id] = Val(name, val.kind)
        self.emit(f"SELECT *, {', '.join(projections)} FROM {self.current}")

    def where_sql(self, step: plan.Where) -> None:
        condition = truth(self.expr(step.expr))
        if self.counting:
            self.conditions.append(condition)
            return
        self.emit(f"SELECT * FROM {self.current} WHERE {condition}")

    def extract_sql(self, step: plan.Extract) -> None:
        source = text(self.expr(step.source))
        pattern = lit(step.pattern)
        groups = ", ".join(lit(f"g{i + 1}") for i in range(len(step.columns)))
        struct = self.name("p")
        self.emit(
            f"SELECT *, CASE WHEN {_regex_test(source, step.pattern)} "
            f"THEN regexp_extract({source}, {pattern}, [{groups}]) END AS {struct} "
            f"FROM {self.current}"
        )
        projections = []
        for i, column in enumerate(step.columns):
            name = self.name("c")
            projections.append(f"struct_extract({struct}, 'g{i + 1}') AS {name}")
            self.columns[column.id] = Val(name, Kind.STR)
        self.emit(f"SELECT *, {', '.join(projections)} FROM {self.current}")

    def reorder(self, keys: list[tuple[Val, bool]]) -> None:
        """Make `keys` the most significant sort keys; ties keep the current order."""
        new_order: list[tuple[str, bool]] = []
        projections: list[str] = []
        for val, descending in keys:
            for component in sort_keys(val):
                if _is_column(component):
                    new_order.append((component, descending))
                    continue
                name = self.name("o")
                projections.append(f"{component} AS {name}")
                new_order.append((name, descending))
        if projections:
            self.emit(f"SELECT *, {', '.join(projections)} FROM {self.current}")
        self.order = new_order + self.order

    def order_sql(self, step: plan.Order) -> None:
        self.reorder([(self.expr(e), d) for e, d in step.keys])

    def take_sql(self, step: plan.Take) -> None:
        self.emit(f"SELECT * FROM {self.current}{self.order_by()} LIMIT {step.count}")

    def aggregate_sql(self, step: plan.Aggregate) -> None:
        pre: list[str] = []
        keys: list[tuple[Column, Val]] = []
        for column, node in step.by:
            val = self.expr(node)
            name = self.name("k")
            pre.append(f"{val.sql} AS {name}")
            keys.append((column, Val(name, val.kind)))
        calls: list[tuple[ast.Call, list[Val]]] = []
        for _, node in step.items:
            for call in _aggregations(node):
                args: list[Val] = []
                for arg in call.args:
                    if isinstance(arg, ast.Star) or (
                        call.name.lower() == "pct" and arg is call.args[1]
                    ):
                        continue
                    val = self.expr(arg)
                    name = self.name("a")
                    pre.append(f"{val.sql} AS {name}")
                    args.append(Val(name, val.kind))
                calls.append((call, args))
        if pre:
            self.emit(f"SELECT *, {', '.join(pre)} FROM {self.current}")
        for call, args in calls:
            fn = lookup(call.name)
            if fn is None:
                raise Unsupported(call.name)
            render = getattr(self, f"agg_{fn.name.lower()}", None)
            if render is None:
                raise Unsupported(fn.name)
            self.overrides[id(call)] = render(call, args)
        selects: list[str] = []
        self.columns = {}
        for column, key in keys:
            name = self.name("c")
            selects.append(f"{key.sql} AS {name}")
            self.columns[column.id] = Val(name, key.kind)
        for column, node in step.items:
            val = self.expr(node)
            name = self.name("c")
            selects.append(f"{val.sql} AS {name}")
            self.columns[column.id] = Val(name, val.kind)
        group = f" GROUP BY {', '.join(k.sql for _, k in keys)}" if keys else ""
        self.emit(f"SELECT {', '.join(selects)} FROM {self.current}{group}")
        self.events = False
        self.order = []
        self.reorder([(self.columns[c.id], False) for c, _ in keys])

    def distinct_sql(self, step: plan.Distinct) -> None:
        vals = [scalar(self.expr(k)) for k in step.keys]
        partition = ", ".join(v.sql for v in vals)
        nulls = " OR ".join(f"{v.sql} IS NULL" for v in vals)
        window = f"row_number() OVER (PARTITION BY {partition}{self.order_by()})"
        inner = f'SELECT *, {window} AS "$rn" FROM {self.current}'
        self.emit(f'SELECT * EXCLUDE ("$rn") FROM ({inner}) WHERE "$rn" = 1 OR {nulls}')

    def explode_sql(self, step: plan.Explode) -> None:
        val = self.expr(step.source)
        json = val.sql if val.kind is Kind.JSON else f"TRY_CAST({text(val)} AS JSON)"
        name = self.name("c")
        self.emit(
            f"SELECT *, unnest(CASE WHEN json_type({json}) = 'ARRAY' "
            f"THEN CAST({json} AS JSON[]) END) AS {name} FROM {self.current}"
        )
        self.columns[step.column.id] = Val(name, Kind.JSON)


def _regex_test(subject: str, pattern: str) -> str:
    """regexp_matches, behind a cheap substring test when the regex requires a literal."""
    test = f"regexp_matches({subject}, {lit(pattern)})"
    literal = regex.required_literal(pattern)
    if literal is None or pattern.startswith(literal[:1]):
        return test  # RE2 already skips ahead to a literal prefix faster than contains()
    return f"(contains({subject}, {lit(literal)}) AND {test})"


def _is_column(sql: str) -> bool:
    return sql.isidentifier() or (sql.startswith('"') and sql.endswith('"') and sql.count('"') == 2)


def _aggregations(node: ast.Expr) -> list[ast.Call]:
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            fn = lookup(current.name)
            if fn is not None and fn.family is not Family.SCALAR:
                found.append(current)
                continue
        stack.extend(ast.children(current))
    return found


def compile_plan(
    the_plan: plan.Plan,
    relation: str,
    schema: dict[str, str],
    *,
    account_id: str | None = None,
    row_cap: int = plan.MAX_ROWS,
) -> Compiled:
    """The SQL of `the_plan` over `relation` (columns and DuckDB types in `schema`)."""
    compiler = Compiler(the_plan, relation, schema, account_id=account_id, row_cap=row_cap)
    return compiler.compile()
