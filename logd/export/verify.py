"""`verify`: checks exported objects against their manifests (for `logd export verify`).

Given a destination and a prefix, either one task's prefix (`<prefix>/<taskId>`, whose
manifest is `<prefix>/<taskId>.manifest.json`) or a `destinationPrefix` holding many:

1. each object the manifest lists exists with `compressedBytes` and `sha256`, and after
   gunzip has `uncompressedBytes`, `contentSha256` and `lines` (with `deep`, every line
   that starts with a timestamp lies in [from, to], non-decreasing within the part);
2. no unlisted object sits in a manifested task folder (`EXTRA`);
3. task folders without a manifest are reported (`UNMANIFESTED`, a warning);
4. manifests of one chain have contiguous sequences and each `previous.sha256` is the
   predecessor's real hash (`CHAIN_BROKEN`; a predecessor not found, a warning).

Works offline: it reads only the objects. Signatures (§11.3) are not checked yet.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from logd.errors import InvalidParameterException
from logd.export import manifest
from logd.export.destinations import Destination
from logd.export.errors import DestinationError, ManifestError
from logd.export.layout import MANIFEST_SUFFIX, iso_ms

Kind = Literal[
    "OK",
    "MODIFIED",
    "MISSING",
    "EXTRA",
    "UNMANIFESTED",
    "BAD_MANIFEST",
    "CHAIN_BROKEN",
    "CHAIN_OUTSIDE_SCOPE",
    "OUT_OF_RANGE",
]
WARNINGS = frozenset({"UNMANIFESTED", "CHAIN_OUTSIDE_SCOPE"})

_LINE_TS = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    key: str
    detail: str = ""

    @property
    def severity(self) -> str:
        if self.kind == "OK":
            return "ok"
        return "warning" if self.kind in WARNINGS else "error"

    def to_json(self) -> dict[str, str]:
        return {"finding": self.kind, "severity": self.severity, "key": self.key} | (
            {"detail": self.detail} if self.detail else {}
        )


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    manifests: int = 0
    objects: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def add(self, kind: Kind, key: str, detail: str = "") -> None:
        self.findings.append(Finding(kind, key, detail))


def verify(destination: Destination, prefix: str, *, deep: bool = False) -> Report:
    prefix = prefix.strip("/")
    report = Report()
    single = prefix + MANIFEST_SUFFIX if prefix else ""
    if single and destination.size(single) is not None:
        manifest_keys = [single]
        folders = {prefix + "/"}
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
    else:
        base = prefix + "/" if prefix else ""
        keys = destination.list_keys(base)
        manifest_keys = [
            k for k in keys if k.endswith(MANIFEST_SUFFIX) and "/" not in k[len(base) :]
        ]
        folders = {
            base + k[len(base) :].split("/", 1)[0] + "/" for k in keys if "/" in k[len(base) :]
        }
    documents: dict[str, tuple[dict[str, Any], str]] = {}
    for key in manifest_keys:
        try:
            body = destination.get(key)
            documents[key] = (manifest.parse(body), hashlib.sha256(body).hexdigest())
        except (ManifestError, DestinationError) as exc:
            report.add("BAD_MANIFEST", key, str(exc))
    report.manifests = len(documents)
    manifested = set()
    for key, (document, _sha) in documents.items():
        folder = key[: -len(MANIFEST_SUFFIX)] + "/"
        manifested.add(folder)
        _check_objects(destination, document, folder, report, deep)
    for folder in sorted(folders - manifested):
        report.add("UNMANIFESTED", folder, "task folder without a manifest")
    _check_chains(destination, documents, report)
    return report


def _check_objects(
    destination: Destination, document: dict[str, Any], folder: str, report: Report, deep: bool
) -> None:
    listed = set()
    task = document.get("task", {})
    for entry in document["objects"]:
        key = str(entry.get("key", ""))
        listed.add(key)
        report.objects += 1
        problem = _check_object(destination, entry, key, task, deep)
        if problem is None:
            report.add("OK", key)
        else:
            report.add(*problem)
    for key in destination.list_keys(folder):
        if key not in listed:
            report.add("EXTRA", key, "not listed in the manifest")


def _check_object(
    destination: Destination, entry: dict[str, Any], key: str, task: dict[str, Any], deep: bool
) -> tuple[Kind, str, str] | None:
    try:
        body = destination.get(key) if destination.size(key) is not None else None
    except (DestinationError, InvalidParameterException) as exc:
        return "MISSING", key, str(exc)
    if body is None:
        return "MISSING", key, "listed object absent"
    if len(body) != entry.get("compressedBytes") or (
        hashlib.sha256(body).hexdigest() != entry.get("sha256")
    ):
        return "MODIFIED", key, "size or SHA-256 of the stored bytes differs"
    try:
        text = gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as exc:
        return "MODIFIED", key, f"not gzip: {exc}"
    if (
        len(text) != entry.get("uncompressedBytes")
        or hashlib.sha256(text).hexdigest() != entry.get("contentSha256")
        or text.count(b"\n") != entry.get("lines")
    ):
        return "MODIFIED", key, "uncompressed size, SHA-256 or line count differs"
    if deep:
        low, high = iso_ms(int(task.get("from", 0))), iso_ms(int(task.get("to", 0)))
        last = b""
        for match in _LINE_TS.finditer(text):
            if match.start() and text[match.start() - 1 : match.start()] != b"\n":
                continue
            stamp = match.group(1)
            if not low.encode() <= stamp <= high.encode() or stamp < last:
                return "OUT_OF_RANGE", key, f"line at {stamp.decode()} out of range or order"
            last = stamp
    return None


def _check_chains(
    destination: Destination, documents: dict[str, tuple[dict[str, Any], str]], report: Report
) -> None:
    chains: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key, (document, _sha) in documents.items():
        chain = document.get("chain") or {}
        chains[str(chain.get("chainId"))].append((int(chain.get("sequence", 0)), key))
    for links in chains.values():
        links.sort()
        for index, (sequence, key) in enumerate(links):
            previous = (documents[key][0].get("chain") or {}).get("previous")
            if index == 0:
                if sequence > 1:
                    _check_outside(destination, key, previous, report)
                continue
            before_seq, before_key = links[index - 1]
            if sequence != before_seq + 1:
                report.add("CHAIN_BROKEN", key, f"sequence {sequence} follows {before_seq}")
            elif not previous or previous.get("sha256") != documents[before_key][1]:
                report.add("CHAIN_BROKEN", key, f"previous hash is not that of {before_key}")


def _check_outside(
    destination: Destination, key: str, previous: dict[str, Any] | None, report: Report
) -> None:
    if not previous:
        report.add("CHAIN_BROKEN", key, "sequence > 1 without a previous link")
        return
    other = str(previous.get("key", ""))
    try:
        body = destination.get(other) if destination.size(other) is not None else None
    except (DestinationError, InvalidParameterException):
        body = None
    if body is None:
        report.add("CHAIN_OUTSIDE_SCOPE", key, f"predecessor {other} not available")
    elif hashlib.sha256(body).hexdigest() != previous.get("sha256"):
        report.add("CHAIN_BROKEN", key, f"previous hash is not that of {other}")
