"""JSON patterns as Python predicates over the message's parsed value (orjson).

A message is parsed at most once per batch (`JsonCache`) or per event (`EventView`), however
many filters look at it. Semantics (docs/filter-patterns.md section 5): a selector reaches
a node or nothing (`MISSING`); conditions other than NOT EXISTS need a value node (string,
number, boolean, null); a wildcard selector holds when the condition holds for at least one
node it selects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson

from . import ast
from .fields import NUMERIC_OPS
from .glob import Wildcards, glob_parts, text_matcher
from .regex import compile_re2

__all__ = [
    "MISSING",
    "NOT_JSON",
    "EventView",
    "JsonCache",
    "json_needles",
    "json_predicate",
    "parse_json",
    "resolver",
]


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


MISSING: object = _Sentinel("MISSING")
NOT_JSON: object = _Sentinel("NOT_JSON")
_UNPARSED: object = _Sentinel("UNPARSED")
_JSON_START = frozenset('{["-0123456789tfn \t\r\n')

Doc = object
DocPredicate = Callable[[Doc], bool]


def parse_json(message: str) -> object:
    """The message's JSON value, or NOT_JSON when the whole message is not one JSON value."""
    if not message or message[0] not in _JSON_START:
        return NOT_JSON
    try:
        return orjson.loads(message)
    except orjson.JSONDecodeError:
        return NOT_JSON


class JsonCache:
    """The parsed JSON of one batch of messages, shared by every filter run over the batch.

    Pass the same cache to several `FilterPattern.match_batch(messages, cache)` calls: each
    message is parsed once, on first need (a filter whose cheap pre-check rejects a
    message never parses it).
    """

    __slots__ = ("messages", "values")

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = messages
        self.values: list[object] = [_UNPARSED] * len(messages)

    def get(self, i: int) -> object:
        value = self.values[i]
        if value is _UNPARSED:
            value = self.values[i] = parse_json(self.messages[i])
        return value


class EventView:
    """One message with a lazily parsed JSON slot, for filters matched one event at a time."""

    __slots__ = ("_json", "message")

    def __init__(self, message: str) -> None:
        self.message = message
        self._json: object = _UNPARSED

    @property
    def json(self) -> object:
        if self._json is _UNPARSED:
            self._json = parse_json(self.message)
        return self._json


# -- selectors ---------------------------------------------------------------------------


def resolver(steps: tuple[ast.Step, ...]) -> Callable[[Doc], object]:
    """A wildcard-free selector: the node it reaches, or MISSING."""

    def resolve(doc: Doc) -> object:
        node = doc
        for step in steps:
            if isinstance(step, ast.Member):
                if type(node) is not dict:
                    return MISSING
                node = node.get(step.name, MISSING)
                if node is MISSING:
                    return MISSING
            elif isinstance(step, ast.Index):
                if type(node) is not list or step.index >= len(node):
                    return MISSING
                node = node[step.index]
        return node

    if len(steps) == 1 and isinstance(steps[0], ast.Member):
        name = steps[0].name
        return lambda doc: doc.get(name, MISSING) if type(doc) is dict else MISSING
    return resolve


def _all_nodes(steps: tuple[ast.Step, ...]) -> Callable[[Doc], list[object]]:
    """A selector with wildcards: every node it reaches."""

    def resolve(doc: Doc) -> list[object]:
        nodes = [doc]
        for step in steps:
            nxt: list[object] = []
            for node in nodes:
                if isinstance(step, ast.Member):
                    if type(node) is dict and step.name in node:
                        nxt.append(node[step.name])
                elif isinstance(step, ast.Index):
                    if type(node) is list and step.index < len(node):
                        nxt.append(node[step.index])
                elif isinstance(step, ast.AnyIndex):
                    if type(node) is list:
                        nxt.extend(node)
                elif type(node) is dict:
                    nxt.extend(node.values())
            nodes = nxt
        return nodes

    return resolve


# -- conditions --------------------------------------------------------------------------


def _node_test(cond: ast.JsonCondition, pattern_text: str) -> Callable[[object], bool]:
    if isinstance(cond, ast.IsLiteral):
        literal = {"NULL": None, "TRUE": True, "FALSE": False}[cond.literal]
        return lambda n: n is literal
    if isinstance(cond, ast.NotExists):
        return lambda n: n is MISSING
    op, value = cond.op, cond.value
    if isinstance(value, ast.AnyValue):
        return lambda n: type(n) in (str, int, float, bool)
    if isinstance(value, ast.Number):
        c, test = value.value, NUMERIC_OPS[op]
        return lambda n: (type(n) is int or type(n) is float) and test(float(n), c)
    if isinstance(value, ast.Regex):
        search = compile_re2(value.source, value.re2, value.pos, pattern_text).search
        if op == "=":
            return lambda n: type(n) is str and search(n) is not None
        return lambda n: type(n) is str and search(n) is None
    wildcards: Wildcards = "none" if value.quoted else "ends"
    if glob_parts(value.text, wildcards) is None:
        t = value.text
        if op == "=":
            return lambda n: type(n) is str and n == t
        return lambda n: type(n) is str and n != t
    match = text_matcher(value.text, wildcards)
    want = op == "="

    def glob(n: object) -> bool:
        if type(n) is str:
            return match(n) is want
        if type(n) is int:
            return match(str(n)) is want
        if type(n) is float:
            return match(repr(n)) is want
        return False

    return glob


def json_predicate(expr: ast.JsonExpr, pattern_text: str) -> DocPredicate:
    """The expression as a function of the parsed message (never called with NOT_JSON)."""
    if isinstance(expr, ast.And | ast.Or):
        parts = [json_predicate(e, pattern_text) for e in expr.items]
        if len(parts) == 2:
            a, b = parts
            if isinstance(expr, ast.And):
                return lambda doc: a(doc) and b(doc)
            return lambda doc: a(doc) or b(doc)
        if isinstance(expr, ast.And):
            return lambda doc: all(p(doc) for p in parts)
        return lambda doc: any(p(doc) for p in parts)
    test = _node_test(expr, pattern_text)
    steps = expr.selector.steps
    if expr.selector.wildcards:
        nodes = _all_nodes(steps)
        if isinstance(expr, ast.NotExists):
            return lambda doc: not nodes(doc)
        return lambda doc: any(test(n) for n in nodes(doc))
    resolve = resolver(steps)
    return lambda doc: test(resolve(doc))


def json_needles(expr: ast.JsonExpr) -> list[str]:
    """Substrings every matching message contains when it holds no backslash.

    Without a backslash a JSON text holds its strings and keys verbatim, so a required
    member name (as `"name"`) or a required literal string value must occur in the raw
    message. The batch matcher skips parsing a message that lacks one of them.
    """
    conjuncts = expr.items if isinstance(expr, ast.And) else (expr,)
    needles: set[str] = set()
    for cond in conjuncts:
        if isinstance(cond, ast.And | ast.Or | ast.NotExists):
            continue
        needles.update(f'"{s.name}"' for s in cond.selector.steps if isinstance(s, ast.Member))
        if isinstance(cond, ast.Compare) and cond.op == "=" and isinstance(cond.value, ast.Text):
            wildcards: Wildcards = "none" if cond.value.quoted else "ends"
            if cond.value.text and glob_parts(cond.value.text, wildcards) is None:
                needles.add(cond.value.text)
    return sorted(needles, key=len, reverse=True)[:3]
