"""Request validation compiled from botocore's service model (``logs/2014-03-28``).

Each operation's input shape becomes a tree of small check functions, built once when
the server starts. A check covers what the model states: required members, JSON types,
``min``/``max`` (string length in characters, list items, map entries, number value),
``pattern`` (anchored: the whole value must match; RE2, which knows ``\\p{L}``), enums.
Members the model does not know are ignored (newer SDKs send newer members).

A wrong JSON type is ``SerializationException`` (the body cannot be read as the
model's type); constraint failures are ``InvalidParameterException`` in AWS's words::

    1 validation error detected: Value 'a:b' at 'logStreamName' failed to satisfy
    constraint: Member must satisfy regular expression pattern: [^:*]*

Nested paths use AWS's form: ``logEvents.1.member.message`` (1-based list index).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import re2

from logd import errors

Check = Callable[[object, str, list[str]], None]
"""check(value, path, failures): appends messages; raises SerializationException on type."""


@lru_cache(maxsize=1)
def service_model() -> Mapping[str, Any]:
    """botocore's CloudWatch Logs service model, loaded once."""
    from botocore.loaders import Loader

    model: Mapping[str, Any] = Loader().load_service_model("logs", "service-2")
    return model


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _failure(value: object, path: str, constraint: str) -> str:
    return f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _type_error(path: str, expected: str) -> errors.SerializationException:
    return errors.SerializationException(f"Unexpected value type for '{path}': expected {expected}")


class _Compiler:
    def __init__(self, shapes: Mapping[str, Any]) -> None:
        self.shapes = shapes
        self.cache: dict[str, Check] = {}

    def shape(self, name: str) -> Check:
        check = self.cache.get(name)
        if check is None:
            # placeholder for recursive shapes: resolved lazily through the cache
            self.cache[name] = lambda v, p, f: self.cache[name](v, p, f)
            check = self.cache[name] = self.build(self.shapes[name])
        return check

    def build(self, spec: Mapping[str, Any]) -> Check:
        kind = spec["type"]
        builder = getattr(self, f"build_{kind}", None)
        if builder is None:
            return lambda value, path, failures: None
        check: Check = builder(spec)
        return check

    def build_structure(self, spec: Mapping[str, Any]) -> Check:
        members = {name: self.shape(m["shape"]) for name, m in spec.get("members", {}).items()}
        required = tuple(spec.get("required", ()))

        def check(value: object, path: str, failures: list[str]) -> None:
            if not isinstance(value, dict):
                raise _type_error(path or "(body)", "an object")
            prefix = f"{path}." if path else ""
            for name in required:
                if value.get(name) is None:
                    failures.append(
                        f"Value null at '{prefix}{name}' failed to satisfy constraint: "
                        "Member must not be null"
                    )
            for name, member in members.items():
                item = value.get(name)
                if item is not None:
                    member(item, prefix + name, failures)

        return check

    def build_list(self, spec: Mapping[str, Any]) -> Check:
        item = self.shape(spec["member"]["shape"])
        size = _length(spec)

        def check(value: object, path: str, failures: list[str]) -> None:
            if not isinstance(value, list):
                raise _type_error(path, "a list")
            size(value, len(value), path, failures)
            for index, element in enumerate(value, start=1):
                if element is None:
                    continue
                item(element, f"{path}.{index}.member", failures)

        return check

    def build_map(self, spec: Mapping[str, Any]) -> Check:
        key = self.shape(spec["key"]["shape"])
        val = self.shape(spec["value"]["shape"])
        size = _length(spec)

        def check(value: object, path: str, failures: list[str]) -> None:
            if not isinstance(value, dict):
                raise _type_error(path, "a map")
            size(value, len(value), path, failures)
            for k, v in value.items():
                key(k, f"{path}.key", failures)
                if v is not None:
                    val(v, f"{path}.{k}", failures)

        return check

    def build_string(self, spec: Mapping[str, Any]) -> Check:
        length = _length(spec)
        enum = tuple(spec.get("enum", ()))
        pattern_text = spec.get("pattern")
        pattern = re2.compile(pattern_text) if pattern_text is not None else None

        def check(value: object, path: str, failures: list[str]) -> None:
            if not isinstance(value, str):
                raise _type_error(path, "a string")
            length(value, len(value), path, failures)
            if pattern is not None and pattern.fullmatch(value) is None:
                failures.append(
                    _failure(
                        value,
                        path,
                        f"Member must satisfy regular expression pattern: {pattern_text}",
                    )
                )
            if enum and value not in enum:
                listed = ", ".join(enum)
                failures.append(
                    _failure(value, path, f"Member must satisfy enum value set: [{listed}]")
                )

        return check

    def _number(self, spec: Mapping[str, Any], integral: bool) -> Check:
        low, high = spec.get("min"), spec.get("max")

        def check(value: object, path: str, failures: list[str]) -> None:
            ok = isinstance(value, int) if integral else isinstance(value, int | float)
            if not ok or isinstance(value, bool):
                raise _type_error(path, "an integer" if integral else "a number")
            number: float = value  # type: ignore[assignment]
            if low is not None and number < low:
                failures.append(
                    _failure(value, path, f"Member must have value greater than or equal to {low}")
                )
            if high is not None and number > high:
                failures.append(
                    _failure(value, path, f"Member must have value less than or equal to {high}")
                )

        return check

    def build_integer(self, spec: Mapping[str, Any]) -> Check:
        return self._number(spec, integral=True)

    def build_long(self, spec: Mapping[str, Any]) -> Check:
        return self._number(spec, integral=True)

    def build_double(self, spec: Mapping[str, Any]) -> Check:
        return self._number(spec, integral=False)

    def build_boolean(self, spec: Mapping[str, Any]) -> Check:
        def check(value: object, path: str, failures: list[str]) -> None:
            if not isinstance(value, bool):
                raise _type_error(path, "a boolean")

        return check


def _length(spec: Mapping[str, Any]) -> Callable[[object, int, str, list[str]], None]:
    low, high = spec.get("min"), spec.get("max")

    def check(value: object, size: int, path: str, failures: list[str]) -> None:
        if low is not None and size < low:
            failures.append(
                _failure(value, path, f"Member must have length greater than or equal to {low}")
            )
        if high is not None and size > high:
            failures.append(
                _failure(value, path, f"Member must have length less than or equal to {high}")
            )

    return check


def raise_failures(failures: list[str]) -> None:
    """InvalidParameterException in AWS's "N validation error(s) detected: ..." form."""
    if not failures:
        return
    noun = "error" if len(failures) == 1 else "errors"
    raise errors.InvalidParameterException(
        f"{len(failures)} validation {noun} detected: " + "; ".join(failures)
    )


class Validator:
    """Input validation for every operation of the model, compiled on first use."""

    def __init__(self, model: Mapping[str, Any] | None = None) -> None:
        self.model = model if model is not None else service_model()
        self.operations: Mapping[str, Any] = self.model["operations"]
        self._compiler = _Compiler(self.model["shapes"])
        self._checks: dict[tuple[str, frozenset[str]], Check] = {}

    def knows(self, operation: str) -> bool:
        return operation in self.operations

    def check_for(self, operation: str, skip: frozenset[str] = frozenset()) -> Check:
        """The input check of `operation`, leaving out members in `skip` (fast paths)."""
        key = (operation, skip)
        check = self._checks.get(key)
        if check is None:
            input_ref = self.operations[operation].get("input")
            if input_ref is None:
                check = self._checks[key] = lambda v, p, f: None
            else:
                spec = dict(self._compiler.shapes[input_ref["shape"]])
                spec["members"] = {
                    n: m for n, m in spec.get("members", {}).items() if n not in skip
                }
                check = self._checks[key] = self._compiler.build_structure(spec)
        return check

    def validate(self, operation: str, body: object, skip: frozenset[str] = frozenset()) -> None:
        failures: list[str] = []
        self.check_for(operation, skip)(body, "", failures)
        raise_failures(failures)
