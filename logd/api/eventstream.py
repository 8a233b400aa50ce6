"""The AWS event stream framing (`application/vnd.amazon.eventstream`), encoding only.

StartLiveTail answers with a stream of binary messages; SDKs decode them as they
arrive. One message is, all integers big-endian:

    total length      uint32   the whole message, these 4 bytes and the final CRC included
    headers length    uint32   bytes of the header block
    prelude CRC       uint32   CRC-32 of the 8 bytes above
    headers           name length (uint8), name (UTF-8), value type (uint8), value
    payload           the event body (JSON for CloudWatch Logs)
    message CRC       uint32   CRC-32 of everything before it, prelude CRC included

logd only writes string headers (value type 7: uint16 length, then UTF-8). The
messages it sends are events (``:message-type = event``, ``:event-type`` = the member
of the stream union, ``:content-type``) and modelled exceptions (``:message-type =
exception``, ``:exception-type``). A JSON-protocol stream opens with an
``initial-response`` event carrying the (here empty) non-stream output members:
botocore refuses a stream whose first event is anything else.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

CONTENT_TYPE = "application/vnd.amazon.eventstream"
JSON = "application/json"

_STRING = 7
_MAX_HEADER_VALUE = 0xFFFF
_PRELUDE = struct.Struct("!II")


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    if not 0 < len(raw_name) <= 0xFF:
        raise ValueError(f"header name {name!r} must be 1-255 bytes")
    if len(raw_value) > _MAX_HEADER_VALUE:
        raise ValueError(f"header {name!r} value is longer than 65535 bytes")
    return (
        bytes((len(raw_name),))
        + raw_name
        + bytes((_STRING,))
        + struct.pack("!H", len(raw_value))
        + raw_value
    )


def encode_message(headers: Sequence[tuple[str, str]], payload: bytes) -> bytes:
    """One framed message with string `headers` (in order) and `payload`."""
    block = b"".join(_header(name, value) for name, value in headers)
    total = _PRELUDE.size + 4 + len(block) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(block))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + block + payload
    return body + struct.pack("!I", zlib.crc32(body))


def event(event_type: str, payload: bytes, content_type: str = JSON) -> bytes:
    """An event of the stream union member `event_type` (e.g. ``sessionUpdate``)."""
    return encode_message(
        [(":message-type", "event"), (":event-type", event_type), (":content-type", content_type)],
        payload,
    )


def exception(exception_type: str, payload: bytes, content_type: str = JSON) -> bytes:
    """A modelled exception member (e.g. ``SessionTimeoutException``); ends the stream."""
    return encode_message(
        [
            (":message-type", "exception"),
            (":exception-type", exception_type),
            (":content-type", content_type),
        ],
        payload,
    )
