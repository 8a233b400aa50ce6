"""AST -> checked AST: rejects what is wrong or unsupported, never ignores it.

`check(query)` raises `InsightsQueryError` (line, column, offsets, caret) for: command order
(`SOURCE` first, at most two `stats`, only `limit` after `dedup`, ...), unsupported commands,
unknown functions, wrong arity or argument kind, bad periods, invalid regexes, glob
capture counts, aggregations outside `stats` (or missing in it), fields that do not exist
after `stats`, and invalid literals (limits, percentiles, CIDRs, names).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from query.errors import InsightsQueryError
from query.insights import ast, regex
from query.insights.functions import Arg, Family, lookup, time_unit

SOURCE_ARGS = {
    "nameprefix": 5,
    "accountidentifiers": 20,
    "class": 2,
    "loggroupclass": 2,
}
LOG_GROUP_CLASSES = {"STANDARD", "INFREQUENT_ACCESS"}
SUBNET_FUNCTIONS = {"isipinsubnet": None, "isipv4insubnet": 4, "isipv6insubnet": 6}


class _Checker:
    def __init__(self, query: ast.Query) -> None:
        self.text = query.text
        self.query = query
        #: names visible after the first stats (None: before any stats, everything is)
        self.scope: set[str] | None = None
        self.stats_seen = 0

    def error(self, pos: ast.Pos, message: str) -> InsightsQueryError:
        return ast.error_at(self.text, pos, message)

    # --- commands ------------------------------------------------------------------------

    def run(self) -> None:
        commands = self.query.commands
        after_dedup = False
        for index, command in enumerate(commands):
            name = ast.COMMAND_NAMES[type(command)]
            if after_dedup and not isinstance(command, ast.Limit):
                raise self.error(command.pos, f"only limit may follow dedup, not {name}")
            if isinstance(command, ast.Source) and index > 0:
                raise self.error(command.pos, "SOURCE may only be the first command")
            if self.stats_seen and isinstance(
                command, ast.Parse | ast.Dedup | ast.Pattern | ast.Diff | ast.Unnest
            ):
                raise self.error(command.pos, f"{name} cannot follow stats")
            if self.stats_seen and isinstance(command, ast.FilterIndex):
                raise self.error(command.pos, "filterIndex must come before stats")
            method = getattr(self, f"check_{type(command).__name__.lower()}")
            method(command)
            if isinstance(command, ast.Dedup):
                after_dedup = True

    def check_source(self, command: ast.Source) -> None:
        if command.function.name.lower() != "loggroups":
            raise self.error(command.function.pos, "SOURCE takes logGroups(...)")
        seen: set[str] = set()
        for arg in command.args:
            key = arg.name.name.lower()
            if key not in SOURCE_ARGS:
                allowed = "namePrefix, accountIdentifiers, class or logGroupClass"
                raise self.error(
                    arg.name.pos, f"unknown SOURCE argument {arg.name.name}; {allowed}"
                )
            if key in seen:
                raise self.error(arg.name.pos, f"duplicate SOURCE argument {arg.name.name}")
            seen.add(key)
            if len(arg.values.items) > SOURCE_ARGS[key]:
                raise self.error(
                    arg.values.pos, f"{arg.name.name} takes at most {SOURCE_ARGS[key]} values"
                )
            for item in arg.values.items:
                if not isinstance(item, ast.String):
                    raise self.error(item.pos, f"{arg.name.name} takes strings")
                if key in ("class", "loggroupclass") and item.value not in LOG_GROUP_CLASSES:
                    raise self.error(item.pos, "the class is STANDARD or INFREQUENT_ACCESS")

    def check_fields(self, command: ast.Fields) -> None:
        for item in command.items:
            self.scalar(item.expr, "fields")
        self.define(
            item.alias.name if item.alias else self.item_name(item) for item in command.items
        )

    def check_display(self, command: ast.Display) -> None:
        for item in command.items:
            expr = item.expr
            if isinstance(expr, ast.Call) and expr.name.lower() == "unmask":
                self.scalar(expr, "display")
                continue
            if not isinstance(expr, ast.Field):
                raise self.error(expr.pos, "display takes field names, not expressions")
            if item.alias is not None:
                raise self.error(item.alias.pos, "display takes field names without 'as'")
            self.field(expr)

    def check_filter(self, command: ast.Filter) -> None:
        self.scalar(command.expr, "filter")

    def check_filterindex(self, command: ast.FilterIndex) -> None:
        self.field(command.field)

    def check_stats(self, command: ast.Stats) -> None:
        self.stats_seen += 1
        if self.stats_seen > 2:
            raise self.error(command.pos, "a query may contain at most two stats commands")
        for item in command.by:
            self.scalar(item.expr, "stats ... by")
        for item in command.items:
            self.aggregate_item(item.expr)
        names = [item.alias.name if item.alias else self.item_name(item) for item in command.by]
        names += [item.alias.name if item.alias else item.text for item in command.items]
        self.scope = set(names)

    def check_sort(self, command: ast.Sort) -> None:
        for key in command.keys:
            if self.scope is not None and key.text in self.scope:
                continue
            self.scalar(key.expr, "sort")

    def check_limit(self, command: ast.Limit) -> None:
        count = command.count
        if not isinstance(count, int) or count <= 0:
            raise self.error(command.count_pos, "limit takes a positive integer")

    def check_parse(self, command: ast.Parse) -> None:
        if command.source is not None:
            self.field(command.source)
        pattern = command.pattern
        if isinstance(pattern, ast.String):
            stars = pattern.value.count("*")
            if stars != len(command.names):
                count = len(command.names)
                raise self.error(
                    pattern.pos,
                    f"the parse pattern has {stars} '*' but {count} name"
                    f"{'' if count == 1 else 's'} follow{'s' if count == 1 else ''}",
                )
            try:
                regex.glob_to_regex(pattern.value)
            except regex.RegexError as exc:
                raise self.error(pattern.pos, exc.message) from None
            names = [n.name for n in command.names]
            for item in command.names:
                self.valid_name(item)
        else:
            try:
                names = list(regex.translate(pattern.pattern, positional=True).names)
            except regex.RegexError as exc:
                raise self.error(pattern.pos, exc.message) from None
            if not names:
                raise self.error(
                    pattern.pos, "a parse regex needs at least one named group (?<name>...)"
                )
        if len(set(names)) != len(names):
            raise self.error(pattern.pos, "parse defines the same name twice")
        self.define(names)

    def check_dedup(self, command: ast.Dedup) -> None:
        for item in command.fields:
            self.field(item)

    def check_unmask(self, command: ast.Unmask) -> None:
        if command.field is not None:
            self.field(command.field)

    def check_pattern(self, command: ast.Pattern) -> None:
        raise self.error(command.pos, "unsupported command: pattern")

    def check_diff(self, command: ast.Diff) -> None:
        raise self.error(command.pos, "unsupported command: diff")

    def check_unnest(self, command: ast.Unnest) -> None:
        self.field(command.field)
        self.valid_name(command.into)
        self.define([command.into.name])

    # --- names ---------------------------------------------------------------------------

    def item_name(self, item: ast.NamedExpr) -> str:
        return item.expr.name if isinstance(item.expr, ast.Field) else item.text

    def define(self, names: Iterable[str]) -> None:
        if self.scope is not None:
            self.scope.update(names)

    def valid_name(self, name: ast.Name) -> None:
        if "\x00" in name.name or not name.name:
            raise self.error(name.pos, "a field name may not be empty or contain NUL")

    def field(self, node: ast.Field) -> None:
        if "\x00" in node.name or not node.name:
            raise self.error(node.pos, "a field name may not be empty or contain NUL")
        if self.scope is None or node.name in self.scope:
            return
        head = node.name.split(".", 1)[0]
        if head in self.scope:
            return
        raise self.error(node.pos, f"unknown field after stats: {node.name}")

    # --- expressions ---------------------------------------------------------------------

    def scalar(self, expr: ast.Expr, where: str) -> None:
        """`expr` may not contain aggregations."""
        for node in ast.walk(expr):
            if isinstance(node, ast.Call):
                fn = lookup(node.name)
                if fn is not None and fn.family is not Family.SCALAR:
                    raise self.error(
                        node.name_pos,
                        f"aggregation function {node.name} is allowed only in stats, not in "
                        f"{where}",
                    )
        self.expression(expr)

    def aggregate_item(self, expr: ast.Expr) -> None:
        self.expression(expr)
        found = False
        stack: list[tuple[ast.Expr, bool]] = [(expr, False)]
        while stack:
            node, inside = stack.pop()
            if isinstance(node, ast.Call):
                fn = lookup(node.name)
                if fn is not None and fn.family is not Family.SCALAR:
                    if inside:
                        raise self.error(
                            node.name_pos,
                            f"{node.name} cannot be nested in another aggregation; use a "
                            "second stats",
                        )
                    if fn.family is Family.TIMELINE and self.stats_seen > 1:
                        raise self.error(
                            node.name_pos, f"{node.name} is allowed only in the first stats"
                        )
                    found = True
                    stack.extend((a, True) for a in node.args)
                    continue
            if isinstance(node, ast.Field) and not inside:
                raise self.error(
                    node.pos, f"{node.name} must be inside an aggregation function (or in by)"
                )
            stack.extend((c, inside) for c in ast.children(node))
        if not found:
            raise self.error(expr.pos, "each stats item needs an aggregation function")

    def expression(self, expr: ast.Expr) -> None:
        stack = [expr]
        while stack:
            node = stack.pop()
            match node:
                case ast.Field():
                    self.field(node)
                case ast.Call():
                    stack.extend(self.call(node))
                    continue
                case ast.Period():
                    raise self.error(
                        node.pos,
                        "a time period is allowed only as an argument of bin, datefloor or "
                        "dateceil",
                    )
                case ast.Star():
                    raise self.error(node.pos, "'*' is allowed only in count(*)")
                case ast.Like(pattern=ast.Regex() as pattern):
                    try:
                        regex.validate(pattern.pattern)
                    except regex.RegexError as exc:
                        raise self.error(pattern.pos, exc.message) from None
            stack.extend(ast.children(node))

    def call(self, node: ast.Call) -> list[ast.Expr]:
        """Check the call itself; return the arguments that are expressions."""
        fn = lookup(node.name)
        if fn is None:
            raise self.error(node.name_pos, f"unknown function: {node.name}")
        count = len(node.args)
        if count < fn.min_args or (fn.max_args is not None and count > fn.max_args):
            plural = "" if fn.arity_text() in ("1", "at least 1") else "s"
            raise self.error(
                node.pos, f"{fn.name} takes {fn.arity_text()} argument{plural}, got {count}"
            )
        expressions: list[ast.Expr] = []
        for index, arg in enumerate(node.args):
            kind = fn.arg_kind(index)
            if kind is Arg.PERIOD:
                if not isinstance(arg, ast.Period):
                    raise self.error(arg.pos, f"{fn.name} expects a time period such as 5m")
                self.period(arg)
            elif kind is Arg.STAR and isinstance(arg, ast.Star):
                continue
            elif kind is Arg.NUMBER_LITERAL:
                value = _number_literal(arg)
                if value is None or not 0 <= value <= 100:
                    raise self.error(arg.pos, f"{fn.name} takes a percentile from 0 to 100")
            else:
                expressions.append(arg)
        if fn.name in ("bin",) and self.scope is not None:
            raise self.error(node.name_pos, "bin uses @timestamp, which stats removed")
        if node.name.lower() in SUBNET_FUNCTIONS and isinstance(node.args[1], ast.String):
            version = SUBNET_FUNCTIONS[node.name.lower()]
            try:
                network = ipaddress.ip_network(node.args[1].value.strip(), strict=False)
            except ValueError:
                raise self.error(node.args[1].pos, "invalid CIDR") from None
            if version is not None and network.version != version:
                raise self.error(node.args[1].pos, f"{fn.name} takes an IPv{version} CIDR")
        return expressions

    def period(self, node: ast.Period) -> None:
        if time_unit(node.unit) is None:
            raise self.error(
                node.pos,
                f"unknown time unit {node.unit!r}; use ms, s, m, h, d, w, mo, q or y",
            )
        if node.count <= 0:
            raise self.error(node.pos, "a time period must be positive")


def _number_literal(node: ast.Expr) -> float | None:
    if isinstance(node, ast.Number):
        return float(node.value)
    return None


def check(query: ast.Query) -> ast.Query:
    """Return `query` unchanged if it can run; raise `InsightsQueryError` otherwise."""
    _Checker(query).run()
    return query
