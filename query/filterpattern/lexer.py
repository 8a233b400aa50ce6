"""The filter-pattern lexer: decides the family, then cuts the text into Lark tokens.

A hand-written lexer because the token rules depend on context that a regular lexer cannot
see: after `=` a run such as `5*` or `123.123.*` is one bare value while `5` is a number and
`*` alone means "exists"; a `%` opens a regex that may hold `,` `]` and blanks; a `-` or `?`
is a prefix only when a term follows it. Every token carries `start_pos`, its offset in the
whole pattern text, so that the parser's errors point at the fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lark import Token
from lark.lexer import Lexer

from query.errors import FilterPatternError

from . import ast

__all__ = ["BLANKS", "FilterLexer", "parse_selector", "tokenize"]

BLANKS = " \t"
#: inside `{...}` and `[...]` a line break separates tokens too (logd's choice)
_WS = frozenset(" \t\r\n")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_KEYWORDS = frozenset({"IS", "NOT", "EXISTS", "NULL", "TRUE", "FALSE"})
_OPS = {"!=": "NE", "<=": "LE", ">=": "GE", "=": "EQ", "<": "LT", ">": "GT"}
#: characters that end a bare value, per family
_JSON_STOP = _WS | frozenset('"()&|}')
_SPACE_STOP = _WS | frozenset('",]&|')
MAX_INDEX = 2**31 - 1


def is_number(text: str) -> bool:
    return _NUMBER.match(text) is not None


class FilterLexer(Lexer):
    """Lark's custom-lexer interface (version 0): `lex(text)` yields tokens."""

    def __init__(self, lexer_conf: object) -> None:
        self.lexer_conf = lexer_conf

    def lex(self, data: str) -> Iterator[Token]:  # type: ignore[override]
        yield from tokenize(data)


def tokenize(text: str) -> list[Token]:
    """All tokens of a non-empty pattern. Raises FilterPatternError on a lexical fault."""
    start = len(text) - len(text.lstrip(BLANKS))
    end = len(text.rstrip(BLANKS))
    first = text[start]
    if first == "{":
        return _Scanner(text, start, end, _JSON_STOP).structured("RBRACE")
    if first == "[":
        return _Scanner(text, start, end, _SPACE_STOP).structured("RSQB")
    if first == "%":
        return [_regex_pattern(text, start, end)]
    return _terms(text, start, end)


def _tok(kind: str, value: str, pos: int) -> Token:
    return Token(kind, value, start_pos=pos, line=1, column=pos + 1)


def _regex_pattern(text: str, start: int, end: int) -> Token:
    close = text.find("%", start + 1, end)
    if close < 0:
        raise FilterPatternError("unterminated regex: expected a closing '%'", start, pattern=text)
    if close != end - 1:
        raise FilterPatternError(
            "a regex pattern cannot be combined with other terms", close + 1, pattern=text
        )
    return _tok("REGEX", text[start + 1 : close], start + 1)


def _quoted(text: str, i: int, end: int) -> tuple[str, int]:
    """The text of the quoted string opening at `i`, and the offset after its closing quote.

    Inside quotes `\\"` is a quote and `\\\\` a backslash (logd's choice); any other
    backslash is itself.
    """
    out: list[str] = []
    j = i + 1
    while j < end:
        ch = text[j]
        if ch == '"':
            return "".join(out), j + 1
        if ch == "\\" and j + 1 < end and text[j + 1] in '"\\':
            out.append(text[j + 1])
            j += 2
            continue
        out.append(ch)
        j += 1
    raise FilterPatternError("unterminated string: expected a closing '\"'", i, pattern=text)


def _terms(text: str, i: int, end: int) -> list[Token]:
    tokens: list[Token] = []
    while i < end:
        if text[i] in BLANKS:
            i += 1
            continue
        if text[i] in "?-" and i + 1 < end and text[i + 1] not in BLANKS:
            tokens.append(_tok("QMARK" if text[i] == "?" else "MINUS", text[i], i))
            i += 1
        if text[i] == '"':
            value, j = _quoted(text, i, end)
            # A quoted phrase of blanks only is the documented match-everything phrase.
            tokens.append(_tok("QTERM", "" if value.strip(BLANKS) == "" else value, i))
        else:
            j = i
            while j < end and text[j] not in BLANKS and text[j] != '"':
                j += 1
            if j == i:  # a prefix glued to a quote that is not there cannot happen; be safe
                raise FilterPatternError("expected a term", i, pattern=text)
            tokens.append(_tok("TERM", text[i:j], i))
        if j < end and text[j] not in BLANKS:
            raise FilterPatternError("expected a blank between two terms", j, pattern=text)
        i = j
    return tokens


class _Scanner:
    """Tokens of a JSON (`{...}`) or space-delimited (`[...]`) pattern."""

    def __init__(self, text: str, start: int, end: int, stop: frozenset[str]) -> None:
        self.text, self.i, self.end, self.stop = text, start, end, stop
        self.json = stop is _JSON_STOP
        self.tokens: list[Token] = []
        self.want_value = False

    def error(self, message: str, pos: int) -> FilterPatternError:
        return FilterPatternError(message, pos, pattern=self.text)

    def structured(self, closer: str) -> list[Token]:
        text, end = self.text, self.end
        opener = "LBRACE" if closer == "RBRACE" else "LSQB"
        self.tokens.append(_tok(opener, text[self.i], self.i))
        self.i += 1
        while self.i < end:
            i = self.i
            ch = text[i]
            if ch in _WS:
                self.i += 1
            elif self.want_value:
                self.value()
            elif ch == "}" or ch == "]":
                kind = "RBRACE" if ch == "}" else "RSQB"
                self.tokens.append(_tok(kind, ch, i))
                self.i += 1
            elif ch in "(),{[":
                kind = {"(": "LPAR", ")": "RPAR", ",": "COMMA", "{": "LBRACE", "[": "LSQB"}[ch]
                self.tokens.append(_tok(kind, ch, i))
                self.i += 1
            elif text.startswith("&&", i) or text.startswith("||", i):
                self.tokens.append(_tok("AND" if ch == "&" else "OR", text[i : i + 2], i))
                self.i += 2
            elif text.startswith("...", i) and not self.json:
                self.tokens.append(_tok("ELLIPSIS", "...", i))
                self.i += 3
            elif ch in "!<>=" and (op := _op_at(text, i)):
                self.tokens.append(_tok(_OPS[op], op, i))
                self.i += len(op)
                self.want_value = True
            elif ch == "$" and self.json:
                _, j = parse_selector(text, i, end)
                self.tokens.append(_tok("SELECTOR", text[i:j], i))
                self.i = j
            elif m := _WORD.match(text, i, end):
                word = m.group()
                kind = (
                    word
                    if self.json and word in _KEYWORDS
                    else ("NAME" if not self.json else "WORD")
                )
                self.tokens.append(_tok(kind, word, i))
                self.i = m.end()
            else:
                j = i + 1
                while j < end and text[j] not in self.stop and text[j] not in "(),=<>!$[{":
                    j += 1
                self.tokens.append(_tok("WORD", text[i:j], i))
                self.i = j
        return self.tokens

    def value(self) -> None:
        """Lex the value after an operator; a delimiter here leaves the parser to complain."""
        self.want_value = False
        text, i, end = self.text, self.i, self.end
        ch = text[i]
        if ch == '"':
            value, j = _quoted(text, i, end)
            self.tokens.append(_tok("STRING", value, i))
        elif ch == "%":
            close = text.find("%", i + 1, end)
            if close < 0:
                raise self.error("unterminated regex: expected a closing '%'", i)
            self.tokens.append(_tok("REGEX", text[i + 1 : close], i + 1))
            j = close + 1
        elif ch in self.stop:
            return
        elif ch in "=<>!":
            raise self.error(f"expected a value after '{self.tokens[-1]}'", i)
        else:
            j = i
            while j < end and text[j] not in self.stop:
                j += 1
            bare = text[i:j]
            kind = "STAR" if bare == "*" else "NUMBER" if is_number(bare) else "BARE"
            self.tokens.append(_tok(kind, bare, i))
        self.i = j


def _op_at(text: str, i: int) -> str | None:
    two = text[i : i + 2]
    if two in ("!=", "<=", ">="):
        return two
    if text[i] in "=<>":
        return text[i]
    return None


def parse_selector(text: str, i: int, end: int) -> tuple[tuple[ast.Step, ...], int]:
    """Parse the JSON selector at `text[i]` (a `$`); return its steps and the offset after it."""
    if text[i] != "$":
        raise FilterPatternError("a JSON selector starts with '$'", i, pattern=text)
    steps: list[ast.Step] = []
    j = i + 1
    while j < end:
        ch = text[j]
        if ch == ".":
            nxt = text[j + 1] if j + 1 < end else ""
            if nxt == "*":
                steps.append(ast.AnyMember())
                j += 2
            elif nxt == "[":
                if not text.startswith("'", j + 2):
                    raise FilterPatternError(
                        "expected a quoted name after '.['", j + 2, pattern=text
                    )
                close = text.find("']", j + 3, end)
                if close < 0:
                    raise FilterPatternError(
                        'expected "\']" to close the name', j + 1, pattern=text
                    )
                name = text[j + 3 : close]
                if not name:
                    raise FilterPatternError("a member name cannot be empty", j + 3, pattern=text)
                steps.append(ast.Member(name))
                j = close + 2
            else:
                k = j + 1
                while k < end and text[k] in _NAME_CHARS:
                    k += 1
                if k == j + 1:
                    raise FilterPatternError(
                        "expected a member name after '.'", j + 1, pattern=text
                    )
                steps.append(ast.Member(text[j + 1 : k]))
                j = k
        elif ch == "[":
            if not steps:
                raise FilterPatternError("the first step of a selector is '.'", j, pattern=text)
            close = text.find("]", j + 1, end)
            inner = text[j + 1 : close] if close >= 0 else ""
            if inner == "*":
                steps.append(ast.AnyIndex())
            elif inner.isascii() and inner.isdigit():
                if int(inner) > MAX_INDEX:
                    raise FilterPatternError("array index is too large", j + 1, pattern=text)
                steps.append(ast.Index(int(inner)))
            else:
                raise FilterPatternError(
                    "an array index must be a number or *", j + 1, pattern=text
                )
            j = close + 1
        else:
            break
    if not steps:
        raise FilterPatternError("expected a step such as '.name' after '$'", j, pattern=text)
    return tuple(steps), j
