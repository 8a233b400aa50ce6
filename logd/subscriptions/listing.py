"""DescribeSubscriptionFilters' wire shapes: one filter as CloudWatch shows it, and the
opaque page token (the last filter name returned, never an offset)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from logd import errors
from logd.store.catalog_subscriptions import SubscriptionFilterRecord

_TOKEN_KIND = "subscription-filters"  # noqa: S105 - a token kind, not a secret


def page_token(after: str) -> str:
    raw = orjson.dumps([_TOKEN_KIND, after])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def token_key(token: str) -> str:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if not (isinstance(value, list) and len(value) == 2 and value[0] == _TOKEN_KIND):
        raise errors.InvalidParameterException("The specified nextToken is invalid.")
    return str(value[1])


def describe_record(rec: SubscriptionFilterRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "filterName": rec.name,
        "logGroupName": rec.group,
        "filterPattern": rec.pattern,
        "destinationArn": rec.destination_arn,
        "distribution": rec.distribution,
        "applyOnTransformedLogs": rec.apply_on_transformed_logs,
        "creationTime": rec.creation_time,
    }
    if rec.role_arn is not None:
        out["roleArn"] = rec.role_arn
    if rec.field_selection_criteria is not None:
        out["fieldSelectionCriteria"] = rec.field_selection_criteria
    if rec.emit_system_fields is not None:
        out["emitSystemFields"] = list(rec.emit_system_fields)
    return out
