"""The Arrow schema every read path yields (docs/internals.md "Event columns")."""

from __future__ import annotations

import pyarrow as pa

#: Columns of every event batch a scan returns, in this order.
EVENT_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("group", pa.string()),
        pa.field("stream", pa.string()),
        pa.field("timestamp", pa.int64()),
        pa.field("ingestion_time", pa.int64()),
        pa.field("seq", pa.int64()),
        pa.field("message", pa.string()),
    ]
)

#: Columns a segment file holds before its discovered `f.<path>` columns. The group is
#: the Hive partition (`group=<id>`), so the file itself does not repeat it.
SEGMENT_BASE_SCHEMA: pa.Schema = pa.schema(
    [
        EVENT_SCHEMA.field(name)
        for name in ("stream", "timestamp", "ingestion_time", "seq", "message")
    ]
)

#: Prefix of discovered JSON field columns in segments.
FIELD_PREFIX = "f."

BASE_COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)
