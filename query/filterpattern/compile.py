"""AST -> matchers: one small class per family, each matching one message or a whole batch.

The batch paths are the hot ones (subscriptions, FilterLogEvents, metric filters): they
run one list comprehension per term over the batch instead of one Python call per event,
and JSON and space-delimited matchers first test cheap substrings that every match must
contain, so that most non-matching events are never parsed or split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import ast
from .fields import assign, field_predicate, split_fields
from .glob import glob_parts
from .jsoncode import batch_function, doc_function
from .jsonpred import NOT_JSON, EventView, JsonCache, json_needles, parse_json
from .regex import compile_re2

__all__ = ["JsonMatcher", "Matcher", "SpaceMatcher", "build_matcher"]


class Matcher:
    """Match-all; the base of every family's matcher."""

    uses_json = False

    def matches(self, message: str, view: EventView | None = None) -> bool:
        return True

    def batch(self, messages: Sequence[str], cache: JsonCache | None) -> list[bool]:
        return [True] * len(messages)

    def extracted(self, message: str) -> dict[str, str]:
        """extractedValues of a matching message (TestMetricFilter)."""
        return {}


class _Nothing(Matcher):
    def matches(self, message: str, view: EventView | None = None) -> bool:
        return False

    def batch(self, messages: Sequence[str], cache: JsonCache | None) -> list[bool]:
        return [False] * len(messages)


class _Terms(Matcher):
    """Every required term occurs and no excluded one; or, with `?` terms only, any of them."""

    def __init__(self, required: list[str], excluded: list[str], any_of: list[str]) -> None:
        self.required, self.excluded, self.any_of = required, excluded, any_of

    def matches(self, message: str, view: EventView | None = None) -> bool:
        if self.any_of:
            return any(t in message for t in self.any_of)
        return all(t in message for t in self.required) and not any(
            t in message for t in self.excluded
        )

    def batch(self, messages: Sequence[str], cache: JsonCache | None) -> list[bool]:
        if self.any_of:
            first, *rest = self.any_of
            out = [first in m for m in messages]
            for t in rest:
                out = [r or t in m for r, m in zip(out, messages, strict=True)]
            return out
        if self.required:
            first, *others = self.required
            out = [first in m for m in messages]
        else:
            others, out = [], [True] * len(messages)
        for t in others:
            out = [r and t in m for r, m in zip(out, messages, strict=True)]
        for t in self.excluded:
            out = [r and t not in m for r, m in zip(out, messages, strict=True)]
        return out


class _Regex(Matcher):
    def __init__(self, regex: ast.Regex, text: str) -> None:
        self.search = compile_re2(regex.source, regex.re2, regex.pos, text).search

    def matches(self, message: str, view: EventView | None = None) -> bool:
        return self.search(message) is not None

    def batch(self, messages: Sequence[str], cache: JsonCache | None) -> list[bool]:
        search = self.search
        return [search(m) is not None for m in messages]


class JsonMatcher(Matcher):
    uses_json = True

    def __init__(self, pattern: ast.JsonPattern, text: str) -> None:
        self.predicate = doc_function(pattern.expr, text)
        self.run_shared = batch_function(pattern.expr, text, shared=True)
        self.run_alone = batch_function(pattern.expr, text, shared=False)
        self.needles = json_needles(pattern.expr)

    def _maybe(self, message: str) -> bool:
        return "\\" in message or all(n in message for n in self.needles)

    def matches(self, message: str, view: EventView | None = None) -> bool:
        if not self._maybe(message):
            return False
        doc = view.json if view is not None else parse_json(message)
        return doc is not NOT_JSON and self.predicate(doc)

    def batch(self, messages: Sequence[str], cache: JsonCache | None) -> list[bool]:
        if cache is not None and cache.messages is not messages:
            raise ValueError("parsed_cache belongs to another batch of messages")
        candidates: Sequence[int] = range(len(messages))
        if self.needles:
            candidates = _candidates(messages, self.needles)
        out = [False] * len(messages)
        if cache is None:
            self.run_alone(messages, candidates, [], out)
        else:
            self.run_shared(messages, candidates, cache.values, out)
        return out


def _candidates(messages: Sequence[str], needles: list[str]) -> list[int]:
    first, *rest = needles
    idx = [i for i, m in enumerate(messages) if first in m or "\\" in m]
    for n in rest:
        idx = [i for i in idx if n in messages[i] or "\\" in messages[i]]
    return idx


class SpaceMatcher(Matcher):
    def __init__(self, pattern: ast.SpacePattern, text: str) -> None:
        self.pattern = pattern
        self.slots = pattern.slots
        self.conditions: list[tuple[int, int, Callable[[str], bool]]] = []
        k = pattern.ellipsis_index
        n = len(pattern.slots)
        for i, slot in enumerate(pattern.slots):
            if isinstance(slot, ast.Field) and slot.condition is not None:
                # Slots after `...` count from the end: slot i is field -(n - i).
                index = i if k is None or i < k else i - n
                self.conditions.append((i, index, field_predicate(slot.condition, text)))
        self.needles = _space_needles(pattern)

    def _fields(self, message: str) -> tuple[list[str], tuple[int, int]] | None:
        fields = split_fields(message)
        fit = assign(self.pattern, len(fields))
        if fit is None:
            return None
        for _, index, test in self.conditions:
            if not test(fields[index]):
                return None
        return fields, fit

    def matches(self, message: str, view: EventView | None = None) -> bool:
        if self.needles and not all(n in message for n in self.needles):
            return False
        return self._fields(message) is not None

    def batch(self, messages: Sequence[str], cache: JsonCache | None) -> list[bool]:
        fields_of = self._fields
        if not self.needles:
            return [fields_of(m) is not None for m in messages]
        out = [False] * len(messages)
        for i in _candidates_plain(messages, self.needles):
            out[i] = fields_of(messages[i]) is not None
        return out

    def extracted(self, message: str) -> dict[str, str]:
        found = self._fields(message)
        return {} if found is None else self.name_fields(*found)

    def name_fields(self, fields: list[str], fit: tuple[int, int]) -> dict[str, str]:
        """Every field once: `$name` for a named slot, `$N` (1-based) for the others."""
        k, tail = fit
        first_tail = len(fields) - tail
        out: dict[str, str] = {}
        for pos, value in enumerate(fields):
            if pos < k:
                slot: ast.Slot | None = self.slots[pos]
            elif pos >= first_tail:
                slot = self.slots[k + 1 + pos - first_tail]
            else:
                slot = None  # covered by `...`
            name = slot.name if isinstance(slot, ast.Field) else None
            out[f"${name}" if name else f"${pos + 1}"] = value
        return out

    def named_value(self, message: str, key: str) -> str | None:
        """The value of `$name` / `$N` in the message's fields (slots must fit)."""
        fields = split_fields(message)
        fit = assign(self.pattern, len(fields))
        return None if fit is None else self.name_fields(fields, fit).get(key)


def _candidates_plain(messages: Sequence[str], needles: list[str]) -> list[int]:
    first, *rest = needles
    idx = [i for i, m in enumerate(messages) if first in m]
    for n in rest:
        idx = [i for i in idx if n in messages[i]]
    return idx


def _space_needles(pattern: ast.SpacePattern) -> list[str]:
    """Literal text that a field must hold for the pattern to match (so the message does)."""
    needles: set[str] = set()
    for slot in pattern.slots:
        if not isinstance(slot, ast.Field) or slot.condition is None:
            continue
        conds = (
            slot.condition.items if isinstance(slot.condition, ast.FieldAnd) else (slot.condition,)
        )
        for cond in conds:
            if (
                isinstance(cond, ast.FieldCompare)
                and cond.op == "="
                and isinstance(cond.value, ast.Text)
            ):
                parts = glob_parts(cond.value.text, "none" if cond.value.quoted else "anywhere")
                best = max(parts, key=len) if parts is not None else cond.value.text
                if best:
                    needles.add(best)
    return sorted(needles, key=len, reverse=True)[:3]


def build_matcher(pattern: ast.Pattern, text: str) -> Matcher:
    if isinstance(pattern, ast.TermsPattern):
        return _terms(pattern)
    if isinstance(pattern, ast.RegexPattern):
        return _Regex(pattern.regex, text)
    if isinstance(pattern, ast.JsonPattern):
        return JsonMatcher(pattern, text)
    if isinstance(pattern, ast.SpacePattern):
        return SpaceMatcher(pattern, text)
    return Matcher()


def _terms(pattern: ast.TermsPattern) -> Matcher:
    required = [t.text for t in pattern.terms if t.kind == "plain"]
    excluded = [t.text for t in pattern.terms if t.kind == "excluded"]
    optional = [t.text for t in pattern.terms if t.kind == "optional"]
    if required or excluded:
        # With a plain or excluded term present, `?` terms are ignored (documented).
        if "" in excluded:
            return _Nothing()  # every message contains the empty phrase
        required = _unique([t for t in required if t])
        if not required and not excluded:
            return Matcher()
        return _Terms(required, _unique(excluded), [])
    if "" in optional:
        return Matcher()
    return _Terms([], [], _unique(optional))


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
