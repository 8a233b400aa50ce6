"""User regexes and `parse` globs, translated to RE2 (DuckDB's regex engine).

RE2 runs in linear time; what it cannot do (backreferences, lookaround) is a clear error.
`(?<name>...)` groups are rewritten to `(?P<name>...)`; for `parse` every capture is
renamed to a positional `(?P<gN>...)` and unnamed groups stop capturing, so DuckDB's
`regexp_extract(..., [names])` lines captures up with fields by position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

_NAME_START = re.compile(r"[A-Za-z_]")
_GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_@.]*")
_META = set("\\.^$|?*+()[]{}")


class RegexError(ValueError):
    """A pattern RE2 rejects; `offset` is the character in the pattern (when known)."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Translated:
    pattern: str
    #: named captures in order, as the user named them (parse) or empty
    names: tuple[str, ...]


def _validate(pattern: str) -> None:
    try:
        re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else b"invalid regex"
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        if "(?<=" in text or "(?<!" in text or "(?=" in text or "(?!" in text:
            raise RegexError(f"lookaround is not supported (RE2): {text}") from None
        if "\\1" in text or "backreference" in text:
            raise RegexError(f"backreferences are not supported (RE2): {text}") from None
        raise RegexError(f"invalid regex: {text}") from None


def translate(pattern: str, *, positional: bool = False) -> Translated:
    """The RE2 form of a user regex; with `positional`, captures become g1..gN."""
    out: list[str] = []
    names: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            out.append("/" if nxt == "/" else pattern[i : i + 2])
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
            continue
        if ch == "(":
            rest = pattern[i + 1 :]
            named = None
            if rest.startswith("?<") and _NAME_START.match(rest, 2):
                named = _GROUP_NAME.match(rest, 2)
            elif rest.startswith("?P<"):
                named = _GROUP_NAME.match(rest, 3)
            if named is not None:
                end = named.end()
                if end >= len(rest) or rest[end] != ">":
                    raise RegexError("invalid group name", i)
                name = named.group(0)
                if name in names:
                    raise RegexError(f"duplicate group name: {name}", i)
                names.append(name)
                label = f"g{len(names)}" if positional else name
                out.append(f"(?P<{label}>")
                i += 1 + end + 1
                continue
            if positional and not rest.startswith("?"):
                out.append("(?:")
                i += 1
                continue
        out.append(ch)
        i += 1
    translated = "".join(out)
    _validate(translated)
    return Translated(translated, tuple(names))


def glob_to_regex(glob: str) -> str:
    """A `parse` glob as RE2: literal text escaped, `*` lazy, a final `*` greedy."""
    parts: list[str] = ["(?s)"]
    count = 0
    for index, ch in enumerate(glob):
        if ch == "*":
            count += 1
            greedy = index == len(glob) - 1
            parts.append(f"(?P<g{count}>.*)" if greedy else f"(?P<g{count}>.*?)")
        elif ch in _META:
            parts.append("\\" + ch)
        else:
            parts.append(ch)
    pattern = "".join(parts)
    _validate(pattern)
    return pattern


def validate(pattern: str) -> str:
    """The RE2 form of a `like`/`=~` regex (named groups allowed, ignored)."""
    return translate(pattern).pattern


def required_literal(pattern: str) -> str | None:
    """The longest literal text every match of `pattern` contains (None if unsure).

    Conservative: any top-level alternation, flag group or unusual syntax gives None.
    Used to put a cheap `contains()` in front of the regex.
    """
    groups = ("(?:", "(?P<", "(?s)")
    if not all(any(pattern.startswith(g, i) for g in groups) for i in _find_all(pattern, "(?")):
        return None
    best, run = "", []
    i, n, depth = 0, len(pattern), 0
    while i < n:
        ch = pattern[i]
        nxt = pattern[i + 1] if i + 1 < n else ""
        if depth == 0 and ch == "|":
            return None
        if ch == "\\" and nxt:
            if nxt.isalnum() and nxt not in "dDwWsSbBntrfv":
                return None  # \x41, \p{L}, \Q...\E, \1: not worth understanding here
            atom = None if nxt.isalnum() else nxt
            i += 2
        elif ch == "[":
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            j += pattern[j : j + 1] == "]"
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            i, atom = j + 1, None
        elif ch == "(":
            depth += 1
            i, atom = i + 1, None
        elif ch == ")":
            depth -= 1
            i, atom = i + 1, None
        elif ch in ".^$":
            i, atom = i + 1, None
        else:
            i, atom = i + 1, ch
        quantified = i < n and pattern[i] in "*+?{"
        if quantified and pattern[i] in "+" and atom is not None and depth == 0:
            run.append(atom)  # at least once: the character is required, the run ends
            atom = None
        if atom is None or depth > 0 or (quantified and pattern[i] in "*?{"):
            if len("".join(run)) > len(best):
                best = "".join(run)
            run = []
            if quantified:
                while i < n and pattern[i] in "*+?":
                    i += 1
                if i < n and pattern[i] == "{":
                    close = pattern.find("}", i)
                    i = n if close < 0 else close + 1
            continue
        run.append(atom)
    if len("".join(run)) > len(best):
        best = "".join(run)
    return best if len(best) >= 3 else None


def _find_all(text: str, sub: str) -> list[int]:
    out, start = [], text.find(sub)
    while start >= 0:
        out.append(start)
        start = text.find(sub, start + 1)
    return out
