"""Finding sinks by type name: the `logd.sinks` entry-point group, loaded lazily.

`names()` lists every sink type from installed distributions' metadata without
importing any of them. `load(name)` imports exactly one and validates it: a subclass of
`sinks.Sink`, not abstract, written for this contract version, with an `options_class`
that is a `SinkOptions` dataclass. A bad plugin is refused with a `SinkPluginError`
naming the entry point and its distribution (pluggy's `PluginValidationError`).

The built-ins (`kafka`, `file`, `webhook`) go through the same door (datasette): they are
listed in `BUILTINS` in entry-point syntax and validated like any plugin. The dict
exists because entry points only resolve for an installed distribution, and logd also
runs from a source tree; when logd is installed, its own entry points name the same
objects and are merged. A third-party distribution that claims a built-in name with a
different object is refused, never silently preferred.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from sinks.base import SINK_API_VERSION, Sink, SinkContext, SinkOptions, SinkPluginError

GROUP = "logd.sinks"

#: The built-in sinks, in entry-point syntax, as `pyproject.toml` declares them.
BUILTINS: dict[str, str] = {
    "file": "sinks.file:FileSink",
    "kafka": "sinks.kafka:KafkaSink",
    "webhook": "sinks.webhook:WebhookSink",
}

_BUILTIN_DIST = "logd (built-in)"


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return _BUILTIN_DIST
    return f"{dist.metadata['Name']} {dist.version}"


def _candidates() -> dict[str, list[EntryPoint]]:
    found: dict[str, list[EntryPoint]] = {
        name: [EntryPoint(name=name, value=value, group=GROUP)] for name, value in BUILTINS.items()
    }
    for ep in entry_points(group=GROUP):
        same = found.setdefault(ep.name, [])
        if any(other.value == ep.value for other in same):
            continue  # logd itself, installed: the same object as the built-in
        same.append(ep)
    return found


def names() -> list[str]:
    """Every sink type name, built-in and installed, sorted; imports nothing."""
    return sorted(_candidates())


def describe(ep: EntryPoint) -> str:
    """`'name = module:attr' from <distribution>`, for messages."""
    return f"entry point '{ep.name} = {ep.value}' from {_distribution(ep)}"


def entry_point(name: str) -> EntryPoint:
    """The one entry point for sink type `name`; SinkPluginError if none or ambiguous."""
    candidates = _candidates()
    found = candidates.get(name)
    if not found:
        known = ", ".join(sorted(candidates)) or "none"
        raise SinkPluginError(
            f"no sink type {name!r} in entry point group {GROUP!r}; known types: {known}"
            " (is the plugin's distribution installed in this environment?)"
        )
    if len(found) > 1:
        claims = "; ".join(describe(ep) for ep in found)
        raise SinkPluginError(f"sink type {name!r} is claimed more than once: {claims}")
    return found[0]


def load(name: str) -> type[Sink[Any]]:
    """Import the sink class registered as `name` and validate it."""
    ep = entry_point(name)
    where = describe(ep)
    try:
        obj = ep.load()
    except Exception as exc:  # any import-time failure of foreign code
        raise SinkPluginError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    return validate(obj, where)


def validate(obj: object, where: str) -> type[Sink[Any]]:
    """`obj` if it is a usable sink class, else SinkPluginError naming `where`."""
    if not (isinstance(obj, type) and issubclass(obj, Sink)):
        raise SinkPluginError(
            f"{where} is not a sink: expected a subclass of sinks.Sink, got {obj!r}"
        )
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise SinkPluginError(f"{where} is abstract: it does not implement {missing}")
    version = getattr(obj, "api_version", None)
    if version != SINK_API_VERSION:
        raise SinkPluginError(
            f"{where} was written for sink API version {version!r}; "
            f"this logd supports version {SINK_API_VERSION}"
        )
    options_class = getattr(obj, "options_class", None)
    if not (
        isinstance(options_class, type)
        and issubclass(options_class, SinkOptions)
        and dataclasses.is_dataclass(options_class)
    ):
        raise SinkPluginError(
            f"{where}: {obj.__qualname__}.options_class must be a SinkOptions dataclass, "
            f"got {options_class!r}"
        )
    return obj


def parse_options(name: str, data: Mapping[str, object], *, path: str = "") -> SinkOptions:
    """Load sink type `name` and parse its options table (SinkOptionsError on problems)."""
    return load(name).options_class.from_dict(data, path=path)


def create(
    name: str, data: Mapping[str, object], context: SinkContext, *, path: str = ""
) -> Sink[Any]:
    """An unstarted sink of type `name`, configured from `data`."""
    cls = load(name)
    return cls(cls.options_class.from_dict(data, path=path), context)
