"""Text -> AST: Lark (LALR) over lexer.py's tokens, then the checks the grammar cannot state.

`parse(text)` returns an `ast.Pattern` or raises FilterPatternError at the fault. The
checks are CloudWatch's quotas (two regexes per JSON or space-delimited pattern, one
wildcard per selector and three per pattern, 1024 characters) and the space-delimited
rules (one `...`, a condition names its own field, each name once).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken

from query.errors import FilterPatternError

from . import ast
from .lexer import BLANKS, FilterLexer, parse_selector, tokenize
from .regex import compile_re2, to_re2

__all__ = ["MAX_PATTERN_LENGTH", "parse", "parse_metric_selector"]

MAX_PATTERN_LENGTH = 1024
MAX_REGEXES = 2
MAX_WILDCARDS_PER_SELECTOR = 1
MAX_WILDCARDS_PER_PATTERN = 3

_WORDS = {
    "LBRACE": "'{'", "RBRACE": "'}'", "LPAR": "'('", "RPAR": "')'", "AND": "'&&'", "OR": "'||'",
    "SELECTOR": "a selector such as $.name", "IS": "IS", "NOT": "NOT", "EXISTS": "EXISTS",
    "NULL": "NULL", "TRUE": "TRUE", "FALSE": "FALSE", "EQ": "an operator", "NE": "an operator",
    "LT": "an operator", "LE": "an operator", "GT": "an operator", "GE": "an operator",
    "STRING": "a value", "BARE": "a value", "NUMBER": "a value", "REGEX": "a value",
    "STAR": "a value", "COMMA": "','", "RSQB": "']'", "LSQB": "'['", "NAME": "a field name",
    "ELLIPSIS": "'...'", "TERM": "a term", "QTERM": "a term", "QMARK": "'?'", "MINUS": "'-'",
    "$END": "the end of the pattern",
}  # fmt: skip
_OP_TOKENS = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE"})


@functools.cache
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer=FilterLexer, start="start")


def parse(text: str) -> ast.Pattern:
    """Parse a filter pattern into its AST, or raise FilterPatternError."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise FilterPatternError(
            f"a filter pattern has at most {MAX_PATTERN_LENGTH} characters, not {len(text)}",
            MAX_PATTERN_LENGTH,
            pattern=text,
        )
    if not text.strip(BLANKS):
        return ast.MatchAll(0)
    try:
        tree = _lark().parse(text)
    except UnexpectedToken as exc:
        raise _syntax_error(text, exc) from None
    except UnexpectedInput as exc:  # pragma: no cover - the custom lexer raises its own
        raise FilterPatternError("unexpected input", exc.pos_in_stream or 0, pattern=text) from None
    pattern = _Builder(text).pattern(tree)
    _check(pattern, text)
    return pattern


def _syntax_error(text: str, exc: UnexpectedToken) -> FilterPatternError:
    token = exc.token
    end = len(text.rstrip(BLANKS))
    at = end if token.type == "$END" else (token.start_pos or 0)
    expected = sorted({_WORDS.get(name, name) for name in exc.expected})
    previous = [t for t in tokenize(text) if (t.start_pos or 0) < at]
    before = previous[-1] if previous else None
    if before is not None and before.type in _OP_TOKENS and "a value" in expected:
        return FilterPatternError(f"expected a value after '{before}'", at, pattern=text)
    if before is not None and before.type == "IS" and token.type == "NOT":
        return FilterPatternError(
            "IS NOT is not supported: use NOT EXISTS, != or IS with another literal",
            at,
            pattern=text,
        )
    wanted = _join(expected)
    if token.type == "$END":
        return FilterPatternError(
            f"the pattern ends too early: expected {wanted}", at, pattern=text
        )
    if expected == ["the end of the pattern"]:
        return FilterPatternError(
            f"unexpected '{token}' after the end of the pattern", at, pattern=text
        )
    return FilterPatternError(f"expected {wanted}, found '{token}'", at, pattern=text)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


class _Builder:
    """Lark tree -> AST nodes, one method per grammar rule."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, pos: int) -> FilterPatternError:
        return FilterPatternError(message, pos, pattern=self.text)

    def pattern(self, tree: Tree[Token]) -> ast.Pattern:
        node = cast(Tree[Token], tree.children[0])
        kind = str(node.data)
        if kind == "terms":
            return self.terms(node)
        if kind == "regex_pattern":
            token = cast(Token, node.children[0])
            return ast.RegexPattern(self.regex(token), _pos(token) - 1)
        if kind == "json_pattern":
            brace = cast(Token, node.children[0])
            return ast.JsonPattern(self.json(cast(Tree[Token], node.children[1])), _pos(brace))
        return self.space(node)

    def terms(self, node: Tree[Token]) -> ast.TermsPattern:
        terms: list[ast.Term] = []
        for term in node.children:
            parts = cast(Tree[Token], term).children
            token = cast(Token, parts[-1])
            kind: Literal["plain", "optional", "excluded"] = "plain"
            pos = _pos(token)
            if len(parts) == 2:
                prefix = cast(Token, cast(Tree[Token], parts[0]).children[0])
                kind = "optional" if prefix.type == "QMARK" else "excluded"
                pos = _pos(prefix)
            terms.append(ast.Term(str(token), kind, token.type == "QTERM", pos))
        return ast.TermsPattern(tuple(terms), terms[0].pos)

    def regex(self, token: Token) -> ast.Regex:
        source, pos = str(token), _pos(token)
        translated = to_re2(source, pos, self.text)
        compile_re2(source, translated, pos - 1, self.text)  # RE2's own refusals, early
        return ast.Regex(source, translated, pos - 1)

    # -- JSON ----------------------------------------------------------------------------

    def json(self, node: Tree[Token]) -> ast.JsonExpr:
        kind = str(node.data)
        if kind in ("or_expr", "and_expr"):
            items = tuple(self.json(c) for c in node.children if isinstance(c, Tree))
            if len(items) == 1:
                return items[0]
            pos = _first_pos(node)
            return ast.Or(items, pos) if kind == "or_expr" else ast.And(items, pos)
        if kind == "group":
            return self.json(cast(Tree[Token], node.children[1]))
        selector = self.selector(cast(Token, node.children[0]))
        if kind == "is_literal":
            word = cast(Token, cast(Tree[Token], node.children[2]).children[0])
            literal = cast(Literal["NULL", "TRUE", "FALSE"], str(word))
            return ast.IsLiteral(selector, literal, selector.pos)
        if kind == "not_exists":
            return ast.NotExists(selector, selector.pos)
        op, value = self.op_value(node.children[1], node.children[2], json=True)
        return ast.Compare(selector, op, value, selector.pos)

    def selector(self, token: Token) -> ast.Selector:
        steps, _ = parse_selector(self.text, _pos(token), _pos(token) + len(token))
        return ast.Selector(str(token), steps, _pos(token))

    def op_value(
        self, op_node: object, value_node: object, *, json: bool
    ) -> tuple[ast.CompareOp, ast.Value]:
        op_token = cast(Token, cast(Tree[Token], op_node).children[0])
        op = cast(ast.CompareOp, str(op_token))
        token = cast(Token, cast(Tree[Token], value_node).children[0])
        pos = _pos(token)
        value: ast.Value
        if token.type == "NUMBER":
            value = ast.Number(str(token), float(token), pos)
        elif op not in ("=", "!="):
            raise self.error(f"expected a number after '{op}'", pos)
        elif token.type == "REGEX":
            value = self.regex(token)
        elif token.type == "STAR" and json:
            if op != "=":
                raise self.error("'*' on its own goes with '=' only", pos)
            value = ast.AnyValue(pos)
        else:
            value = ast.Text(str(token), token.type == "STRING", pos)
        return op, value

    # -- space-delimited -----------------------------------------------------------------

    def space(self, node: Tree[Token]) -> ast.SpacePattern:
        slots: list[ast.Slot] = []
        last = _pos(cast(Token, node.children[0]))
        for child in node.children:
            if isinstance(child, Token):
                last = _pos(child) + 1
                continue
            slots.append(self.slot(child, last))
        if len(slots) == 1 and isinstance(slots[0], ast.Field) and slots[0].name is None:
            slots = []  # `[]`: no slots at all
        return ast.SpacePattern(tuple(slots), _pos(cast(Token, node.children[0])))

    def slot(self, node: Tree[Token], last: int) -> ast.Slot:
        kind = str(node.data)
        if kind == "empty_slot":
            return ast.Field(None, None, last)
        first = cast(Token, node.children[0])
        if kind == "any_fields":
            return ast.AnyFields(_pos(first))
        name = str(first)
        if kind == "bare_field":
            return ast.Field(name, None, _pos(first))
        op, value = self.op_value(node.children[1], node.children[2], json=False)
        groups: list[list[ast.FieldExpr]] = [[ast.FieldCompare(op, value, _pos(first))]]
        for more in node.children[3:]:
            parts = cast(Tree[Token], more).children
            connective = cast(Token, parts[0])
            if isinstance(parts[1], Token) and parts[1].type == "NAME":
                if str(parts[1]) != name:
                    raise self.error(
                        f"a condition in field '{name}' can only test '{name}', not '{parts[1]}'",
                        _pos(parts[1]),
                    )
                parts = parts[1:]
            op, value = self.op_value(parts[1], parts[2], json=False)
            cond = ast.FieldCompare(op, value, _pos(connective))
            if connective.type == "OR":
                groups.append([cond])
            else:
                groups[-1].append(cond)
        ors: list[ast.FieldExpr] = [
            g[0] if len(g) == 1 else ast.FieldAnd(tuple(g), _expr_pos(g[0])) for g in groups
        ]
        condition = ors[0] if len(ors) == 1 else ast.FieldOr(tuple(ors), _pos(first))
        return ast.Field(name, condition, _pos(first))


def _pos(token: Token) -> int:
    return token.start_pos or 0


def _expr_pos(expr: ast.FieldExpr) -> int:
    return expr.pos


def _first_pos(node: Tree[Token]) -> int:
    for tok in node.scan_values(lambda v: isinstance(v, Token)):
        return _pos(tok)
    return 0


def _check(pattern: ast.Pattern, text: str) -> None:
    if isinstance(pattern, ast.JsonPattern):
        conditions = list(_conditions(pattern.expr))
        regexes = [
            c.value
            for c in conditions
            if isinstance(c, ast.Compare) and isinstance(c.value, ast.Regex)
        ]
        total = 0
        for cond in conditions:
            wildcards = cond.selector.wildcards
            total += wildcards
            if wildcards > MAX_WILDCARDS_PER_SELECTOR:
                raise FilterPatternError(
                    "a selector can hold at most one wildcard", cond.selector.pos, pattern=text
                )
            if total > MAX_WILDCARDS_PER_PATTERN:
                raise FilterPatternError(
                    f"a JSON pattern can hold at most {MAX_WILDCARDS_PER_PATTERN} wildcards",
                    cond.selector.pos,
                    pattern=text,
                )
        _check_regex_count(regexes, text)
    elif isinstance(pattern, ast.SpacePattern):
        seen: set[str] = set()
        ellipsis = 0
        regexes = []
        for slot in pattern.slots:
            if isinstance(slot, ast.AnyFields):
                ellipsis += 1
                if ellipsis > 1:
                    raise FilterPatternError(
                        "a pattern can hold only one '...'", slot.pos, pattern=text
                    )
                continue
            if slot.name is not None:
                if slot.name in seen:
                    raise FilterPatternError(
                        f"field '{slot.name}' is named twice", slot.pos, pattern=text
                    )
                seen.add(slot.name)
            regexes.extend(v for v in _field_values(slot.condition) if isinstance(v, ast.Regex))
        _check_regex_count(regexes, text)


def regexes_of(pattern: ast.Pattern) -> list[ast.Regex]:
    """Every regex the pattern holds (a regex pattern, or `%...%` values)."""
    if isinstance(pattern, ast.RegexPattern):
        return [pattern.regex]
    if isinstance(pattern, ast.JsonPattern):
        return [
            c.value
            for c in _conditions(pattern.expr)
            if isinstance(c, ast.Compare) and isinstance(c.value, ast.Regex)
        ]
    if isinstance(pattern, ast.SpacePattern):
        return [
            v
            for slot in pattern.slots
            if isinstance(slot, ast.Field)
            for v in _field_values(slot.condition)
            if isinstance(v, ast.Regex)
        ]
    return []


def _check_regex_count(regexes: Sequence[ast.Value], text: str) -> None:
    if len(regexes) > MAX_REGEXES:
        raise FilterPatternError(
            f"a pattern can hold at most {MAX_REGEXES} regular expressions",
            regexes[MAX_REGEXES].pos,
            pattern=text,
        )


def _conditions(expr: ast.JsonExpr) -> list[ast.JsonCondition]:
    if isinstance(expr, ast.And | ast.Or):
        return [c for item in expr.items for c in _conditions(item)]
    return [expr]


def _field_values(expr: ast.FieldExpr | None) -> list[ast.Value]:
    if expr is None:
        return []
    if isinstance(expr, ast.FieldCompare):
        return [expr.value]
    return [v for item in expr.items for v in _field_values(item)]


def parse_metric_selector(selector: str) -> tuple[ast.Step, ...]:
    """The steps of a metric-filter JSON reference such as `$.latency` (no wildcards)."""
    steps, end = (
        parse_selector(selector, 0, len(selector)) if selector.startswith("$.") else ((), -1)
    )
    if end != len(selector) or any(isinstance(s, ast.AnyMember | ast.AnyIndex) for s in steps):
        raise FilterPatternError(f"not a JSON field reference: {selector!r}", 0, pattern=selector)
    return steps
