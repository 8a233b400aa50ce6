"""Lark parse-tree callbacks that build the typed AST (`ast.py`) with positions.

The builder runs inline in the LALR parser (no tree is built first, nothing recurses), so a
1,000-deep expression cannot hit Python's recursion limit; expressions nested deeper than
`MAX_DEPTH` are rejected here, which keeps every later (recursive) pass safe.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lark import Token, Transformer

from query.insights import ast
from query.insights.ast import Pos

#: Deepest expression accepted (operators and calls; parentheses alone do not count).
MAX_DEPTH = 100

_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_MAX_INT = 2**63 - 1


def tok_pos(tok: Token) -> Pos:
    return Pos(tok.line or 1, tok.column or 1, tok.start_pos or 0, tok.end_pos or 0)


def unescape_string(raw: str) -> str:
    """The value of a string literal token (quotes included in `raw`)."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def number_value(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        return float(text)
    value = int(text)
    return value if value <= _MAX_INT else float(value)


def compact_text(text: str) -> str:
    """Source text with whitespace and comments outside quotes removed (column names)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'`":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif ch == "#":
            nl = text.find("\n", i)
            i = len(text) if nl < 0 else nl
        elif ch.isspace():
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _pos(item: Any) -> Pos:
    if isinstance(item, Token):
        return tok_pos(item)
    return item.pos  # type: ignore[no-any-return]


def _span(first: Any, last: Any) -> Pos:
    return _pos(first).to(_pos(last))


def _tokens(children: list[Any], kind: str) -> list[Token]:
    return [c for c in children if isinstance(c, Token) and c.type == kind]


def _nodes(children: list[Any]) -> list[Any]:
    return [c for c in children if not isinstance(c, Token)]


class AstBuilder(Transformer[Token, Any]):
    """Builds nodes as the parser reduces; `reset(text)` before each parse."""

    def __init__(self, text: str) -> None:
        super().__init__(visit_tokens=False)
        self.text = text
        self._depth: dict[int, int] = {}

    def reset(self, text: str) -> None:
        """Prepare for parsing `text` (the parser calls this under its lock)."""
        self.text = text
        self._depth = {}

    # --- helpers -------------------------------------------------------------------------

    def _made(self, node: Any, *kids: Any, _floor: int = 0) -> Any:
        depth = 1 + max([self._depth.get(id(k), 0) for k in kids] + [_floor])
        if depth > MAX_DEPTH:
            raise ast.error_at(
                self.text, node.pos, f"expression nested deeper than {MAX_DEPTH} levels"
            )
        self._depth[id(node)] = depth
        return node

    def _source(self, pos: Pos) -> str:
        return compact_text(self.text[pos.start : pos.end])

    # --- query and commands --------------------------------------------------------------

    def start(self, children: list[Any]) -> ast.Query:
        return ast.Query(commands=tuple(_nodes(children)), text=self.text)

    def named_expr(self, children: list[Any]) -> ast.NamedExpr:
        expr = children[0]
        alias = children[2] if len(children) == 3 else None
        return ast.NamedExpr(expr, alias, self._source(expr.pos), _span(expr, children[-1]))

    def name(self, children: list[Any]) -> ast.Name:
        tok = children[0]
        text = str(tok)
        if tok.type == "BACKTICK":
            text = text[1:-1].replace("``", "`")
        return ast.Name(text, tok_pos(tok))

    def field(self, children: list[Any]) -> ast.Field:
        tok = children[0]
        if tok.type == "BACKTICK":
            return ast.Field(str(tok)[1:-1].replace("``", "`"), tok_pos(tok), quoted=True)
        return ast.Field(str(tok), tok_pos(tok))

    def fields_cmd(self, children: list[Any]) -> ast.Fields:
        return ast.Fields(tuple(_nodes(children)), _span(children[0], children[-1]))

    def display_cmd(self, children: list[Any]) -> ast.Display:
        return ast.Display(tuple(_nodes(children)), _span(children[0], children[-1]))

    def filter_cmd(self, children: list[Any]) -> ast.Filter:
        return ast.Filter(children[1], _span(children[0], children[1]))

    def stats_cmd(self, children: list[Any]) -> ast.Stats:
        items: list[ast.NamedExpr] = []
        by: list[ast.NamedExpr] = []
        target = items
        for child in children[1:]:
            if isinstance(child, Token):
                if child.type == "BY":
                    target = by
                continue
            target.append(child)
        return ast.Stats(tuple(items), tuple(by), _span(children[0], children[-1]))

    def sort_key(self, children: list[Any]) -> ast.SortKey:
        expr = children[0]
        direction = children[1] if len(children) > 1 else None
        descending = direction is None or direction.type == "DESC"
        return ast.SortKey(
            expr,
            descending,
            direction is not None,
            self._source(expr.pos),
            _span(expr, children[-1]),
        )

    def sort_cmd(self, children: list[Any]) -> ast.Sort:
        return ast.Sort(tuple(_nodes(children)), _span(children[0], children[-1]))

    def limit_cmd(self, children: list[Any]) -> ast.Limit:
        number = children[-1]
        value = number_value(str(number))
        negative = bool(_tokens(children, "MINUS"))
        count_start = _tokens(children, "MINUS")[0] if negative else number
        return ast.Limit(
            -value if negative else value,
            bool(_tokens(children, "ANY")),
            _span(count_start, number),
            _span(children[0], number),
        )

    def parse_cmd(self, children: list[Any]) -> ast.Parse:
        source = children[1] if isinstance(children[1], ast.Field) else None
        pattern_tok = next(
            c for c in children if isinstance(c, Token) and c.type in ("STRING", "REGEX")
        )
        pattern: ast.String | ast.Regex
        if pattern_tok.type == "STRING":
            pattern = ast.String(unescape_string(str(pattern_tok)), tok_pos(pattern_tok))
        else:
            pattern = ast.Regex(str(pattern_tok)[1:-1], tok_pos(pattern_tok))
        names = tuple(c for c in children if isinstance(c, ast.Name))
        return ast.Parse(source, pattern, names, _span(children[0], children[-1]))

    def dedup_cmd(self, children: list[Any]) -> ast.Dedup:
        return ast.Dedup(tuple(_nodes(children)), _span(children[0], children[-1]))

    def unmask_cmd(self, children: list[Any]) -> ast.Unmask:
        fields = _nodes(children)
        return ast.Unmask(fields[0] if fields else None, _span(children[0], children[-1]))

    def filterindex_cmd(self, children: list[Any]) -> ast.FilterIndex:
        return ast.FilterIndex(children[1], children[-1], _span(children[0], children[-1]))

    def pattern_cmd(self, children: list[Any]) -> ast.Pattern:
        expr = children[1] if len(children) > 1 else None
        return ast.Pattern(expr, _span(children[0], children[-1]))

    def diff_cmd(self, children: list[Any]) -> ast.Diff:
        mode = ast.Name(str(children[1]), tok_pos(children[1])) if len(children) > 1 else None
        return ast.Diff(mode, _span(children[0], children[-1]))

    def unnest_cmd(self, children: list[Any]) -> ast.Unnest:
        return ast.Unnest(children[1], children[3], _span(children[0], children[-1]))

    def source_arg(self, children: list[Any]) -> ast.SourceArg:
        name = ast.Name(str(children[0]), tok_pos(children[0]))
        return ast.SourceArg(name, children[2], _span(children[0], children[2]))

    def source_cmd(self, children: list[Any]) -> ast.Source:
        function = ast.Name(str(children[1]), tok_pos(children[1]))
        args = tuple(c for c in children if isinstance(c, ast.SourceArg))
        return ast.Source(function, args, _span(children[0], children[-1]))

    # --- expressions ---------------------------------------------------------------------

    def logical(self, children: list[Any]) -> ast.Expr:
        left, op, right = children
        node = ast.Logical(str(op).lower(), left, right, _span(left, right))
        # a run of the same operator is flattened by later passes: it costs one level
        same = [k for k in (left, right) if isinstance(k, ast.Logical) and k.op == node.op]
        others = [k for k in (left, right) if not any(k is s for s in same)]
        depth = max([self._depth.get(id(k), 1) - 1 for k in same] + [0])
        return self._made(node, *others, _floor=depth)  # type: ignore[no-any-return]

    def negation(self, children: list[Any]) -> ast.Expr:
        node = ast.Not(children[1], _span(children[0], children[1]))
        return self._made(node, children[1])  # type: ignore[no-any-return]

    def compare(self, children: list[Any]) -> ast.Expr:
        left, op, right = children
        node = ast.Compare(str(op), left, right, _span(left, right))
        return self._made(node, left, right)  # type: ignore[no-any-return]

    def like(self, children: list[Any]) -> ast.Expr:
        subject, tok = children[0], children[-1]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in children)
        op = "=~" if any(isinstance(c, Token) and c.type == "MATCH" for c in children) else "like"
        pattern: ast.String | ast.Regex
        if tok.type == "STRING":
            pattern = ast.String(unescape_string(str(tok)), tok_pos(tok))
        else:
            pattern = ast.Regex(str(tok)[1:-1], tok_pos(tok))
        node = ast.Like(subject, pattern, negated, op, _span(subject, tok))
        return self._made(node, subject)  # type: ignore[no-any-return]

    def membership(self, children: list[Any]) -> ast.Expr:
        subject, items = children[0], children[-1]
        negated = any(isinstance(c, Token) and c.type == "NOT" for c in children)
        node = ast.In(subject, items, negated, _span(subject, items))
        return self._made(node, subject)  # type: ignore[no-any-return]

    def arith(self, children: list[Any]) -> ast.Expr:
        left, op, right = children
        node = ast.Arith(str(op), left, right, _span(left, right))
        return self._made(node, left, right)  # type: ignore[no-any-return]

    def minus(self, children: list[Any]) -> ast.Expr:
        operand = children[1]
        node = ast.Neg(operand, _span(children[0], operand))
        return self._made(node, operand)  # type: ignore[no-any-return]

    def member(self, children: list[Any]) -> ast.Expr:
        obj, _dot, tok = children
        key = str(tok)
        if tok.type == "BACKTICK":
            key = key[1:-1].replace("``", "`")
        node = ast.Member(obj, key, _span(obj, tok))
        return self._made(node, obj)  # type: ignore[no-any-return]

    def index(self, children: list[Any]) -> ast.Expr:
        obj, _l, number, rsqb = children
        value = number_value(str(number))
        if not isinstance(value, int):
            raise ast.error_at(self.text, tok_pos(number), "an index must be an integer")
        node = ast.Index(obj, value, _span(obj, rsqb))
        return self._made(node, obj)  # type: ignore[no-any-return]

    def period(self, children: list[Any]) -> ast.Period:
        tok = children[0]
        text = str(tok)
        digits = len(text) - len(text.lstrip("0123456789"))
        return ast.Period(int(text[:digits]), text[digits:], tok_pos(tok))

    def paren(self, children: list[Any]) -> ast.Expr:
        inner = children[1]
        return dataclasses.replace(inner, pos=_span(children[0], children[2]))  # type: ignore[no-any-return]

    def call(self, children: list[Any]) -> ast.Expr:
        name_tok = children[0]
        args = tuple(_nodes(children))
        node = ast.Call(str(name_tok), args, _span(name_tok, children[-1]), tok_pos(name_tok))
        return self._made(node, *args)  # type: ignore[no-any-return]

    def star_call(self, children: list[Any]) -> ast.Expr:
        name_tok, _l, star, rpar = children
        return ast.Call(
            str(name_tok),
            (ast.Star(tok_pos(star)),),
            _span(name_tok, rpar),
            tok_pos(name_tok),
        )

    def literal(self, children: list[Any]) -> ast.Expr:
        tok = children[0]
        if tok.type == "STRING":
            return ast.String(unescape_string(str(tok)), tok_pos(tok))
        return ast.Number(number_value(str(tok)), tok_pos(tok))

    def list_item(self, children: list[Any]) -> ast.String | ast.Number:
        tok = children[-1]
        if tok.type == "STRING":
            return ast.String(unescape_string(str(tok)), tok_pos(tok))
        value = number_value(str(tok))
        if len(children) == 2:
            return ast.Number(-value, _span(children[0], tok))
        return ast.Number(value, tok_pos(tok))

    def list(self, children: list[Any]) -> ast.ListLit:
        return ast.ListLit(tuple(_nodes(children)), _span(children[0], children[-1]))
