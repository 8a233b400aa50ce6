"""AST -> query text: a canonical printer (lower-case keywords, minimal parentheses).

`format_query(parse(text))` parses back to the same tree (positions aside); the
round trip is property-tested. Used for `--explain` and for logging normalised queries.
"""

from __future__ import annotations

import re

from query.insights import ast

_BARE = re.compile(r"[A-Za-z_@][A-Za-z0-9_@.]*")
_KEYWORDS = {
    "fields", "display", "filter", "stats", "sort", "limit", "parse", "dedup", "unmask",
    "filterindex", "pattern", "diff", "unnest", "source", "as", "by", "and", "or", "not",
    "in", "like", "asc", "desc", "any", "into",
}  # fmt: skip
#: binding strength, loosest first (§4.1)
_LEVEL = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6}
_NEG, _POW, _ATOM = 7, 8, 9


def name(text: str) -> str:
    """A field name, backticked when it is not a plain name or is a keyword."""
    if _BARE.fullmatch(text) and text.lower() not in _KEYWORDS and not text.endswith("."):
        return text
    return "`" + text.replace("`", "``") + "`"


def string(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\t", "\\t") + '"'


def number(value: int | float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _level(expr: ast.Expr) -> int:
    match expr:
        case ast.Logical(op=op):
            return _LEVEL[op]
        case ast.Not():
            return _LEVEL["not"]
        case ast.Compare() | ast.Like() | ast.In():
            return _LEVEL["cmp"]
        case ast.Arith(op="^"):
            return _POW
        case ast.Arith(op=op):
            return _LEVEL[op]
        case ast.Neg():
            return _NEG
        case ast.Number(value=v) if v < 0:
            return _NEG
    return _ATOM


def _wrap(expr: ast.Expr, minimum: int) -> str:
    text = expression(expr)
    return f"({text})" if _level(expr) < minimum else text


def expression(expr: ast.Expr) -> str:
    match expr:
        case ast.Field(name=n):
            return name(n)
        case ast.String(value=v):
            return string(v)
        case ast.Number(value=v):
            return number(v)
        case ast.Regex(pattern=p):
            return f"/{p}/"
        case ast.Period(count=c, unit=u):
            return f"{c}{u}"
        case ast.ListLit(items=items):
            return "[" + ", ".join(expression(i) for i in items) + "]"
        case ast.Star():
            return "*"
        case ast.Call(name=n, args=args):
            return f"{n}({', '.join(expression(a) for a in args)})"
        case ast.Neg(operand=o):
            return f"-{_wrap(o, _NEG)}"
        case ast.Not(operand=o):
            return f"not {_wrap(o, _LEVEL['not'])}"
        case ast.Logical(op=op):
            # left-nested runs print flat; a right-nested operand keeps its parentheses
            parts: list[str] = []
            node: ast.Expr = expr
            while isinstance(node, ast.Logical) and node.op == op:
                parts.append(_wrap(node.right, _LEVEL[op] + 1))
                node = node.left
            parts.append(_wrap(node, _LEVEL[op]))
            return f" {op} ".join(reversed(parts))
        case ast.Compare(op=op, left=a, right=b):
            return f"{_wrap(a, _LEVEL['+'])} {op} {_wrap(b, _LEVEL['+'])}"
        case ast.Like(subject=s, pattern=p, negated=neg, op=op):
            word = "=~" if op == "=~" else ("not like" if neg else "like")
            return f"{_wrap(s, _LEVEL['+'])} {word} {expression(p)}"
        case ast.In(subject=s, items=items, negated=neg):
            return f"{_wrap(s, _LEVEL['+'])} {'not in' if neg else 'in'} {expression(items)}"
        case ast.Arith(op="^", left=a, right=b):
            return f"{_wrap(a, _ATOM)} ^ {_wrap(b, _NEG)}"
        case ast.Arith(op=op, left=a, right=b):
            return f"{_wrap(a, _LEVEL[op])} {op} {_wrap(b, _LEVEL[op] + 1)}"
        case ast.Member(obj=o, key=k):
            return f"{_wrap(o, _ATOM)}.{name(k) if not _BARE.fullmatch(k) else k}"
        case ast.Index(obj=o, index=i):
            return f"{_wrap(o, _ATOM)}[{i}]"
    raise TypeError(type(expr).__name__)


def _named(item: ast.NamedExpr) -> str:
    text = expression(item.expr)
    return f"{text} as {name(item.alias.name)}" if item.alias else text


def command(cmd: ast.Command) -> str:
    match cmd:
        case ast.Fields(items=items):
            return "fields " + ", ".join(_named(i) for i in items)
        case ast.Display(items=items):
            return "display " + ", ".join(_named(i) for i in items)
        case ast.Filter(expr=e):
            return f"filter {expression(e)}"
        case ast.Stats(items=items, by=by):
            text = "stats " + ", ".join(_named(i) for i in items)
            return text + (" by " + ", ".join(_named(i) for i in by) if by else "")
        case ast.Sort(keys=keys):
            parts = [
                expression(k.expr) + ((" desc" if k.descending else " asc") if k.explicit else "")
                for k in keys
            ]
            return "sort " + ", ".join(parts)
        case ast.Limit(count=c, any=any_):
            return f"limit {'any ' if any_ else ''}{number(c)}"
        case ast.Parse(source=src, pattern=p, names=names):
            head = "parse" + (f" {name(src.name)}" if src else "")
            if isinstance(p, ast.Regex):
                return f"{head} /{p.pattern}/"
            return f"{head} {string(p.value)} as " + ", ".join(name(n.name) for n in names)
        case ast.Dedup(fields=fields):
            return "dedup " + ", ".join(name(f.name) for f in fields)
        case ast.Unmask(field=f):
            return "unmask" + (f" {name(f.name)}" if f else "")
        case ast.FilterIndex(field=f, value=v):
            op = "in" if isinstance(v, ast.ListLit) else "="
            return f"filterIndex {name(f.name)} {op} {expression(v)}"
        case ast.Pattern(expr=e):
            return "pattern" + (f" {expression(e)}" if e else "")
        case ast.Diff(mode=m):
            return "diff" + (f" {m.name}" if m else "")
        case ast.Unnest(field=f, into=into):
            return f"unnest {name(f.name)} into {name(into.name)}"
        case ast.Source(function=fn, args=args):
            inner = ", ".join(f"{a.name.name}: {expression(a.values)}" for a in args)
            return f"SOURCE {fn.name}({inner})"
    raise TypeError(type(cmd).__name__)


def format_query(query: ast.Query) -> str:
    """The canonical text of `query`, one command per line."""
    return "\n| ".join(command(c) for c in query.commands)
