"""verify(): an export checked against its manifest; each kind of tampering is found."""

from __future__ import annotations

import json
from pathlib import Path

from logd.export.destinations import LocalDestination
from logd.export.verify import verify
from tests.logd.export.conftest import GROUP
from tests.logd.export.helpers import BASE_MS, TableReader, make_events

TO = BASE_MS + 3_600_000


async def _export(service, bucket: str) -> str:
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=BASE_MS, to_ms=TO, destination=bucket
    )
    assert (await service.wait(task_id)).code == "COMPLETED"
    return str(task_id)


def _kinds(report) -> list[tuple[str, str]]:
    return sorted((f.kind, f.key) for f in report.findings if f.kind != "OK")


async def test_changed_byte_missing_and_extra_objects(make_service, export_root: Path) -> None:
    service = await make_service(TableReader(make_events(1500)), max_object_bytes=4096)
    task_id = await _export(service, "audit")
    dest = LocalDestination("audit", export_root)
    clean = verify(dest, f"exportedlogs/{task_id}", deep=True)
    assert clean.ok, clean.findings
    assert clean.objects > 5

    keys = dest.list_keys(f"exportedlogs/{task_id}/")
    changed, removed = keys[1], keys[2]
    path = export_root / "audit" / changed
    data = bytearray(path.read_bytes())
    data[-9] ^= 0x40  # inside the gzip trailer's CRC: only the hash can tell
    path.write_bytes(bytes(data))
    (export_root / "audit" / removed).unlink()
    extra = f"exportedlogs/{task_id}/intruder/000000.gz"
    (export_root / "audit" / extra).parent.mkdir(parents=True)
    (export_root / "audit" / extra).write_bytes(b"\x1f\x8b")
    report = verify(dest, f"exportedlogs/{task_id}")
    assert not report.ok
    assert _kinds(report) == sorted([("MODIFIED", changed), ("MISSING", removed), ("EXTRA", extra)])


async def test_chain_of_manifests_and_unmanifested_folders(make_service, export_root: Path) -> None:
    service = await make_service(TableReader(make_events(300)))
    first = await _export(service, "chain")
    second = await _export(service, "chain")
    dest = LocalDestination("chain", export_root)
    folder = export_root / "chain" / "exportedlogs"
    doc2 = json.loads((folder / f"{second}.manifest.json").read_bytes())
    assert doc2["chain"]["sequence"] == 2
    assert doc2["chain"]["previous"]["taskId"] == first
    assert verify(dest, "exportedlogs").ok
    assert verify(dest, "exportedlogs").manifests == 2

    # Editing the first manifest (even a field verify does not read) breaks the chain.
    doc1_path = folder / f"{first}.manifest.json"
    doc1 = json.loads(doc1_path.read_bytes())
    doc1["task"]["taskName"] = "forged"
    doc1_path.write_text(json.dumps(doc1))
    report = verify(dest, "exportedlogs")
    assert ("CHAIN_BROKEN", f"exportedlogs/{second}.manifest.json") in _kinds(report)

    # A task folder without a manifest (failed, cancelled, in progress) is a warning.
    doc1_path.unlink()
    report = verify(dest, "exportedlogs")
    assert ("UNMANIFESTED", f"exportedlogs/{first}/") in _kinds(report)
    assert ("CHAIN_OUTSIDE_SCOPE", f"exportedlogs/{second}.manifest.json") in _kinds(report)
    assert report.ok  # warnings only


async def test_unknown_manifest_version_is_reported(make_service, export_root: Path) -> None:
    service = await make_service(TableReader(make_events(50)))
    task_id = await _export(service, "version")
    path = export_root / "version" / "exportedlogs" / f"{task_id}.manifest.json"
    doc = json.loads(path.read_bytes())
    doc["manifestVersion"] = 99
    path.write_text(json.dumps(doc))
    report = verify(LocalDestination("version", export_root), f"exportedlogs/{task_id}")
    assert ("BAD_MANIFEST", f"exportedlogs/{task_id}.manifest.json") in _kinds(report)
    assert not report.ok
