"""TOML → `Settings`, gathered from each component's options dataclass.

A section is one field of `Settings` whose type is a frozen options dataclass; adding a
component's configuration is adding one line there. Loading is strict and reports every
problem at once, each with its key path and line (`api.keys[1].actions, line 14`):
unknown keys (listing the allowed ones), wrong types, bad values (Literal members,
`validate()` of each options class) and ``${VAR}`` references to unset variables.
Secrets never pass through here as values: options name an environment variable or a
file, and `check` only says whether it can be read.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import inspect
import itertools
import os
import re
import textwrap
import tomllib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from logd.api.auth import resolve_secrets
from logd.api.options import ApiOptions
from logd.export.options import ExportOptions
from logd.queries.options import QueryOptions
from logd.store.options import StoreOptions
from logd.subscriptions.options import SubscriptionOptions
from logd.tail.discovery import excluded, static_prefix
from logd.tail.options import AgentOptions, AgentSettings, TailOptions
from logd.telemetry.options import TelemetryOptions


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonOptions:
    """The daemon process itself."""

    reloadable: ClassVar[frozenset[str]] = frozenset()

    data_dir: str = "./data"
    """Directory holding the WAL, segments and catalog (relative to the working directory)."""
    shutdown_timeout_ms: int = 10_000
    """On SIGTERM, how long in-flight requests may take before logd exits anyway."""

    def validate(self) -> None:
        if not self.data_dir:
            raise ValueError("data_dir must not be empty")
        if self.shutdown_timeout_ms < 0:
            raise ValueError("shutdown_timeout_ms must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The whole configuration: one field per section, in file order."""

    daemon: DaemonOptions = field(default_factory=DaemonOptions)
    api: ApiOptions = field(default_factory=ApiOptions)
    store: StoreOptions = field(default_factory=StoreOptions)
    export: ExportOptions = field(default_factory=ExportOptions)
    queries: QueryOptions = field(default_factory=QueryOptions)
    telemetry: TelemetryOptions = field(default_factory=TelemetryOptions)
    subscriptions: SubscriptionOptions = field(default_factory=SubscriptionOptions)
    sinks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """`[sinks.<name>]`: one table per destination; `type` picks the sink, the other keys
    are that sink's options (checked by `logd.subscriptions.sinkconfig`)."""
    agent: AgentSettings = field(default_factory=AgentSettings)
    tail: tuple[TailOptions, ...] = ()
    """Files the daemon tails into its store: one `[[tail]]` table per entry."""

    def validate(self) -> None:
        self.agent_options().validate()

    def agent_options(self) -> AgentOptions:
        """The `[agent]` table with the `[[tail]]` entries, as the tail agent takes them."""
        return AgentOptions.of(self.agent, self.tail)


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration error: where it is and what is wrong."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}, line {self.line}" if self.line else (self.path or "(file)")
        return f"{where}: {self.message}"


class SettingsError(Exception):
    """The configuration has one or more problems; `problems` lists them all."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(str(p) for p in problems))


# ---------------------------------------------------------------------------- lines


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(
    r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*="""
)


def _split_key(text: str) -> list[str]:
    return [
        part.strip().strip("\"'")
        for part in re.findall(r"""[^."']+|"[^"]*"|'[^']*'""", text)
        if part.strip()
    ]


def locate_lines(text: str) -> dict[str, int]:
    """Key path (``api.keys[0].actions``) → 1-based line where it is written."""
    lines: dict[str, int] = {}
    counters: dict[str, int] = {}
    prefix = ""
    depth = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if '"' not in raw and "'" not in raw else raw
        if depth > 0:
            depth += line.count("[") - line.count("]")
            continue
        header = _HEADER.match(line)
        if header and not _KEY.match(line):
            parts = _split_key(header.group(2))
            base = ".".join(parts)
            if header.group(1) == "[[":
                index = counters.get(base, -1) + 1
                counters[base] = index
                prefix = f"{base}[{index}]"
            else:
                prefix = _with_indices(base, counters)
            lines.setdefault(prefix, number)
            continue
        key = _KEY.match(line)
        if key:
            path = ".".join([p for p in [prefix, *_split_key(key.group(1))] if p])
            lines.setdefault(path, number)
            rest = line[key.end() :]
            depth = max(rest.count("[") - rest.count("]"), 0)
    return lines


def _with_indices(base: str, counters: Mapping[str, int]) -> str:
    for array, index in counters.items():
        if base.startswith(array + "."):
            return f"{array}[{index}]{base[len(array) :]}"
    return base


def _line_of(lines: Mapping[str, int], path: str) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = re.sub(r"(\[\d+\]|\.[^.\[]*)$", "", path) if ("." in path or "[" in path) else ""
    return None


# --------------------------------------------------------------------- conversion

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: "key.path: message", as options classes word a problem with one of their keys
_KEYED = re.compile(r"^([A-Za-z_][\w\-]*(?:\[\d+\]|\.[A-Za-z_][\w\-]*)*): (.+)$", re.DOTALL)


class _Builder:
    def __init__(self, lines: Mapping[str, int], env: Mapping[str, str]) -> None:
        self.lines = lines
        self.env = env
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, _line_of(self.lines, path), message))

    def build(self, cls: type[Any], data: object, path: str) -> Any:
        if not isinstance(data, dict):
            self.problem(path, f"expected a table, got {_describe(data)}")
            return cls()
        hints = get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        before = len(self.problems)
        for key in data:
            if key not in fields:
                allowed = ", ".join(sorted(fields)) or "(none)"
                where = f"[{path}]" if path else "the top level"
                self.problem(
                    _join(path, key), f"unknown key {key!r} in {where}; allowed: {allowed}"
                )
        values: dict[str, Any] = {}
        for name in fields:
            if name in data:
                ok, value = self.convert(hints[name], data[name], _join(path, name))
                if ok:
                    values[name] = value
        try:
            options = cls(**values)
        except (TypeError, ValueError) as exc:
            self.problem(path, str(exc))
            return cls()
        validate = getattr(options, "validate", None)
        params = inspect.signature(validate).parameters if callable(validate) else {}
        if validate is not None and len(self.problems) == before:
            try:
                if not params:
                    validate()
                elif "where" in params:  # `[[tail]]` entries name their own keys
                    validate(where=path)
            except ValueError as exc:
                self.invalid(path, str(exc))
        return options

    def invalid(self, path: str, message: str) -> None:
        """A `validate()` failure; one naming a key below `path` ("tail[0].timezone: ...")
        is reported at that key, so it gets that key's line."""
        keyed = _KEYED.match(message)
        if keyed is not None and (not path or keyed.group(1).startswith((path + ".", path + "["))):
            self.problem(keyed.group(1), keyed.group(2))
        else:
            self.problem(path, message)

    def convert(self, hint: Any, value: object, path: str) -> tuple[bool, Any]:
        if hint is Any:  # a table another component checks (a sink's options)
            return True, value
        origin = get_origin(hint)
        if origin in (Union, types.UnionType):
            options = [a for a in get_args(hint) if a is not type(None)]
            return self.convert(options[0], value, path)
        if origin is Literal:
            allowed = get_args(hint)
            value = self.expand(value, path)
            if value in allowed and type(value) is type(allowed[0]):
                return True, value
            listed = ", ".join(repr(a) for a in allowed)
            self.problem(path, f"{value!r} is not one of {listed}")
            return False, None
        if origin is tuple:
            item = get_args(hint)[0]
            if not isinstance(value, list):
                self.problem(path, f"expected an array, got {_describe(value)}")
                return False, None
            results = [self.convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
            if all(ok for ok, _ in results):
                return True, tuple(v for _, v in results)
            return False, None
        if origin is Mapping:
            item = get_args(hint)[1]
            if not isinstance(value, dict):
                self.problem(path, f"expected a table, got {_describe(value)}")
                return False, None
            entries = {k: self.convert(item, v, _join(path, k)) for k, v in value.items()}
            if all(ok for ok, _ in entries.values()):
                return True, {k: v for k, (_, v) in entries.items()}
            return False, None
        if dataclasses.is_dataclass(hint):
            return True, self.build(hint, value, path)  # type: ignore[arg-type]
        return self.scalar(hint, value, path)

    def scalar(self, hint: Any, value: object, path: str) -> tuple[bool, Any]:
        if hint is bool:
            if isinstance(value, bool):
                return True, value
        elif hint is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return True, value
        elif hint is float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return True, float(value)
        elif hint is str and isinstance(value, str):
            return True, self.expand(value, path)
        self.problem(path, f"expected {_type_name(hint)}, got {_describe(value)}")
        return False, None

    def expand(self, value: object, path: str) -> object:
        if not isinstance(value, str):
            return value

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.env:
                self.problem(path, f"environment variable {name} is not set")
                return ""
            return self.env[name]

        return _ENV_REF.sub(replace, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _type_name(hint: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        hint, str(hint)
    )


def _describe(value: object) -> str:
    kinds = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    kind = kinds.get(type(value), "table" if isinstance(value, dict) else type(value).__name__)
    return f"{kind} {value!r}" if not isinstance(value, dict | list) else kind


# -------------------------------------------------------------------------- load


def parse(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    source: str = "",
) -> Settings:
    """Build `Settings` from TOML text; `SettingsError` lists every problem found."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise SettingsError([Problem("", line, f"not valid TOML: {exc}")], source) from exc
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    builder = _Builder(locate_lines(text), env or {})
    settings: Settings = builder.build(Settings, data, "")
    if settings.sinks:  # checked even when other sections have problems: list them all
        from logd.subscriptions.sinkconfig import parse_entries
        from sinks import SinkOptionsError

        try:
            parse_entries(settings.sinks)
        except SinkOptionsError as exc:
            for where, what in exc.problems:
                builder.problem(where, what)
    if builder.problems:
        raise SettingsError(builder.problems, source)
    return settings


def load(
    path: Path,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError([Problem("", None, f"cannot read {path}: {exc}")], str(path)) from exc
    return parse(text, env=env, overrides=overrides, source=str(path))


def check(path: Path, *, env: Mapping[str, str]) -> list[Problem]:
    """Everything `logd check-config` reports: load problems, then unreadable secrets."""
    try:
        settings = load(path, env=env)
    except SettingsError as exc:
        return exc.problems
    if settings.api.auth != "sigv4":
        return []
    lines = locate_lines(path.read_text(encoding="utf-8"))
    _, missing = resolve_secrets(settings.api.keys, env)
    return [Problem(p, _line_of(lines, p), message) for p, message in missing]


#: Files the daemon keeps in its data directory, as a glob would meet them.
_DATA_FILES = (
    "catalog.sqlite",
    "wal/0000000000000001.wal",
    "segments/group=1/day=2026-01-01/00000000000000000001-00000000000000000002-2.parquet",
    "export-tasks.sqlite",
)


def self_tailing(settings: Settings, *, text: str = "") -> list[Problem]:
    """Warnings for `[[tail]]` globs that match files in the data directory: the daemon
    would ingest its own WAL and segments, which grow with every event it stores."""
    data_dir = os.path.abspath(settings.daemon.data_dir)
    names = [os.path.join(data_dir, name) for name in _DATA_FILES]
    lines = locate_lines(text)
    found: list[Problem] = []
    for i, tail in enumerate(settings.tail):
        for j, pattern in enumerate(tail.paths):
            glob_pattern = os.path.abspath(pattern)
            hits = [
                n
                for n in names
                if _glob_matches(glob_pattern.split(os.sep), n.split(os.sep))
                and not excluded(n, tail.exclude)
            ]
            if hits or _inside(static_prefix(glob_pattern), data_dir):
                path = f"tail[{i}].paths[{j}]"
                found.append(
                    Problem(
                        path,
                        _line_of(lines, path),
                        f"{pattern!r} matches files in the data directory {data_dir}: "
                        "logd would tail its own storage",
                    )
                )
    return found


def _glob_matches(pattern: list[str], parts: list[str]) -> bool:
    """`glob.glob(recursive=True)` semantics on path components: `**` spans any number."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_glob_matches(pattern[1:], parts[k:]) for k in range(len(parts) + 1))
    return (
        bool(parts)
        and fnmatch.fnmatchcase(parts[0], pattern[0])
        and (_glob_matches(pattern[1:], parts[1:]))
    )


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def changed_keys(old: Settings, new: Settings) -> dict[str, bool]:
    """``section.key`` → whether it can be applied without a restart, for keys that differ."""
    result: dict[str, bool] = {}
    for section in dataclasses.fields(Settings):
        before, after = getattr(old, section.name), getattr(new, section.name)
        if not dataclasses.is_dataclass(after):  # `[[tail]]`, `[sinks.*]`: a restart
            if before != after:
                result[section.name] = False
            continue
        reloadable: frozenset[str] = getattr(type(after), "reloadable", frozenset())
        for option in dataclasses.fields(after):
            if getattr(before, option.name) != getattr(after, option.name):
                result[f"{section.name}.{option.name}"] = option.name in reloadable
    return result


# ------------------------------------------------------------- documentation


def field_docs(cls: type[Any]) -> dict[str, str]:
    """Attribute docstrings (the string literal under each field) of an options class."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def sections() -> dict[str, type[Any]]:
    """`[name]` tables: the options class of each."""
    hints = get_type_hints(Settings)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(Settings)
        if dataclasses.is_dataclass(hints[f.name])
    }


def repeated_sections() -> dict[str, type[Any]]:
    """`[[name]]` arrays of tables at the top level: the options class of an entry."""
    hints = get_type_hints(Settings)
    found = {f.name: _table_item(hints[f.name]) for f in dataclasses.fields(Settings)}
    return {name: item for name, item in found.items() if item is not None}


def _schema_of(hint: Any, default: object, doc: str | None) -> dict[str, Any]:
    origin = get_origin(hint)
    schema: dict[str, Any]
    if origin in (Union, types.UnionType):
        inner = next(a for a in get_args(hint) if a is not type(None))
        schema = _schema_of(inner, default, doc)
        return schema
    if origin is Literal:
        schema = {"enum": list(get_args(hint))}
    elif origin is tuple:
        schema = {"type": "array", "items": _schema_of(get_args(hint)[0], None, None)}
    elif origin is Mapping:
        item = _schema_of(get_args(hint)[1], None, None)
        schema = {"type": "object", "additionalProperties": item}
    elif dataclasses.is_dataclass(hint):
        schema = _object_schema(hint)  # type: ignore[arg-type]
    elif hint is Any:  # a sink's options: its own keys
        schema = {"type": "object"}
    else:
        names = {bool: "boolean", int: "integer", float: "number", str: "string"}
        schema = {"type": names[hint]}
    if doc:
        schema = {"description": doc, **schema}
    if default is not None and not dataclasses.is_dataclass(default) and default != {}:
        schema["default"] = list(default) if isinstance(default, tuple) else default
    return schema


def _object_schema(cls: type[Any]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    docs = field_docs(cls)
    instance = cls()
    properties = {
        f.name: _schema_of(hints[f.name], getattr(instance, f.name), docs.get(f.name))
        for f in dataclasses.fields(cls)
    }
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False}
    if cls.__doc__:
        schema["description"] = " ".join(cls.__doc__.split())
    schema["properties"] = properties
    return schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config file (config/schema.json), from the options classes."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://logd.dev/schema/logd.toml.json",
        "title": "logd configuration (logd.toml)",
        **_object_schema(Settings),
    }


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value) if not isinstance(value, int) else f"{value:_}".replace("_", "_")


def example_toml() -> str:
    """config/logd.example.toml: every key with its default and documentation."""
    out = [
        "# logd configuration: every key, with its default. Generated from the options",
        "# dataclasses (logd/settings.py gathers them); `logd check-config FILE` validates.",
        "# Strings may reference environment variables as ${NAME} (unset is an error).",
    ]
    for name, cls in sections().items():
        out += ["", f"# {' '.join((cls.__doc__ or '').split())}", f"[{name}]"]
        hints, docs, instance = get_type_hints(cls), field_docs(cls), cls()
        tables: list[tuple[str, type[Any], bool]] = []
        for option in dataclasses.fields(cls):
            hint = hints[option.name]
            item = _table_item(hint)
            if item is not None:
                tables.append((option.name, item, get_origin(hint) is tuple))
                continue
            out += [f"# {line}" for line in textwrap.wrap(docs.get(option.name, ""), 86)]
            out.append(f"{option.name} = {_toml_value(getattr(instance, option.name))}")
        for table, item_cls, repeated in tables:
            out += [""] + [f"# {line}" for line in textwrap.wrap(docs.get(table, ""), 86)]
            if repeated:
                out += ["# Repeat the table for each entry:", f"# [[{name}.{table}]]"]
            else:
                out += ["# One table per entry, named by its key:", f"# [{name}.{table}.NAME]"]
            item_docs, item_instance = field_docs(item_cls), item_cls()
            for option in dataclasses.fields(item_cls):
                out += [f"#   {line}" for line in textwrap.wrap(item_docs.get(option.name, ""), 84)]
                out.append(f"# {option.name} = {_toml_value(getattr(item_instance, option.name))}")
    for name, item_cls in repeated_sections().items():
        out += ["", f"# {' '.join((item_cls.__doc__ or '').split())}"]
        out += ["# Repeat the table for each entry:", f"# [[{name}]]"]
        item_docs, item_instance = field_docs(item_cls), item_cls()
        for option in dataclasses.fields(item_cls):
            out += [f"#   {line}" for line in textwrap.wrap(item_docs.get(option.name, ""), 84)]
            out.append(f"# {option.name} = {_toml_value(getattr(item_instance, option.name))}")
    return "\n".join(out) + "\n"


def _table_item(hint: Any) -> type[Any] | None:
    """The options class of a `tuple[X, ...]` or `Mapping[str, X]` field, else None."""
    origin = get_origin(hint)
    args = get_args(hint)
    item = args[0] if origin is tuple else args[1] if origin is Mapping else None
    return item if item is not None and dataclasses.is_dataclass(item) else None  # type: ignore[return-value]


def _type_text(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if origin is Literal:
        return " \\| ".join(f"`{_toml_value(a)}`" for a in args)
    if origin is tuple:
        return f"array of {_type_text(args[0])}"
    if origin is Mapping:
        return f"table of {_type_text(args[1])}"
    if dataclasses.is_dataclass(hint):
        return "table"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(hint, "null")


def _key_rows(cls: type[Any], reloadable: frozenset[str]) -> list[str]:
    hints, docs, instance = get_type_hints(cls), field_docs(cls), cls()
    rows = ["| key | type | default | on SIGHUP | meaning |", "|---|---|---|---|---|"]
    for option in dataclasses.fields(cls):
        hint = hints[option.name]
        default = getattr(instance, option.name)
        shown = "" if _table_item(hint) else f"`{_toml_value(default)}`"
        reload = "applied" if option.name in reloadable else "restart"
        doc = docs.get(option.name, "").replace("|", "\\|")
        rows.append(f"| `{option.name}` | {_type_text(hint)} | {shown} | {reload} | {doc} |")
    return rows


def _prose(doc: str | None) -> list[str]:
    """A docstring as Markdown: paragraphs joined, a ``::`` block fenced as code."""
    out: list[str] = []
    literal = False
    for paragraph in inspect.cleandoc(doc or "").split("\n\n"):
        if literal:
            out += ["```", textwrap.dedent(paragraph).strip("\n"), "```", ""]
            literal = False
            continue
        text = " ".join(paragraph.split())
        literal = text.endswith("::")
        out += [text[:-1] if literal else text, ""]
    return out


def reference_markdown() -> str:
    """docs/configuration.md: every section and key, from the options classes."""
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated from the options dataclasses by `python3 -m logd check-config",
        "--markdown`; a test keeps this file in step with them. Do not edit by hand. -->",
        "",
        "logd reads one TOML file: `logd serve --config FILE`. Without `--config` every key",
        "has the default below (data in `./data`, the API on `127.0.0.1:4586`, no",
        "authentication). `--data-dir DIR` and `--listen HOST:PORT` override",
        "`daemon.data_dir` and `api.listen`. Loading is strict: an unknown key, a wrong type",
        "or a bad value is an error naming its key path and line (`api.keys[1].actions,",
        "line 14`), and every problem is reported at once; `logd check-config FILE` runs the",
        "same checks, and also says whether each secret can be read. A string may name an",
        "environment variable as `${NAME}` (unset is an error). Secrets are never values in",
        "the file: a key names an environment variable or a file that holds the secret.",
        "",
        "On SIGHUP the file is read and checked again. When it is invalid the problems are",
        "logged and the running configuration stays. Otherwise keys marked *applied* take",
        "effect at once; a change to a key marked *restart* is logged and waits for the",
        "next start. `config/logd.example.toml` lists every key with its default;",
        "`config/schema.json` is the JSON Schema of the file.",
    ]
    for name, cls in sections().items():
        reloadable: frozenset[str] = getattr(cls, "reloadable", frozenset())
        out += ["", f"## `[{name}]`", "", *_prose(cls.__doc__)]
        out += _key_rows(cls, reloadable)
        hints, docs = get_type_hints(cls), field_docs(cls)
        for option in dataclasses.fields(cls):
            item = _table_item(hints[option.name])
            if item is None:
                continue
            repeated = get_origin(hints[option.name]) is tuple
            header = f"[[{name}.{option.name}]]" if repeated else f"[{name}.{option.name}.NAME]"
            how = "one table per entry" if repeated else "one table per name"
            out += ["", f"### `{header}`", "", f"{docs.get(option.name, '')} ({how})", ""]
            every = frozenset(f.name for f in dataclasses.fields(item))
            out += _key_rows(item, every if option.name in reloadable else frozenset())
    for name, item_cls in repeated_sections().items():
        out += ["", f"## `[[{name}]]`", "", *_prose(item_cls.__doc__), "One table per entry.", ""]
        out += _key_rows(item_cls, frozenset())
    return "\n".join(out) + "\n"
