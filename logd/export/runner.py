"""One run of one export task, blocking (the service runs it in a thread).

plan (pass 1) → for each unit: scan, sort, feed the writer → wait for the objects →
manifest → COMPLETED with the chain head, in one transaction. A stop request is
checked before every object; objects already written stay (each is atomic). A rerun
after a crash repeats the same steps: keys and bytes are functions of the task and its
events, and objects an earlier run finished are kept (see `writer`).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from logd.clock import Clock
from logd.export import manifest
from logd.export.columns import ColumnBuffers
from logd.export.destinations import Destination
from logd.export.errors import TaskCancelled, TaskInterrupted
from logd.export.layout import manifest_key, task_folder
from logd.export.options import ExportOptions
from logd.export.plan import make_plan, read_runs
from logd.export.records import MSG_COMPLETED, MSG_RUNNING, ChainLink, ExportTask, ObjectRecord
from logd.export.records import StatusCode as Code
from logd.export.writer import GzipPool, ObjectWriter
from logd.model import Scope

if TYPE_CHECKING:
    from logd.export.tasks import EventReader, TaskStore


@dataclass(slots=True)
class StopFlags:
    """Set from the event loop, read by the run between objects."""

    cancel: threading.Event
    interrupt: threading.Event

    def check(self) -> None:
        if self.cancel.is_set():
            raise TaskCancelled("Cancelled by user")
        if self.interrupt.is_set():
            raise TaskInterrupted("logd is stopping")


def progress_message(done: int, total: int) -> str:
    return f"{MSG_RUNNING}: {done} of {total} events exported"


def run_export(
    *,
    task: ExportTask,
    reader: EventReader,
    destination: Destination,
    tasks: TaskStore,
    options: ExportOptions,
    gzip: GzipPool,
    clock: Clock,
    scope: Scope,
    flags: StopFlags,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[ObjectRecord]:
    """Writes the task's objects and manifest and marks it COMPLETED.

    Raises TaskCancelled / TaskInterrupted when asked to stop, and any other error as
    the reason the task fails.
    """
    prefix = task.destination_prefix
    destination.discard_partials(task_folder(prefix, task.task_id))
    plan = make_plan(
        reader,
        task.log_group_name,
        task.from_ms,
        task.to_ms + 1,  # `to` is inclusive; scans are [start, end)
        task.log_stream_name_prefix,
        options.scan_chunk_events,
    )
    lock = threading.Lock()
    done = [0, 0]  # events, objects

    def on_object(record: ObjectRecord) -> None:
        tasks.record_object(task.task_id, record)
        with lock:
            done[0] += record.events
            done[1] += 1
            report = done[1] % options.progress_interval_objects == 0
            events = done[0]
        if report:
            tasks.set_message(task.task_id, Code.RUNNING, progress_message(events, plan.events))
            if on_progress is not None:
                on_progress(events, plan.events)

    writer = ObjectWriter(
        destination=destination,
        options=options,
        prefix=prefix,
        task_id=task.task_id,
        gzip=gzip,
        previous=tasks.objects(task.task_id),
        on_object=on_object,
        should_stop=flags.check,
    )
    buffers = ColumnBuffers()
    try:
        for unit in plan.units:
            flags.check()
            for run in read_runs(
                reader, task.log_group_name, unit, task.log_stream_name_prefix, buffers
            ):
                writer.add(run)
        records = writer.close()
    finally:
        writer.abort()
    flags.check()
    _complete(task, records, destination, tasks, clock, scope, flags)
    return records


def _complete(
    task: ExportTask,
    records: list[ObjectRecord],
    destination: Destination,
    tasks: TaskStore,
    clock: Clock,
    scope: Scope,
    flags: StopFlags,
) -> None:
    key = manifest_key(task.destination_prefix, task.task_id)
    for _attempt in range(5):
        previous = tasks.chain_head(task.log_group_name)
        now = clock.now_ms()
        body = manifest.build(
            task=task,
            records=records,
            scope=scope,
            bucket=destination.bucket,
            completion_time=now,
            previous=previous,
        )
        sha = hashlib.sha256(body).hexdigest()
        destination.put(key, body, sha256=sha, content_type="application/json")
        link = ChainLink(
            sequence=1 if previous is None else previous.sequence + 1,
            task_id=task.task_id,
            bucket=destination.bucket,
            key=key,
            to_ms=task.to_ms,
            sha256=sha,
        )
        if tasks.complete(task.task_id, MSG_COMPLETED, now, task.log_group_name, link):
            return
        current = tasks.get(task.task_id)
        if current is None or current.code != Code.RUNNING:
            # Cancelled while the manifest was written: a cancelled task has none.
            destination.delete(key)
            flags.cancel.set()
            flags.check()
            raise TaskCancelled("Cancelled by user")
        # Another task of the group completed meanwhile: link after it and retry.
    raise RuntimeError("could not advance the manifest chain after 5 attempts")
