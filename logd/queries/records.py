"""GetLogRecord (one event by its `@ptr`) and GetLogGroupFields (fields in recent events).

Both read through `Store.scan`; JSON messages are flattened the way Insights discovers
fields (docs/query-guide.md "Fields"): nested keys joined by `.`, array items by index,
null and empty members left out, a leading `@` doubled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.compute as pc

from logd import errors
from logd.model import Scope
from logd.store.store import Store
from query import decode_ptr

FIELDS_WINDOW_MS = 15 * 60 * 1000
FIELDS_SAMPLE = 10_000
SYSTEM_FIELDS = ("@timestamp", "@message", "@logStream", "@log", "@ingestionTime")


def _printed(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(field, printed value) for each leaf of a parsed JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            key = f"@{key}" if not prefix and key.startswith("@") else key
            yield from flatten(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from flatten(item, f"{prefix}{i}.")
    elif value is not None:
        yield prefix[:-1], _printed(value)


def json_fields(message: str) -> list[tuple[str, str]]:
    if not message.lstrip().startswith("{"):
        return []
    try:
        parsed = orjson.loads(message)
    except orjson.JSONDecodeError:
        return []
    return list(flatten(parsed)) if isinstance(parsed, dict) else []


def get_log_record(store: Store, scope: Scope, ptr: str) -> dict[str, str]:
    """Blocking: every field of the event `ptr` points at."""
    try:
        group, seq = decode_ptr(ptr)
    except ValueError:
        raise errors.InvalidParameterException(
            "The specified logRecordPointer is invalid."
        ) from None
    if store.catalog.get_group(group) is None:
        raise errors.ResourceNotFoundException("The specified log group does not exist.")
    for batch in store.scan([group], 0, 2**62, predicate=pc.field("seq") == seq):
        for row in batch.to_pylist():
            record = {
                "@timestamp": str(row["timestamp"]),
                "@message": row["message"],
                "@logStream": row["stream"],
                "@log": f"{scope.account}:{group}",
                "@ingestionTime": str(row["ingestion_time"]),
            }
            for name, value in json_fields(row["message"]):
                record.setdefault(name, value)
            record["@ptr"] = ptr
            return record
    raise errors.ResourceNotFoundException("The log record does not exist (expired or deleted).")


def log_group_fields(store: Store, group: str, time_ms: int) -> list[dict[str, object]]:
    """Blocking: fields of the group's events in the 15 minutes before `time_ms`, with the
    percentage of sampled events that have each."""
    if store.catalog.get_group(group) is None:
        raise errors.ResourceNotFoundException("The specified log group does not exist.")
    counts: Counter[str] = Counter()
    seen = 0
    for batch in store.scan([group], time_ms - FIELDS_WINDOW_MS, time_ms + 1, columns=["message"]):
        for message in batch.column("message").to_pylist():
            if seen >= FIELDS_SAMPLE:
                break
            seen += 1
            counts.update({name for name, _ in json_fields(message)})
    if not seen:
        return []
    out: list[dict[str, object]] = [{"name": f, "percent": 100} for f in SYSTEM_FIELDS]
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        out.append({"name": name, "percent": round(100 * n / seen)})
    return out
