"""CloudWatch's export layout, as pure functions: names, keys, lines and part boundaries.

Keys (subscriptions-and-export.md §10.1)::

    <prefix>/<taskId>/<logStreamName>/000000.gz     one object per stream part
    <prefix>/<taskId>.manifest.json                  logd's manifest, beside the folder
    aws-logs-write-test                              permission check, bucket root

Each object is gzip of UTF-8 lines ``<timestamp> <message>\\n``, the timestamp UTC
ISO-8601 with milliseconds and ``Z``, events sorted by (timestamp, sequence).  Keys depend
only on the task and the events, so a rerun writes the same objects under the same keys.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logd.errors import InvalidParameterException

WRITE_TEST_KEY = "aws-logs-write-test"
WRITE_TEST_BODY = b"Permission Check Successful"
MANIFEST_SUFFIX = ".manifest.json"

#: Width of the rendered timestamp plus its separating space: `2024-05-01T10:00:00.000Z `.
TIMESTAMP_WIDTH = 25

# S3's bucket naming rules (3-63 chars of a-z 0-9 . -, alphanumeric at both ends), which
# also keep a bucket name from naming a path outside an export root.
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4_RE = re.compile(r"\d+\.\d+\.\d+\.\d+")


def validate_bucket(name: str) -> str:
    if (
        not _BUCKET_RE.fullmatch(name)
        or ".." in name
        or _IPV4_RE.fullmatch(name)
        or name.startswith("xn--")
    ):
        raise InvalidParameterException(
            f"The given bucket name is not valid: {name!r}. Please make sure the bucket is valid."
        )
    return name


def normalize_prefix(prefix: str | None, default: str) -> str:
    """`destinationPrefix` with its outer `/` stripped; dot segments and NUL are refused.

    Raises InvalidParameterException: such a prefix could leave the export root, and the
    local and S3 layouts must be the same keys.
    """
    value = default if prefix is None else prefix
    value = value.strip("/")
    if not value:
        return ""
    if "\x00" in value or "\\" in value:
        raise InvalidParameterException("destinationPrefix must not contain NUL or '\\'.")
    for segment in value.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidParameterException(
                f"destinationPrefix {prefix!r} has an empty, '.' or '..' segment."
            )
    return value


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def stream_key_part(stream: str, slash: Literal["keep", "dash"]) -> str:
    """The stream's key levels. Segments that a file system would collapse or climb
    (empty, `.`, `..`) are percent-encoded so the local layout stays inside its folder."""
    name = stream.replace("/", "-") if slash == "dash" else stream
    segments = []
    for segment in name.split("/"):
        if segment in ("", ".", ".."):
            segment = "%2E" * len(segment) if segment else "%00"
        segments.append(segment)
    return "/".join(segments)


def object_key(
    prefix: str, task_id: str, stream: str, part: int, slash: Literal["keep", "dash"]
) -> str:
    return _join(prefix, task_id, stream_key_part(stream, slash), f"{part:06d}.gz")


def task_folder(prefix: str, task_id: str) -> str:
    return _join(prefix, task_id) + "/"


def manifest_key(prefix: str, task_id: str) -> str:
    return _join(prefix, task_id + MANIFEST_SUFFIX)


def iso_ms(ms: int) -> str:
    """One timestamp as the lines render it (without the space)."""
    when = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


# Lookup tables for rendering timestamps column-wise: numpy fancy indexing instead of a
# strftime per event (about 20 ns an event against 1 us for Arrow's strftime).
_ROW_FIELDS: dict[str, Any] = {
    "names": ["d", "t", "f"],
    "formats": ["S11", "S8", "S6"],
    "offsets": [0, 11, 19],
    "itemsize": TIMESTAMP_WIDTH,
}
_ROW = np.dtype(_ROW_FIELDS)  # type: ignore[call-overload]
_HMS = np.array(
    [b"%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(86_400)], "S8"
)
_FRAC = np.array([b".%03dZ " % i for i in range(1000)], "S6")
_EPOCH = dt.date(1970, 1, 1)


def render_timestamps(timestamps: np.ndarray) -> pa.StringArray:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ ` for each int64 ms value (fixed width, no copies)."""
    n = len(timestamps)
    out = np.empty(n, dtype=_ROW)
    if n:
        if int(timestamps.min()) < 0:
            raise ValueError("export timestamps must not be negative")
        days = timestamps // 86_400_000
        in_day = timestamps - days * 86_400_000
        seconds = in_day // 1000
        first, last = int(days.min()), int(days.max())
        if last - first < 4096:
            wanted, index = np.arange(first, last + 1), days - first
        else:  # a wide, sparse span: format only the days present
            wanted, index = np.unique(days, return_inverse=True)
        dates = np.array(
            [(_EPOCH + dt.timedelta(days=int(d))).strftime("%Y-%m-%dT").encode() for d in wanted],
            "S11",
        )
        out["d"] = dates[index]
        out["t"] = _HMS[seconds]
        out["f"] = _FRAC[in_day - seconds * 1000]
    offsets = np.arange(0, TIMESTAMP_WIDTH * (n + 1), TIMESTAMP_WIDTH, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def render_lines(timestamps: np.ndarray, messages: pa.StringArray) -> pa.Buffer:
    """The object text of events already in order: one `<timestamp> <message>\\n` each.

    Zero-copy out of Arrow: the joined string column's value buffer is the text.
    """
    if len(messages) == 0:
        return pa.py_buffer(b"")
    if messages.null_count:
        messages = messages.fill_null("")
    if pa.types.is_large_string(messages.type):  # a unit past 2 GiB; a member is small
        messages = messages.cast(pa.string())
    joined = pc.binary_join_element_wise(render_timestamps(timestamps), messages, "\n", "")
    buffers = joined.buffers()
    offsets = np.frombuffer(
        buffers[1], dtype=np.int32, count=len(joined) + 1, offset=joined.offset * 4
    )
    data: pa.Buffer = buffers[2]
    return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))


def line_bytes(messages: pa.StringArray) -> np.ndarray:
    """Rendered bytes of each event: timestamp, space, UTF-8 message, newline."""
    if messages.null_count:
        messages = messages.fill_null("")
    lengths = pc.binary_length(messages).to_numpy(zero_copy_only=False)
    sizes: np.ndarray = lengths.astype(np.int64) + (TIMESTAMP_WIDTH + 1)
    return sizes


def split_parts(sizes: np.ndarray, filled: int, limit: int) -> list[int]:
    """Where parts end, greedily: an event starts a new part when the current one would
    pass `limit` bytes (an event bigger than `limit` gets a part of its own).

    `filled` is what the open part already holds. Returns the indexes at which a new
    part starts; the grouping depends only on the event sequence, never on how it was
    chunked, so reruns and resumes cut at the same events.
    """
    cuts: list[int] = []
    total = np.cumsum(sizes)
    n = len(sizes)
    start, open_bytes = 0, filled
    while start < n:
        base = (int(total[start - 1]) if start else 0) - open_bytes
        end = int(np.searchsorted(total, base + limit, side="right"))
        if end == start:
            if open_bytes > 0:
                # The open part cannot take even this event: close it here.
                cuts.append(start)
                open_bytes = 0
                continue
            end = start + 1  # an event bigger than a part travels alone
        if end >= n:
            break
        cuts.append(end)
        start, open_bytes = end, 0
    return cuts
