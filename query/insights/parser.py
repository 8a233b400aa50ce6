"""Text -> AST: the LALR parser over `insights.lark`, with errors a user can act on.

`parse(text)` returns an `ast.Query` or raises `InsightsQueryError` with line, column,
character offsets and a caret excerpt. Nothing else escapes: Lark's exceptions are
translated here, at the one place Lark is called.
"""

from __future__ import annotations

import functools
import threading
from importlib import resources

from lark import Lark, Token
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from query.errors import InsightsQueryError
from query.insights import ast
from query.insights.transform import AstBuilder

#: Commands CloudWatch has that logd does not run; named in the error instead of "unknown".
UNSUPPORTED_COMMANDS = frozenset(
    {"anomaly", "lookup", "join", "addtotals", "logcompare", "subquery", "union", "eval"}
)

_COMMAND_TERMINALS = frozenset(
    {
        "FIELDS",
        "DISPLAY",
        "FILTER",
        "STATS",
        "SORT",
        "LIMIT",
        "PARSE",
        "DEDUP",
        "UNMASK",
        "FILTERINDEX",
        "PATTERN",
        "DIFF",
        "UNNEST",
        "SOURCE",
    }
)
_EXPRESSION_START = frozenset({"NAME", "NUMBER", "STRING"})

_WORDS = {
    "NAME": "a field name",
    "BACKTICK": "a field name",
    "NUMBER": "a number",
    "STRING": "a string",
    "REGEX": "a regex",
    "PERIOD": "a time period",
    "PIPE": "'|'",
    "COMMA": "','",
    "COLON": "':'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "EQ": "'='",
    "IN": "'in'",
    "AS": "'as'",
    "BY": "'by'",
    "INTO": "'into'",
    "LIKE": "'like'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "PERCENT": "'%'",
    "CARET": "'^'",
    "DOT": "'.'",
    "MATCH": "'=~'",
    "CMP_OP": "a comparison",
    "$END": "the end of the query",
}


_LOCK = threading.Lock()


@functools.cache
def _parser() -> tuple[Lark, AstBuilder]:
    """The parser, built once; its inline AST builder holds the text of the current parse."""
    grammar = resources.files("query.insights").joinpath("insights.lark").read_text("utf-8")
    builder = AstBuilder("")
    lark = Lark(grammar, parser="lalr", lexer="contextual", start="start", transformer=builder)
    return lark, builder


def _expected(names: set[str]) -> str:
    if names & _COMMAND_TERMINALS and len(names & _COMMAND_TERMINALS) > 3:
        return "a command"
    if names >= _EXPRESSION_START:
        return "an expression"
    words = sorted({_WORDS.get(n, f"'{n.lower()}'") for n in names})
    if not words:
        return "something else"
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe(tok: Token) -> str:
    text = str(tok)
    if len(text) > 40:
        text = text[:37] + "..."
    return repr(text)


def _translate(text: str, exc: UnexpectedInput) -> InsightsQueryError:
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        expected = set(exc.expected) | set(getattr(exc, "accepts", None) or ())
        if tok.type == "$END":
            pos = ast.pos_at(text, len(text))
            if not text.strip() or all(
                line.strip().startswith("#") or not line.strip() for line in text.splitlines()
            ):
                return ast.error_at(text, pos, "empty query; expected a command")
            return ast.error_at(
                text, pos, f"unexpected end of query; expected {_expected(expected)}"
            )
        pos = ast.pos_at(text, tok.start_pos or 0, tok.end_pos)
        word = str(tok)
        if tok.type == "SLASH" and "REGEX" in expected:
            return ast.error_at(text, pos, "unterminated regex")
        if expected & _COMMAND_TERMINALS and tok.type == "NAME":
            kind = "unsupported" if word.lower() in UNSUPPORTED_COMMANDS else "unknown"
            return ast.error_at(text, pos, f"{kind} command: {word}")
        return ast.error_at(
            text, pos, f"unexpected {_describe(tok)}; expected {_expected(expected)}"
        )
    if isinstance(exc, UnexpectedCharacters):
        start = exc.pos_in_stream or 0
        ch = text[start] if start < len(text) else ""
        pos = ast.pos_at(text, start, start + 1)
        if ch in "\"'":
            return ast.error_at(text, pos, "unterminated string")
        if ch == "`":
            return ast.error_at(text, pos, "unterminated backtick name")
        if ch == "/" and "REGEX" in (exc.allowed or set()):
            return ast.error_at(text, pos, "unterminated regex")
        return ast.error_at(text, pos, f"unexpected character {ch!r}")
    pos = ast.pos_at(text, len(text))
    return ast.error_at(text, pos, "unexpected end of query")


def parse(text: str) -> ast.Query:
    """Parse `text` into an `ast.Query`; raises `InsightsQueryError`."""
    parser, builder = _parser()
    try:
        with _LOCK:
            builder.reset(text)
            query = parser.parse(text)
    except InsightsQueryError:
        raise
    except UnexpectedInput as exc:
        raise _translate(text, exc) from None
    except LarkError as exc:
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, InsightsQueryError):
            raise inner from None
        raise ast.error_at(text, ast.pos_at(text, 0), "the query could not be parsed") from None
    if not isinstance(query, ast.Query):  # pragma: no cover - the grammar's start rule
        raise TypeError("the parser did not produce a query")
    return query
