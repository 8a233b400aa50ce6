"""R-14 for exports: a +30 day wall-clock jump during export activity deletes no task
history (finished tasks are purged after `task_retention_days` of guarded time, like
retention), while an export started after the jump still completes."""

from __future__ import annotations

from pathlib import Path

from logd.clock import ManualClock
from logd.export.destinations import Destinations
from logd.export.options import ExportOptions
from logd.export.taskdb import TaskDb
from logd.export.tasks import ExportService
from logd.model import DAY_MS
from logd.store.retention import RetentionClock
from tests.logd.export.conftest import GROUP
from tests.logd.export.helpers import BASE_MS, TableReader, make_events


async def run_one(service: ExportService) -> str:
    task_id = await service.create_export_task(
        log_group_name=GROUP,
        from_ms=BASE_MS,
        to_ms=BASE_MS + 3_600_000,
        destination="exports-bucket",
    )
    done = await service.wait(task_id)
    assert done.code == "COMPLETED", done.message
    return task_id


async def test_a_forward_jump_purges_no_task_history(tmp_path: Path, export_root: Path) -> None:
    clock = ManualClock(BASE_MS + 7_200_000)
    options = ExportOptions(default_root=str(export_root), compression_threads=1)
    db = TaskDb(tmp_path / "tasks.sqlite")
    service = ExportService(
        options=options, tasks=db, reader=TableReader(make_events(200)),
        destinations=Destinations(options), clock=clock, group_exists=lambda n: n == GROUP,
        history_clock=RetentionClock(clock, guard_ms=DAY_MS),
    )  # fmt: skip
    try:
        await service.start()
        before = await run_one(service)
        clock.set(clock.now_ms() + 31 * DAY_MS)  # the wall clock only
        after = await run_one(service)  # its end purges history older than 30 days
        listed, _ = await service.describe_export_tasks()
        assert {t.task_id for t in listed} == {before, after}
        clock.set(clock.now_ms() - 31 * DAY_MS)
        clock.advance(31 * DAY_MS)  # now 31 days really pass
        await run_one(service)
        listed, _ = await service.describe_export_tasks()
        assert before not in {t.task_id for t in listed}  # purged on time
    finally:
        await service.close()
        db.close()
