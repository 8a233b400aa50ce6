"""logd's export manifest (subscriptions-and-export.md §11.2): what a completed task wrote.

`<prefix>/<taskId>.manifest.json` lists every object with its SHA-256 (stored gzip bytes
and uncompressed text), event and line counts and time range, and links to the group's
previous manifest (`chain`). Pure: build bytes, parse bytes. Signing (§11.3) is not
implemented yet, so `signing` is null.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from logd import __version__
from logd.export.errors import ManifestError
from logd.export.records import ChainLink, ExportTask, ObjectRecord
from logd.model import Scope

MANIFEST_VERSION = 1


def chain_id(scope: Scope, group: str) -> str:
    text = f"{scope.account}\n{scope.region}\n{group}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def build(
    *,
    task: ExportTask,
    records: Sequence[ObjectRecord],
    scope: Scope,
    bucket: str,
    completion_time: int,
    previous: ChainLink | None,
) -> bytes:
    """The manifest's bytes (sorted keys, 2-space indent, final newline)."""
    events = sum(r.events for r in records)
    document: dict[str, Any] = {
        "manifestVersion": MANIFEST_VERSION,
        "generator": f"logd {__version__}",
        "accountId": scope.account,
        "region": scope.region,
        "logGroupName": task.log_group_name,
        "task": {
            "taskId": task.task_id,
            "taskName": task.task_name,
            "logStreamNamePrefix": task.log_stream_name_prefix,
            "from": task.from_ms,
            "to": task.to_ms,
            "rangeInclusive": True,
            "creationTime": task.creation_time,
            "completionTime": completion_time,
        },
        "destination": {"bucket": bucket, "prefix": task.destination_prefix},
        "totals": {
            "objects": len(records),
            "events": events,
            "lines": sum(r.lines for r in records),
            "oldestEventTime": min((r.oldest for r in records), default=None),
            "newestEventTime": max((r.newest for r in records), default=None),
        },
        "objects": [r.to_manifest() for r in records],
        "chain": {
            "chainId": chain_id(scope, task.log_group_name),
            "sequence": 1 if previous is None else previous.sequence + 1,
            "previous": None
            if previous is None
            else {
                "bucket": previous.bucket,
                "key": previous.key,
                "taskId": previous.task_id,
                "to": previous.to_ms,
                "sha256": previous.sha256,
                "signature": None,
            },
        },
        "signing": None,
    }
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def parse(data: bytes) -> dict[str, Any]:
    """A manifest document; unknown versions and malformed ones raise ManifestError
    (unknown fields are ignored by readers)."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ManifestError("manifest is not a JSON object")
    if document.get("manifestVersion") != MANIFEST_VERSION:
        raise ManifestError(f"unknown manifestVersion {document.get('manifestVersion')!r}")
    if not isinstance(document.get("objects"), list):
        raise ManifestError("manifest has no objects list")
    return document
