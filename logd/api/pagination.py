"""Opaque pagination tokens that encode a position, never an offset.

A listing token holds the last key returned (DescribeLogGroups: the group name), so a
page taken while resources come and go neither repeats nor skips a survivor. The token
also names the listing it belongs to (`kind`); a token from another listing, or one that
does not decode, is ``InvalidParameterException`` "The specified nextToken is invalid.".

GetLogEvents has its own CloudWatch-shaped tokens: ``f/<56 digits>`` and ``b/<56
digits>``, the digits being the (timestamp, sequence) position: 20 digits of timestamp
then 36 of sequence number, so they order like the events they point between.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from logd import errors

INVALID = "The specified nextToken is invalid."


def encode(kind: str, *key: Any) -> str:
    raw = orjson.dumps([kind, *key])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, kind: str) -> list[Any]:
    """The key encoded by `encode(kind, ...)`; InvalidParameterException otherwise."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise errors.InvalidParameterException(INVALID) from None
    if not isinstance(value, list) or not value or value[0] != kind:
        raise errors.InvalidParameterException(INVALID)
    return value[1:]


TS_DIGITS = 20
SEQ_DIGITS = 36


def event_token(direction: str, timestamp: int, seq: int) -> str:
    """``f/...`` or ``b/...`` for the position (timestamp, seq)."""
    return f"{direction}/{timestamp:0{TS_DIGITS}d}{seq:0{SEQ_DIGITS}d}"


def parse_event_token(token: str) -> tuple[str, int, int]:
    """(direction, timestamp, seq); accepts AWS's optional ``/s`` suffix."""
    parts = token.split("/")
    if len(parts) == 3 and parts[2] == "s":
        parts = parts[:2]
    if len(parts) != 2 or parts[0] not in ("f", "b"):
        raise errors.InvalidParameterException(INVALID)
    digits = parts[1]
    if len(digits) != TS_DIGITS + SEQ_DIGITS or not digits.isdigit():
        raise errors.InvalidParameterException(INVALID)
    return parts[0], int(digits[:TS_DIGITS]), int(digits[TS_DIGITS:])
