"""String values with `*` wildcards, as a Python matcher and as a SQL LIKE pattern.

A value is a sequence of literal parts with "any text" between them. JSON patterns read a
`*` only at the start or end of a bare value (`Ev*ent` is literal); space-delimited
patterns read it anywhere; a quoted value has no wildcards. Both forms come from
`glob_parts`, so the predicate and the SQL agree by construction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["Wildcards", "glob_parts", "like_pattern", "text_matcher"]

Wildcards = Literal["anywhere", "ends", "none"]


def glob_parts(text: str, wildcards: Wildcards) -> list[str] | None:
    """The literal parts between wildcards, or None when the value is plain text."""
    if wildcards == "none" or "*" not in text:
        return None
    if wildcards == "anywhere":
        return text.split("*")
    lead = text.startswith("*")
    rest = text[1:] if lead else text
    trail = rest.endswith("*")
    mid = rest[:-1] if trail else rest
    if not lead and not trail:
        return None
    return ([""] if lead else []) + [mid] + ([""] if trail else [])


def text_matcher(text: str, wildcards: Wildcards) -> Callable[[str], bool]:
    """A function telling whether a string equals (or matches) the value."""
    parts = glob_parts(text, wildcards)
    if parts is None:
        return text.__eq__
    if len(parts) == 3 and parts[0] == parts[2] == "":
        mid = parts[1]
        return lambda s: mid in s
    if len(parts) == 2:
        first, last = parts
        if not last:
            return lambda s: s.startswith(first)
        if not first:
            return lambda s: s.endswith(last)
    return _general(parts)


def _general(parts: list[str]) -> Callable[[str], bool]:
    first, last, middle = parts[0], parts[-1], parts[1:-1]
    need = len(first) + len(last)

    def match(s: str) -> bool:
        if len(s) < need or not s.startswith(first) or not s.endswith(last):
            return False
        i, end = len(first), len(s) - len(last)
        for part in middle:
            j = s.find(part, i, end)
            if j < 0:
                return False
            i = j + len(part)
        return True

    return match


def like_pattern(parts: list[str]) -> str:
    """The LIKE pattern (escape character `\\`) for glob parts."""
    return "%".join(p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for p in parts)
