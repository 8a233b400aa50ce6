"""The regex subset of `%...%` (docs/filter-patterns.md section 4), checked and turned into RE2.

CloudWatch allows ASCII letters and digits, a few symbols, the operators
`^ $ ? [ ] { } | \\ * + .`, the escapes `\\d \\D \\s \\S \\w \\W \\xhh` and `\\` before an
operator or symbol. Everything else is refused with its position. The translation to RE2 is
almost the identity: `{,n}` becomes `{0,n}` (RE2 reads `{,n}` as literal text) and `\\_`
becomes `_`. RE2 runs in linear time, in Python (`google-re2`) and in DuckDB alike, and both
use the same default flags (`.` does not match a newline, `^`/`$` are the subject's ends).
"""

from __future__ import annotations

import re2

from query.errors import FilterPatternError

__all__ = ["compile_re2", "to_re2"]

_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_SYMBOLS = frozenset("_#=@/;,-: \t")
_OPERATORS = frozenset("^$?[]{}|\\*+.")
_CLASS_ESCAPES = frozenset("dDsSwW")
_HEX = frozenset("0123456789abcdefABCDEF")

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


def to_re2(source: str, pos: int, pattern: str) -> str:
    """Check `source` (the text between `%` signs, starting at offset `pos`) and return RE2."""
    if not source:
        raise FilterPatternError(
            "a regex needs at least one character between '%' signs", pos, pattern=pattern
        )
    out: list[str] = []
    in_class = False
    class_start = -1
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        at = pos + i
        if ch == "\\":
            out.append(_escape(source, i, at, pattern))
            i += 4 if source[i + 1] == "x" else 2
            continue
        if ch in "()":
            raise FilterPatternError(
                "parentheses are not supported in a regex", at, pattern=pattern
            )
        if ord(ch) > 127:
            raise FilterPatternError(
                f"multi-byte character {ch!r} is not supported in a regex", at, pattern=pattern
            )
        if ch not in _LETTERS and ch not in _SYMBOLS and ch not in _OPERATORS:
            raise FilterPatternError(f"{ch!r} is not allowed in a regex", at, pattern=pattern)
        if in_class:
            # A ']' right after '[' or '[^' is a literal member of the class.
            if (
                ch == "]"
                and i > class_start + 1
                and not (i == class_start + 2 and source[i - 1] == "^")
            ):
                in_class = False
        elif ch == "[":
            in_class, class_start = True, i
        elif ch == "{" and source.startswith(",", i + 1):
            end = source.find("}", i)
            if end > i + 2 and source[i + 2 : end].isdigit():
                out.append("{0")  # `{,n}` means `{0,n}`; RE2 would read it literally
                i += 1
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _escape(source: str, i: int, at: int, pattern: str) -> str:
    if i + 1 >= len(source):
        raise FilterPatternError("a regex cannot end with '\\'", at, pattern=pattern)
    nxt = source[i + 1]
    if nxt in _CLASS_ESCAPES:
        return "\\" + nxt
    if nxt == "x":
        digits = source[i + 2 : i + 4]
        if len(digits) != 2 or not all(d in _HEX for d in digits):
            raise FilterPatternError("'\\x' needs two hexadecimal digits", at, pattern=pattern)
        if int(digits, 16) > 127:
            raise FilterPatternError("'\\x' escapes only ASCII characters", at, pattern=pattern)
        return "\\x" + digits
    if nxt == "_":
        return "_"
    if nxt in _OPERATORS or (nxt in _SYMBOLS and nxt not in "\t"):
        return "\\" + nxt
    if nxt in "()":
        raise FilterPatternError(
            "parentheses are not supported in a regex", at + 1, pattern=pattern
        )
    raise FilterPatternError(f"unsupported escape '\\{nxt}' in a regex", at, pattern=pattern)


def compile_re2(source: str, translated: str, pos: int, pattern: str) -> re2._Regexp:
    """Compile the RE2 form; RE2's own refusals (`{2,1}`, `a**`) become FilterPatternError."""
    try:
        return re2.compile(translated, _OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise FilterPatternError(
            f"invalid regex %{source}%: {detail}", pos, pattern=pattern
        ) from exc
