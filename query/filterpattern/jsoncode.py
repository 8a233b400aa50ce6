"""JSON patterns as generated Python: one function per pattern, paths resolved inline.

`json_predicate` (jsonpred.py) builds the predicate from closures: a call per condition,
per selector and per test, for every parsed message. Here the same semantics become the
body of one function (Python source compiled once per pattern), so matching a parsed
message costs no Python call besides orjson's. Each wildcard-free path is resolved once
into a local (`dict.get` / list index, `MISSING` when a step does not apply) and each
condition is an inline expression on it; `and` / `or` short-circuit as in the pattern.

`batch_function` also inlines the parse: it walks the candidate indices of a batch,
fills the shared `JsonCache` slots it parses, and sets `out[i]` for the matches.

The source holds only our own names: every user value (member names, strings, numbers,
regex searchers) is a constant in the function's namespace (`_c0`, `_c1`, ...). Wildcard
selectors and glob values, which need loops, call jsonpred's closures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from . import ast
from .glob import Wildcards, glob_parts
from .jsonpred import _JSON_START, _UNPARSED, MISSING, NOT_JSON, _node_test, json_predicate
from .regex import compile_re2

__all__ = ["batch_function", "doc_function"]

_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
BatchFunction = Callable[[Sequence[str], Sequence[int], list[object], list[bool]], None]


class _Code:
    def __init__(self, pattern_text: str) -> None:
        self.text = pattern_text
        self.names: dict[str, object] = {
            "_M": MISSING,
            "_N": NOT_JSON,
            "_U": _UNPARSED,
            "_S": _JSON_START,
            "_loads": orjson.loads,
            "_Error": orjson.JSONDecodeError,
        }
        self.paths: dict[tuple[ast.Step, ...], str] = {}
        self.lines: list[str] = []

    def const(self, value: object) -> str:
        name = f"_c{len(self.names)}"
        self.names[name] = value
        return name

    def node(self, steps: tuple[ast.Step, ...]) -> str:
        """The local holding the node `steps` reach from `d`, or MISSING (emitted once)."""
        if not steps:
            return "d"
        if steps in self.paths:
            return self.paths[steps]
        parent = self.node(steps[:-1])
        step = steps[-1]
        var = f"p{len(self.paths)}"
        if isinstance(step, ast.Member):
            key = self.const(step.name)
            self.lines.append(f"{var} = {parent}.get({key}, _M) if type({parent}) is dict else _M")
        elif isinstance(step, ast.Index):
            i = int(step.index)
            self.lines.append(
                f"{var} = ({parent}[{i}] if len({parent}) > {i} else _M) "
                f"if type({parent}) is list else _M"
            )
        else:  # pragma: no cover - wildcard selectors go through jsonpred
            raise TypeError(f"no inline form for {type(step).__name__}")
        self.paths[steps] = var
        return var

    def expr(self, e: ast.JsonExpr) -> str:
        if isinstance(e, ast.And | ast.Or):
            joiner = " and " if isinstance(e, ast.And) else " or "
            return "(" + joiner.join(self.expr(item) for item in e.items) + ")"
        if e.selector.wildcards:
            return f"{self.const(json_predicate(e, self.text))}(d)"
        return self.condition(e, self.node(e.selector.steps))

    def condition(self, cond: ast.JsonCondition, x: str) -> str:
        if isinstance(cond, ast.NotExists):
            return f"({x} is _M)"
        if isinstance(cond, ast.IsLiteral):
            literal = {"NULL": "None", "TRUE": "True", "FALSE": "False"}[cond.literal]
            return f"({x} is {literal})"
        op, value = cond.op, cond.value
        if isinstance(value, ast.AnyValue):
            return f"(type({x}) in (str, int, float, bool))"
        if isinstance(value, ast.Number):
            c = self.const(float(value.value))
            return (
                f"((type({x}) is float and {x} {_OPS[op]} {c}) or "
                f"(type({x}) is int and float({x}) {_OPS[op]} {c}))"
            )
        if isinstance(value, ast.Regex):
            search = compile_re2(value.source, value.re2, value.pos, self.text).search
            neg = "is not" if op == "=" else "is"
            return f"(type({x}) is str and {self.const(search)}({x}) {neg} None)"
        wildcards: Wildcards = "none" if value.quoted else "ends"
        if glob_parts(value.text, wildcards) is None:
            return f"(type({x}) is str and {x} {_OPS[op]} {self.const(value.text)})"
        return f"{self.const(_node_test(cond, self.text))}({x})"

    def build(self, name: str, source: str) -> Any:
        namespace = dict(self.names)
        exec(compile(source, f"<filter pattern {self.text!r}>", "exec"), namespace)  # noqa: S102 - our own source; user values are namespace constants
        return namespace[name]


def _indent(lines: list[str], depth: int) -> str:
    pad = "    " * depth
    return "".join(f"{pad}{line}\n" for line in lines)


def doc_function(expr: ast.JsonExpr, pattern_text: str) -> Callable[[object], bool]:
    """The expression as one function of the parsed message (never called with NOT_JSON)."""
    code = _Code(pattern_text)
    test = code.expr(expr)
    source = f"def match(d):\n{_indent(code.lines, 1)}    return bool({test})\n"
    fn: Callable[[object], bool] = code.build("match", source)
    return fn


def batch_function(expr: ast.JsonExpr, pattern_text: str, *, shared: bool) -> BatchFunction:
    """`run(messages, candidates, values, out)`: for each candidate index, parse the message
    and set `out[i] = True` on a match. `shared`: `values` are a JsonCache's slots, read
    first and filled with what this run parses. Otherwise `values` is ignored and each
    parsed message is dropped at once: no batch of parsed documents stays alive for the
    cyclic garbage collector to walk again and again."""
    code = _Code(pattern_text)
    test = code.expr(expr)
    if shared:
        parse = (
            "        d = values[i]\n"
            "        if d is _U:\n"
            "            m = messages[i]\n"
            "            if m and m[0] in _S:\n"
            "                try:\n"
            "                    d = _loads(m)\n"
            "                except _Error:\n"
            "                    d = _N\n"
            "            else:\n"
            "                d = _N\n"
            "            values[i] = d\n"
            "        if d is _N:\n"
            "            continue\n"
        )
    else:
        parse = (
            "        m = messages[i]\n"
            "        if not m or m[0] not in _S:\n"
            "            continue\n"
            "        try:\n"
            "            d = _loads(m)\n"
            "        except _Error:\n"
            "            continue\n"
        )
    source = (
        "def run(messages, candidates, values, out):\n"
        "    for i in candidates:\n"
        f"{parse}"
        f"{_indent(code.lines, 2)}"
        f"        if {test}:\n"
        "            out[i] = True\n"
    )
    fn: BatchFunction = code.build("run", source)
    return fn
