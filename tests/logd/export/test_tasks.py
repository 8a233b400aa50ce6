"""ExportService end to end against a local export root: layout, bytes, statuses, rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from logd.errors import (
    InvalidOperationException,
    InvalidParameterException,
    LimitExceededException,
    ResourceNotFoundException,
)
from logd.export import layout
from logd.export.destinations import LocalDestination
from logd.export.verify import verify
from tests.logd.export.conftest import GROUP, GatedReader
from tests.logd.export.helpers import (
    BASE_MS,
    TableReader,
    expected_objects,
    gunzip,
    make_events,
    read_local_export,
)

FROM = BASE_MS + 60_000
TO = BASE_MS + 3_000_000


def _tree(root: Path) -> list[str]:
    return sorted(p.as_posix() for p in root.rglob("*") if "sqlite" not in p.name)


def _relative_expected(expected: dict[tuple[str, int], bytes]) -> dict[str, bytes]:
    return {
        f"{layout.stream_key_part(stream, 'keep')}/{part:06d}.gz": text
        for (stream, part), text in expected.items()
    }


async def test_local_export_layout_and_bytes(make_service, export_root: Path) -> None:
    table = make_events(3000)
    service = await make_service(TableReader(table))
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="my-bucket"
    )
    done = await service.wait(task_id)
    assert (done.code, done.message) == ("COMPLETED", "Completed successfully")
    assert done.completion_time is not None

    bucket = export_root / "my-bucket"
    assert (bucket / "aws-logs-write-test").read_bytes() == b"Permission Check Successful"
    written = read_local_export(export_root, "my-bucket", "exportedlogs", task_id)
    expected = _relative_expected(expected_objects(table, start=FROM, end_inclusive=TO))
    assert sorted(written) == sorted(expected)
    for key, text in expected.items():
        assert gunzip(written[key]) == text, key
    # Streams with a "/" get key levels; the manifest sits beside the task folder.
    assert (bucket / "exportedlogs" / task_id / "app" / "worker" / "000000.gz").is_file()
    document = json.loads((bucket / "exportedlogs" / f"{task_id}.manifest.json").read_bytes())
    in_range = [r for r in table.to_pylist() if FROM <= r["timestamp"] <= TO]
    assert document["totals"]["events"] == len(in_range)
    assert document["totals"]["lines"] == sum(t.count(b"\n") for t in expected.values())
    assert {o["key"] for o in document["objects"]} == {
        f"exportedlogs/{task_id}/{k}" for k in expected
    }
    assert document["chain"]["sequence"] == 1
    assert document["chain"]["previous"] is None
    report = verify(LocalDestination("my-bucket", export_root), f"exportedlogs/{task_id}")
    assert report.ok, report.findings
    assert report.objects == len(expected)


async def test_parts_split_and_prefix_filters(make_service, export_root: Path) -> None:
    table = make_events(2000, seed=3)
    service = await make_service(TableReader(table), max_object_bytes=4096)
    task_id = await service.create_export_task(
        log_group_name=GROUP,
        from_ms=BASE_MS,
        to_ms=BASE_MS + 3_600_000,
        destination="parts",
        destination_prefix="/nested/prefix/",
        log_stream_name_prefix="web",
    )
    assert (await service.wait(task_id)).code == "COMPLETED"
    written = read_local_export(export_root, "parts", "nested/prefix", task_id)
    expected = _relative_expected(
        expected_objects(
            table,
            start=BASE_MS,
            end_inclusive=BASE_MS + 3_600_000,
            stream_prefix="web",
            max_object_bytes=4096,
        )
    )
    assert len(expected) > 10  # really split
    assert sorted(written) == sorted(expected)
    for key, text in expected.items():
        assert gunzip(written[key]) == text
        assert len(text) <= 4096


async def test_range_is_inclusive_at_both_ends(make_service, export_root: Path) -> None:
    table = make_events(500, seed=5)
    stamps = sorted(set(table["timestamp"].to_pylist()))
    low, high = stamps[10], stamps[-10]
    service = await make_service(TableReader(table))
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=low, to_ms=high, destination="edges"
    )
    assert (await service.wait(task_id)).code == "COMPLETED"
    texts = b"".join(
        gunzip(v)
        for k, v in read_local_export(export_root, "edges", "exportedlogs", task_id).items()
    )
    assert layout.iso_ms(low).encode() in texts
    assert layout.iso_ms(high).encode() in texts
    assert layout.iso_ms(stamps[9]).encode() not in texts


async def test_empty_range_completes_with_a_manifest(make_service, export_root: Path) -> None:
    service = await make_service(TableReader(make_events(50)))
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=1, to_ms=2, destination="empty"
    )
    assert (await service.wait(task_id)).code == "COMPLETED"
    manifest = export_root / "empty" / "exportedlogs" / f"{task_id}.manifest.json"
    assert json.loads(manifest.read_bytes())["totals"]["objects"] == 0


async def test_describe_filters_orders_and_paginates(make_service) -> None:
    service = await make_service(TableReader(make_events(100)), max_active_tasks=1)
    ids = []
    for n in range(3):
        ids.append(
            await service.create_export_task(
                log_group_name=GROUP,
                from_ms=FROM,
                to_ms=TO,
                destination="desc",
                task_name=f"t{n}",
            )
        )
        await service.wait(ids[-1])
    page, token = await service.describe_export_tasks(limit=2)
    assert [t.task_id for t in page] == ids[::-1][:2]
    assert token
    rest, end = await service.describe_export_tasks(limit=2, next_token=token)
    assert [t.task_id for t in rest] == [ids[0]]
    assert end is None
    wire = page[0].to_wire()
    assert wire["status"] == {"code": "COMPLETED", "message": "Completed successfully"}
    assert set(wire["executionInfo"]) == {"creationTime", "completionTime"}
    assert wire["taskName"] == "t2"
    assert wire["destinationPrefix"] == "exportedlogs"
    only, _ = await service.describe_export_tasks(task_id=ids[1])
    assert [t.task_id for t in only] == [ids[1]]
    assert (await service.describe_export_tasks(task_id="nope"))[0] == []
    assert (await service.describe_export_tasks(status_code="RUNNING"))[0] == []
    assert len((await service.describe_export_tasks(status_code="COMPLETED"))[0]) == 3
    with pytest.raises(InvalidParameterException):
        await service.describe_export_tasks(status_code="DONE")
    with pytest.raises(InvalidParameterException):
        await service.describe_export_tasks(limit=51)
    with pytest.raises(InvalidParameterException):
        await service.describe_export_tasks(next_token="garbage!")


async def test_one_active_task_and_cancel(make_service, export_root: Path) -> None:
    reader = GatedReader(make_events(400))
    service = await make_service(reader)
    first = await service.create_export_task(
        log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="busy"
    )
    await asyncio.to_thread(reader.entered.wait, 10)
    (running,), _ = await service.describe_export_tasks(task_id=first)
    assert running.code == "RUNNING"
    assert running.message.startswith("Started Successfully")
    with pytest.raises(LimitExceededException):
        await service.create_export_task(
            log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="busy"
        )
    await service.cancel_export_task(first)
    (cancelling,), _ = await service.describe_export_tasks(task_id=first)
    assert (cancelling.code, cancelling.message) == ("PENDING_CANCEL", "Cancel requested")
    reader.gate.set()
    done = await service.wait(first)
    assert (done.code, done.message) == ("CANCELLED", "Cancelled by user")
    assert done.completion_time is not None
    assert not (export_root / "busy" / "exportedlogs" / f"{first}.manifest.json").exists()
    with pytest.raises(InvalidOperationException, match="already finished"):
        await service.cancel_export_task(first)
    with pytest.raises(ResourceNotFoundException):
        await service.cancel_export_task("00000000-0000-0000-0000-000000000000")
    # The slot is free again.
    second = await service.create_export_task(
        log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="busy"
    )
    assert (await service.wait(second)).code == "COMPLETED"


async def test_active_limit_is_configurable(make_service) -> None:
    reader = GatedReader(make_events(100))
    service = await make_service(reader, max_active_tasks=2)
    ids = [
        await service.create_export_task(
            log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="two"
        )
        for _ in range(2)
    ]
    with pytest.raises(LimitExceededException):
        await service.create_export_task(
            log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="two"
        )
    reader.gate.set()
    for task_id in ids:
        assert (await service.wait(task_id)).code == "COMPLETED"


async def test_pending_task_cancelled_directly(make_service) -> None:
    service = await make_service(TableReader(make_events(10)), start=False)
    task_id = await service.create_export_task(
        log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="idle"
    )
    (pending,), _ = await service.describe_export_tasks(task_id=task_id)
    assert (pending.code, pending.message) == ("PENDING", "Pending")
    await service.cancel_export_task(task_id)
    (cancelled,), _ = await service.describe_export_tasks(task_id=task_id)
    assert cancelled.code == "CANCELLED"


@pytest.mark.parametrize(
    ("bucket", "prefix"),
    [
        ("ok-bucket", "../../x"),
        ("ok-bucket", "a/../../b"),
        ("ok-bucket", "a/./b"),
        ("ok-bucket", "a//b"),
        ("..", None),
        ("../x", None),
        ("a/b", None),
        ("UPPER", None),
    ],
)
async def test_escaping_prefix_or_bucket_is_refused(
    make_service, tmp_path: Path, export_root: Path, bucket: str, prefix: str | None
) -> None:
    service = await make_service(TableReader(make_events(10)))
    before = _tree(tmp_path)
    with pytest.raises(InvalidParameterException):
        await service.create_export_task(
            log_group_name=GROUP,
            from_ms=FROM,
            to_ms=TO,
            destination=bucket,
            destination_prefix=prefix,
        )
    assert _tree(tmp_path) == before
    assert (await service.describe_export_tasks())[0] == []


async def test_request_errors(make_service, tmp_path: Path) -> None:
    service = await make_service(TableReader(make_events(10)))
    with pytest.raises(InvalidParameterException):
        await service.create_export_task(
            log_group_name=GROUP, from_ms=TO, to_ms=FROM, destination="b-1"
        )
    with pytest.raises(ResourceNotFoundException):
        await service.create_export_task(
            log_group_name="/nope", from_ms=FROM, to_ms=TO, destination="b-1"
        )
    strict = await make_service(
        TableReader(make_events(10)), default_root="", db_path=tmp_path / "other.sqlite"
    )
    with pytest.raises(InvalidParameterException, match="bucket does not exist"):
        await strict.create_export_task(
            log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="unknown"
        )


async def test_interrupted_task_resumes_with_identical_objects(
    make_service, tmp_path: Path, export_root: Path
) -> None:
    table = make_events(1500, seed=9)
    reader = GatedReader(table)
    db_path = tmp_path / "resume.sqlite"
    first = await make_service(reader, db_path=db_path, max_object_bytes=2048)
    task_id = await first.create_export_task(
        log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="resume"
    )
    await asyncio.to_thread(reader.entered.wait, 10)
    closing = asyncio.create_task(first.close())  # interrupts between objects
    await asyncio.sleep(0.05)
    reader.gate.set()
    await closing
    (still,), _ = await first.describe_export_tasks(task_id=task_id)
    assert still.code == "RUNNING"

    second = await make_service(TableReader(table), db_path=db_path, max_object_bytes=2048)
    done = await second.wait(task_id)
    assert done.code == "COMPLETED"
    assert done.attempts == 2
    written = read_local_export(export_root, "resume", "exportedlogs", task_id)
    expected = _relative_expected(
        expected_objects(table, start=FROM, end_inclusive=TO, max_object_bytes=2048)
    )
    assert {k: gunzip(v) for k, v in written.items()} == expected


async def test_interrupted_task_fails_when_resume_is_off(make_service, tmp_path: Path) -> None:
    reader = GatedReader(make_events(200))
    db_path = tmp_path / "noresume.sqlite"
    first = await make_service(reader, db_path=db_path)
    task_id = await first.create_export_task(
        log_group_name=GROUP, from_ms=FROM, to_ms=TO, destination="noresume"
    )
    await asyncio.to_thread(reader.entered.wait, 10)
    closing = asyncio.create_task(first.close())
    await asyncio.sleep(0.05)
    reader.gate.set()
    await closing
    second = await make_service(
        TableReader(make_events(200)), db_path=db_path, resume_interrupted=False
    )
    done = await second.wait(task_id)
    assert done.code == "FAILED"
    assert "restart" in done.message
