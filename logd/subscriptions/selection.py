"""A subscription filter's `fieldSelectionCriteria` and `emitSystemFields`.

`fieldSelectionCriteria` selects events by their system fields, before the filter
pattern looks at the message. CloudWatch documents the operators ``=``, ``!=``,
``IN``, ``NOT IN``, ``AND`` and ``OR`` over system fields such as source account and
region, e.g. ``@aws.region NOT IN ["cn-north-1"]`` or ``@aws.account = "123456789012"
AND @aws.region = "us-east-1"``. logd implements exactly that, plus parentheses:

    criteria   := or?                        (empty text: every event)
    or         := and ("OR" and)*
    and        := atom ("AND" atom)*
    atom       := "(" or ")" | FIELD ("=" | "!=") STRING | FIELD ["NOT"] "IN" list
    list       := "[" [STRING ("," STRING)*] "]"
    FIELD      := @aws.account | @aws.region | @logStream
    STRING     := double-quoted, with \\" and \\\\ escapes

Keywords are case-insensitive; ``AND`` binds tighter than ``OR``. ``@logStream`` (the
event's log stream) is logd's own addition. Anything else (other fields, message
fields such as ``$.level``, other operators) is `InvalidParameterException` naming
the position; message content is the filter pattern's job.

`emitSystemFields` names fields added to each delivered event: ``@aws.account`` (the
group's account id), ``@aws.region`` (logd's region) and ``@source.log``
(``<account>:<log group>``, the form of Insights' ``@log``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from logd import errors
from logd.model import Scope

SELECTABLE = ("@aws.account", "@aws.region", "@logStream")
EMITTABLE = ("@aws.account", "@aws.region", "@source.log")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<field>@[A-Za-z0-9_.]+)
      | (?P<word>[A-Za-z0-9_.:/+-]+)
      | (?P<op>!=|=|\(|\)|\[|\]|,)
    )""",
    re.VERBOSE,
)

_CACHE_STREAMS = 65_536
Predicate = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string | field | word | op | end
    text: str
    offset: int


def _problem(text: str, offset: int, expected: str) -> errors.InvalidParameterException:
    found = text[offset : offset + 20] or "the end"
    return errors.InvalidParameterException(
        f"Invalid fieldSelectionCriteria at character {offset + 1}: expected {expected}, "
        f"found {found!r}. logd supports =, !=, IN and NOT IN tests of "
        f"{', '.join(SELECTABLE)} joined by AND / OR."
    )


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            out.append(_Token("end", "", pos))
            return out
        if text[pos] == "$":
            raise errors.InvalidParameterException(
                f"Invalid fieldSelectionCriteria at character {pos + 1}: it selects events "
                "by system fields only; test message fields such as $.level with the "
                "filterPattern."
            )
        match = _TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            raise _problem(text, pos, "a field, a quoted string, an operator or a keyword")
        start = match.start(match.lastgroup)
        out.append(_Token(match.lastgroup, match.group(match.lastgroup), start))
        pos = match.end()


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0
        self.fields: set[str] = set()

    @property
    def at(self) -> _Token:
        return self.tokens[self.i]

    def keyword(self, word: str) -> bool:
        if self.at.kind == "word" and self.at.text.upper() == word:
            self.i += 1
            return True
        return False

    def op(self, symbol: str) -> bool:
        if self.at.kind == "op" and self.at.text == symbol:
            self.i += 1
            return True
        return False

    def fail(self, expected: str) -> errors.InvalidParameterException:
        return _problem(self.text, self.at.offset, expected)

    def parse(self) -> Predicate:
        if self.at.kind == "end":
            return lambda fields: True
        predicate = self.or_()
        if self.at.kind != "end":
            raise self.fail("AND, OR or the end")
        return predicate

    def or_(self) -> Predicate:
        parts = [self.and_()]
        while self.keyword("OR"):
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else lambda f: any(p(f) for p in parts)

    def and_(self) -> Predicate:
        parts = [self.atom()]
        while self.keyword("AND"):
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else lambda f: all(p(f) for p in parts)

    def atom(self) -> Predicate:
        if self.op("("):
            inner = self.or_()
            if not self.op(")"):
                raise self.fail("')'")
            return inner
        token = self.at
        if token.kind != "field" or token.text not in SELECTABLE:
            raise self.fail(f"one of {', '.join(SELECTABLE)}")
        self.i += 1
        name = token.text
        self.fields.add(name)
        if self.op("="):
            value = self.string()
            return lambda f: f.get(name) == value
        if self.op("!="):
            value = self.string()
            return lambda f: f.get(name) != value
        negated = self.keyword("NOT")
        if not self.keyword("IN"):
            raise self.fail("IN" if negated else "=, !=, IN or NOT IN")
        values = frozenset(self.values())
        if negated:
            return lambda f: f.get(name) not in values
        return lambda f: f.get(name) in values

    def string(self) -> str:
        token = self.at
        if token.kind != "string":
            raise self.fail('a double-quoted string such as "us-east-1"')
        self.i += 1
        return _unquote(token.text)

    def values(self) -> list[str]:
        if not self.op("["):
            raise self.fail("'['")
        out: list[str] = []
        if self.op("]"):
            return out
        out.append(self.string())
        while self.op(","):
            out.append(self.string())
        if not self.op("]"):
            raise self.fail("',' or ']'")
        return out


@dataclass(frozen=True, slots=True)
class Selection:
    """A compiled `fieldSelectionCriteria`: `matches(fields)` over system field values."""

    text: str
    fields: frozenset[str]
    _predicate: Predicate

    def matches(self, fields: Mapping[str, str]) -> bool:
        return self._predicate(fields)

    @property
    def selects_all(self) -> bool:
        return not self.text.strip()


def compile_selection(text: str | None) -> Selection:
    """Parse and check; `InvalidParameterException` at the first problem."""
    parser = _Parser(text or "")
    predicate = parser.parse()
    return Selection(text or "", frozenset(parser.fields), predicate)


def check_system_fields(names: Sequence[str] | None) -> tuple[str, ...] | None:
    """`emitSystemFields` as stored: known names only, each once, in the given order."""
    if names is None:
        return None
    out: list[str] = []
    for name in names:
        if name not in EMITTABLE:
            raise errors.InvalidParameterException(
                f"emitSystemFields: {name!r} is not a system field logd can emit "
                f"(valid values: {', '.join(EMITTABLE)})."
            )
        if name not in out:
            out.append(name)
    return tuple(out)


def system_field_values(
    names: Sequence[str], scope: Scope, group: str
) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs a subscription of `group` adds to each event."""
    values = {
        "@aws.account": scope.account,
        "@aws.region": scope.region,
        "@source.log": f"{scope.account}:{group}",
    }
    return tuple((name, values[name]) for name in names)


def stream_selector(selection: Selection, scope: Scope) -> Callable[[str], bool] | None:
    """A per-log-stream test for the feed, or None when every event is selected.

    Every selectable field is constant for a stream of this logd, so the answer is
    computed once per stream and cached.
    """
    if selection.selects_all:
        return None
    base = {"@aws.account": scope.account, "@aws.region": scope.region}
    cache: dict[str, bool] = {}

    def selected(stream: str) -> bool:
        answer = cache.get(stream)
        if answer is None:
            if len(cache) >= _CACHE_STREAMS:
                cache.clear()
            answer = cache[stream] = selection.matches({**base, "@logStream": stream})
        return answer

    return selected
