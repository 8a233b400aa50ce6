"""JSON field discovery for segments: dotted paths, a cap, one type per column.

`discover` looks at a sample of messages (JSON objects only), flattens nested objects
to dotted paths up to a depth, keeps the most frequent paths up to the cap and gives
each one type: bigint, double (ints and floats mixed), boolean, or varchar (strings,
arrays, deeper objects, and any mix of types). `extract_sql` is the DuckDB select list
that fills the `f.<path>` columns in one JSON parse per message.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import orjson
import pyarrow as pa

from logd.store.schema import FIELD_PREFIX

FieldTypes = dict[str, str]  # dotted path -> "bigint" | "double" | "boolean" | "varchar"
_KEY = re.compile(r"[^\x00-\x1f\"\\.]{1,128}")
_ARROW = {"bigint": pa.int64(), "double": pa.float64(), "boolean": pa.bool_()}
_INT64 = (-(2**63), 2**63 - 1)


def arrow_type(kind: str) -> pa.DataType:
    return _ARROW.get(kind, pa.string())


def _kind(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint" if _INT64[0] <= value <= _INT64[1] else "varchar"
    if isinstance(value, float):
        return "double"
    return "varchar"


def merge_kinds(a: str, b: str) -> str:
    if a == b:
        return a
    if {a, b} == {"bigint", "double"}:
        return "double"
    return "varchar"


def _flatten(obj: dict[str, object], max_depth: int, out: list[tuple[str, str]]) -> None:
    stack: list[tuple[str, dict[str, object], int]] = [("", obj, 1)]
    while stack and len(out) < 1000:
        prefix, node, depth = stack.pop()
        for key, value in node.items():
            if _KEY.fullmatch(key) is None:
                continue
            path = prefix + key
            if isinstance(value, dict):
                if depth < max_depth:
                    stack.append((path + ".", value, depth + 1))
                else:
                    out.append((path, "varchar"))
                continue
            kind = _kind(value)
            if kind is not None:
                out.append((path, kind))


def discover(messages: list[str], *, max_fields: int, max_depth: int) -> FieldTypes:
    """Typed dotted paths found in the JSON-object messages among `messages`."""
    if max_fields <= 0:
        return {}
    counts: Counter[str] = Counter()
    kinds: dict[str, str] = {}
    for message in messages:
        if not message.startswith("{") or len(message) > 1 << 20:
            continue
        try:
            obj = orjson.loads(message)
        except orjson.JSONDecodeError:  # also raised past orjson's nesting limit
            continue
        if not isinstance(obj, dict):
            continue
        found: list[tuple[str, str]] = []
        _flatten(obj, max_depth, found)
        for path, kind in found:
            counts[path] += 1
            kinds[path] = merge_kinds(kinds[path], kind) if path in kinds else kind
    chosen: list[str] = []
    taken: set[str] = set()  # lower-cased: DuckDB names are case-insensitive
    for path, _ in counts.most_common():
        if len(chosen) == max_fields:
            break
        if _conflicts(path.lower(), taken):
            continue
        chosen.append(path)
        taken.add(path.lower())
    return {path: kinds[path] for path in sorted(chosen)}


def _conflicts(path: str, taken: set[str]) -> bool:
    """`path` equals a chosen path, or one is a leaf the other nests under."""
    if path in taken:
        return True
    parts = path.split(".")
    if any(".".join(parts[:i]) in taken for i in range(1, len(parts))):
        return True
    return any(t.startswith(path + ".") for t in taken)


def sample_messages(table: pa.Table, n: int) -> list[str]:
    """Up to `n` evenly spaced messages (indexing, not `take`: a take over a chunked
    column would first concatenate all of it)."""
    column = table.column("message")
    step = max(1, table.num_rows // n)
    picked = (column[i].as_py() for i in range(0, table.num_rows, step)[:n])
    return [m for m in picked if m is not None]


def json_path(path: str) -> str:
    return "$." + ".".join(f'"{key}"' for key in path.split("."))


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_DUCK = {"bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN", "varchar": "VARCHAR"}


def duckdb_type(kind: str) -> str:
    return _DUCK.get(kind, "VARCHAR")


def transform_sql(fields: FieldTypes, *, message: str = "message") -> tuple[str, list[str]]:
    """(inner select item: the struct `__j` from one JSON parse per message, outer select
    items for the `f.` columns). `discover` guarantees the paths form a tree."""
    tree: dict[str, object] = {}
    for path, kind in fields.items():
        node = tree
        *parents, leaf = path.split(".")
        for key in parents:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ValueError(f"field {path!r} nests under a leaf field")
            node = child
        node[leaf] = duckdb_type(kind)
    spec = sql_string(json.dumps(tree))
    # TRY: a message that is not valid JSON gets NULLs, in the same single parse (a
    # `json_valid` guard would parse every message twice).
    inner = (
        f"CASE WHEN starts_with({message}, '{{') "
        f"THEN TRY(json_transform({message}, {spec})) END AS __j"
    )
    outer = [
        "__j."
        + ".".join(sql_ident(k) for k in path.split("."))
        + f" AS {sql_ident(FIELD_PREFIX + path)}"
        for path in fields
    ]
    return inner, outer


def extract_one_sql(path: str, kind: str, *, message: str = "message") -> str:
    """One `f.` column computed from the message (lazily, for unsealed events)."""
    value = f"json_extract_string({message}, {sql_string(json_path(path))})"
    if kind != "varchar":
        value = f"TRY_CAST({value} AS {duckdb_type(kind)})"
    return f"CASE WHEN starts_with({message}, '{{') AND json_valid({message}) THEN {value} END"


def extract_sql(fields: FieldTypes, *, message: str = "message") -> tuple[str, list[str]]:
    """(inner select item producing the list `__v`, outer select items for `f.` columns)."""
    if not fields:
        return "", []
    paths = "[" + ", ".join(sql_string(json_path(p)) for p in fields) + "]"
    inner = (
        f"CASE WHEN starts_with({message}, '{{') AND json_valid({message}) "
        f"THEN json_extract_string({message}, {paths}) END AS __v"
    )
    outer = []
    for i, (path, kind) in enumerate(fields.items(), start=1):
        value = f"__v[{i}]"
        if kind != "varchar":
            value = f"TRY_CAST({value} AS {kind.upper()})"
        outer.append(f"{value} AS {sql_ident(FIELD_PREFIX + path)}")
    return inner, outer
