"""The store's log payload: one accepted append batch, columnar.

Layout (little endian), version 1::

    u8   version (1)            u8   flags (bit 0: checkpoint present)
    u16  group name bytes G     u16  stream name bytes S
    u32  event count n          i64  group id (catalog)
    i64  ingestion time (ms)    i64  first sequence number
    G bytes group name (UTF-8), S bytes stream name (UTF-8), zero padding to 8 bytes
    n x i64 timestamps
    (n+1) x i32 message offsets (start at 0; Arrow string offsets)
    message bytes (UTF-8, concatenated)
    if checkpoint: u16 key bytes K, K bytes key (UTF-8), u32 state bytes L, L bytes state

Timestamps and messages decode zero-copy into Arrow arrays that keep the payload alive.
Sequence numbers are implicit: event i has `first_seq + i`.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass
from itertools import accumulate

import pyarrow as pa

VERSION = 1
_HEADER = struct.Struct("<BBHHIqqq")
_FLAG_CHECKPOINT = 1
_LITTLE = sys.byteorder == "little"


class RecordError(ValueError):
    """A payload that is not a store record (never written by `encode`)."""


@dataclass(frozen=True, slots=True)
class EncodedMessages:
    """Messages as one UTF-8 blob plus Arrow offsets (computed once, at ingest)."""

    blob: bytes
    offsets: array  # type: ignore[type-arg]  # array('i'), n + 1 values

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def size(self, i: int) -> int:
        return int(self.offsets[i + 1] - self.offsets[i])


def encode_messages(messages: list[str]) -> EncodedMessages:
    """UTF-8 encode all messages at once; per-message lengths only for non-ASCII ones."""
    blob = "".join(messages).encode("utf-8")
    chars = sum(map(len, messages))
    if len(blob) == chars:
        lengths: object = map(len, messages)
    else:
        lengths = (len(m) if m.isascii() else len(m.encode("utf-8")) for m in messages)
    offsets = array("i", accumulate(lengths, initial=0))  # type: ignore[call-overload]
    return EncodedMessages(blob, offsets)


def slice_messages(enc: EncodedMessages, lo: int, hi: int) -> EncodedMessages:
    """Messages [lo, hi) of an encoded batch."""
    if lo == 0 and hi == len(enc):
        return enc
    start, end = enc.offsets[lo], enc.offsets[hi]
    return EncodedMessages(
        enc.blob[start:end], array("i", (o - start for o in enc.offsets[lo : hi + 1]))
    )


@dataclass(frozen=True, slots=True)
class AppendRecord:
    """A decoded payload; `timestamps` and `messages` are Arrow arrays over its bytes."""

    group_id: int
    group: str
    stream: str
    ingestion_time: int
    first_seq: int
    timestamps: pa.Int64Array
    messages: pa.StringArray
    checkpoint: tuple[str, bytes] | None

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self) - 1


def encode(
    *,
    group_id: int,
    group: str,
    stream: str,
    ingestion_time: int,
    first_seq: int,
    timestamps: list[int],
    messages: EncodedMessages,
    checkpoint: tuple[str, bytes] | None = None,
) -> bytes:
    """One payload. `timestamps` and `messages` have the same length."""
    n = len(timestamps)
    if len(messages) != n:
        raise ValueError("timestamps and messages differ in length")
    g = group.encode("utf-8")
    s = stream.encode("utf-8")
    flags = _FLAG_CHECKPOINT if checkpoint is not None else 0
    head = _HEADER.pack(VERSION, flags, len(g), len(s), n, group_id, ingestion_time, first_seq)
    names = g + s
    pad = b"\0" * (-(len(head) + len(names)) % 8)
    ts = array("q", timestamps)
    offsets = messages.offsets
    if not _LITTLE:  # pragma: no cover - big-endian hosts
        ts.byteswap()
        offsets = array("i", offsets)
        offsets.byteswap()
    parts = [head, names, pad, ts.tobytes(), offsets.tobytes(), messages.blob]
    if checkpoint is not None:
        key = checkpoint[0].encode("utf-8")
        parts += [struct.pack("<H", len(key)), key, struct.pack("<I", len(checkpoint[1]))]
        parts.append(checkpoint[1])
    return b"".join(parts)


def peek_group_id(payload: bytes) -> int:
    """The group id of a payload without decoding it (readers skip other groups' records)."""
    if len(payload) < _HEADER.size:
        raise RecordError("payload shorter than the header")
    return int(_HEADER.unpack_from(payload, 0)[5])


def decode(payload: bytes, *, trusted: bool = False) -> AppendRecord:
    """Inverse of `encode`; raises RecordError on anything it could not have written.

    `trusted` skips the full UTF-8/offset validation for payloads this process encoded.
    """
    if len(payload) < _HEADER.size:
        raise RecordError("payload shorter than the header")
    version, flags, glen, slen, n, gid, ingestion, first = _HEADER.unpack_from(payload, 0)
    if version != VERSION:
        raise RecordError(f"unknown record version {version}")
    pos = _HEADER.size
    try:
        group = payload[pos : pos + glen].decode("utf-8")
        stream = payload[pos + glen : pos + glen + slen].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecordError("names are not UTF-8") from exc
    pos += glen + slen
    pos += -pos % 8
    ts_end = pos + 8 * n
    off_end = ts_end + 4 * (n + 1)
    if off_end > len(payload):
        raise RecordError("payload shorter than its columns")
    buf = pa.py_buffer(payload)
    timestamps = pa.Array.from_buffers(pa.int64(), n, [None, buf.slice(pos, 8 * n)])
    offsets = buf.slice(ts_end, 4 * (n + 1))
    first_off = struct.unpack_from("<i", payload, ts_end)[0]
    last_off = struct.unpack_from("<i", payload, off_end - 4)[0]
    blob_end = off_end + last_off
    if first_off != 0 or last_off < 0 or blob_end > len(payload):
        raise RecordError("message offsets out of range")
    messages = pa.Array.from_buffers(pa.string(), n, [None, offsets, buf.slice(off_end, last_off)])
    checkpoint: tuple[str, bytes] | None = None
    pos = blob_end
    if flags & _FLAG_CHECKPOINT:
        try:
            (klen,) = struct.unpack_from("<H", payload, pos)
            key = payload[pos + 2 : pos + 2 + klen].decode("utf-8")
            pos += 2 + klen
            (vlen,) = struct.unpack_from("<I", payload, pos)
        except (struct.error, UnicodeDecodeError) as exc:
            raise RecordError("bad checkpoint") from exc
        state = payload[pos + 4 : pos + 4 + vlen]
        if len(state) != vlen:
            raise RecordError("checkpoint shorter than stated")
        checkpoint = (key, state)
        pos += 4 + vlen
    if pos != len(payload):
        raise RecordError("trailing bytes after the record")
    try:
        if not trusted:
            messages.validate(full=True)
    except pa.ArrowInvalid as exc:
        raise RecordError(f"messages invalid: {exc}") from exc
    return AppendRecord(gid, group, stream, ingestion, first, timestamps, messages, checkpoint)
