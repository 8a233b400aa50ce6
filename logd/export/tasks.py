"""Export tasks: the API's semantics and the state machine, over a durable TaskStore.

States (records.TRANSITIONS): PENDING → RUNNING → COMPLETED | FAILED;
PENDING | RUNNING → PENDING_CANCEL → CANCELLED; a PENDING task cancelled before a worker
takes it goes straight to CANCELLED. Each change is a compare-and-set in the store.

Invariants:
- At most `max_active_tasks` tasks are PENDING, RUNNING or PENDING_CANCEL: the count and
  the insert are one transaction.
- A task RUNNING when logd stopped is RUNNING at start: it resumes (a new attempt) while
  it has attempts left and `resume_interrupted` holds, else it ends FAILED with the
  reason. Resuming rewrites the same keys; no object is ever partial under its key.
- COMPLETED means every object and the manifest are written; CANCELLED and FAILED
  tasks keep the objects they wrote and have no manifest.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import pyarrow as pa

from logd.clock import Clock
from logd.errors import (
    InvalidOperationException,
    InvalidParameterException,
    LimitExceededException,
    LogdError,
    ResourceNotFoundException,
)
from logd.export.destinations import Destinations
from logd.export.errors import DestinationError, TaskCancelled, TaskInterrupted
from logd.export.layout import normalize_prefix
from logd.export.options import ExportOptions
from logd.export.records import (
    MSG_CANCELLED,
    MSG_PENDING,
    MSG_PENDING_CANCEL,
    MSG_RUNNING,
    ChainLink,
    ExportTask,
    ObjectRecord,
)
from logd.export.records import StatusCode as Code
from logd.export.runner import StopFlags, run_export
from logd.export.writer import GzipPool
from logd.model import DAY_MS, Scope


class EventReader(Protocol):
    """The store's scan (`Store.scan` fits): `[start_ms, end_ms)`, memtable included,
    batches of the documented event schema, in no particular order."""

    def __call__(
        self,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> Iterator[pa.RecordBatch]: ...


class TaskStore(Protocol):
    """Durable export tasks (`taskdb.TaskDb` is the SQLite one). Blocking calls."""

    def insert(self, task: ExportTask, *, max_active: int) -> bool: ...
    def get(self, task_id: str) -> ExportTask | None: ...
    def list_tasks(
        self, *, code: Code | None = None, after: str | None = None, limit: int = 50
    ) -> list[ExportTask]: ...
    def active(self) -> list[ExportTask]: ...
    def transition(
        self,
        task_id: str,
        expected: Sequence[Code],
        code: Code,
        message: str,
        *,
        completion_time: int | None = None,
        new_attempt: bool = False,
    ) -> ExportTask | None: ...
    def set_message(self, task_id: str, code: Code, message: str) -> None: ...
    def purge(self, completed_before: int) -> int: ...
    def record_object(self, task_id: str, record: ObjectRecord) -> None: ...
    def objects(self, task_id: str) -> dict[str, ObjectRecord]: ...
    def chain_head(self, group: str) -> ChainLink | None: ...
    def complete(
        self, task_id: str, message: str, completion_time: int, group: str, link: ChainLink
    ) -> bool: ...
    def close(self) -> None: ...


def encode_token(task_id: str) -> str:
    return base64.urlsafe_b64encode(f"v1:{task_id}".encode()).decode()


def decode_token(token: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidParameterException("The specified nextToken is invalid.") from exc
    if not text.startswith("v1:"):
        raise InvalidParameterException("The specified nextToken is invalid.")
    return text[3:]


class WallClock(Protocol):
    """Anything that tells wall time (a `Clock`, the store's `RetentionClock`)."""

    def now_ms(self) -> int: ...


class ExportService:
    """CreateExportTask, DescribeExportTasks, CancelExportTask and the worker."""

    def __init__(
        self,
        *,
        options: ExportOptions,
        tasks: TaskStore,
        reader: EventReader,
        destinations: Destinations,
        clock: Clock,
        group_exists: Callable[[str], bool],
        scope: Scope | None = None,
        history_clock: WallClock | None = None,
    ) -> None:
        """`history_clock` dates the purge of finished tasks (`task_retention_days`); the
        daemon passes the store's jump-guarded retention clock, so a wall-clock jump
        forward deletes no task history (R-14). Default: `clock`."""
        options.validate()
        self.options = options
        self._tasks = tasks
        self._reader = reader
        self._destinations = destinations
        self._clock = clock
        self._history_clock: WallClock = history_clock or clock
        self._group_exists = group_exists
        self._scope = scope or Scope()
        self._gzip = GzipPool(
            level=options.compression_level,
            chunk_bytes=options.compression_chunk_bytes,
            threads=options.compression_threads or os.cpu_count() or 2,
        )
        self._running: dict[str, StopFlags] = {}
        self._runs: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._finished = asyncio.Condition()
        self._loop_task: asyncio.Task[None] | None = None
        self._closed = False

    # lifecycle

    async def start(self) -> None:
        if self._loop_task is not None:
            return
        await asyncio.to_thread(self._recover)
        self._loop_task = asyncio.create_task(self._loop(), name="export-worker")
        self._wake.set()

    def _recover(self) -> None:
        self._tasks.purge(self._purge_before())
        now = self._clock.now_ms()
        for task in self._tasks.active():
            if task.code == Code.PENDING_CANCEL:
                self._tasks.transition(
                    task.task_id, [Code.PENDING_CANCEL], Code.CANCELLED, MSG_CANCELLED,
                    completion_time=now,
                )  # fmt: skip
            elif task.code == Code.RUNNING:
                reason = None
                if not self.options.resume_interrupted:
                    reason = "Interrupted by a restart of logd (resume is disabled)"
                elif task.attempts >= self.options.max_attempts:
                    reason = (
                        f"Interrupted by a restart of logd after {task.attempts} attempts; "
                        "not resumed again"
                    )
                if reason is not None:
                    self._tasks.transition(
                        task.task_id, [Code.RUNNING], Code.FAILED, reason, completion_time=now
                    )

    def _purge_before(self) -> int:
        """Finished tasks completed before this are forgotten."""
        return self._history_clock.now_ms() - self.options.task_retention_days * DAY_MS

    async def close(self) -> None:
        """Stops the worker; RUNNING tasks stop between objects and resume at next start."""
        if self._closed:
            return
        self._closed = True
        for flags in self._running.values():
            flags.interrupt.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        await asyncio.gather(*self._runs, return_exceptions=True)
        await asyncio.to_thread(self._gzip.close)
        await asyncio.to_thread(self._destinations.close)

    async def __aenter__(self) -> ExportService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # API

    async def create_export_task(
        self,
        *,
        log_group_name: str,
        from_ms: int,
        to_ms: int,
        destination: str,
        task_name: str | None = None,
        log_stream_name_prefix: str | None = None,
        destination_prefix: str | None = None,
    ) -> str:
        if from_ms < 0 or to_ms < 0:
            raise InvalidParameterException("from and to must be at least 0.")
        if from_ms > to_ms:
            raise InvalidParameterException(
                "The parameter 'from' must be less than or equal to 'to'."
            )
        prefix = normalize_prefix(destination_prefix, self.options.default_prefix)
        if not await asyncio.to_thread(self._group_exists, log_group_name):
            raise ResourceNotFoundException("The specified log group does not exist.")
        if len(await asyncio.to_thread(self._tasks.active)) >= self.options.max_active_tasks:
            raise LimitExceededException("Resource limit exceeded.")
        code, message = Code.PENDING, MSG_PENDING
        try:
            await asyncio.to_thread(self._check_destination, destination)
        except DestinationError as exc:
            code, message = Code.FAILED, f"Permission check failed: {exc}"
        now = self._clock.now_ms()
        task = ExportTask(
            task_id=str(uuid.uuid4()),
            task_name=task_name,
            log_group_name=log_group_name,
            log_stream_name_prefix=log_stream_name_prefix or None,
            from_ms=from_ms,
            to_ms=to_ms,
            destination=destination,
            destination_prefix=prefix,
            code=code,
            message=message,
            creation_time=now,
            completion_time=now if code == Code.FAILED else None,
        )
        limit = self.options.max_active_tasks if code == Code.PENDING else 1 << 30
        if not await asyncio.to_thread(self._tasks.insert, task, max_active=limit):
            raise LimitExceededException("Resource limit exceeded.")
        self._wake.set()
        return task.task_id

    def _check_destination(self, bucket: str) -> None:
        self._destinations.get(bucket).check()

    async def describe_export_tasks(
        self,
        *,
        task_id: str | None = None,
        status_code: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> tuple[list[ExportTask], str | None]:
        if not 1 <= limit <= 50:
            raise InvalidParameterException("limit must be between 1 and 50.")
        code = None
        if status_code is not None:
            try:
                code = Code(status_code)
            except ValueError as exc:
                raise InvalidParameterException(f"Invalid statusCode {status_code!r}.") from exc
        if task_id is not None:
            found = await asyncio.to_thread(self._tasks.get, task_id)
            if found is None or (code is not None and found.code != code):
                return [], None
            return [found], None
        after = None if next_token is None else decode_token(next_token)
        page = await asyncio.to_thread(
            self._tasks.list_tasks, code=code, after=after, limit=limit + 1
        )
        if len(page) > limit:
            return page[:limit], encode_token(page[limit - 1].task_id)
        return page, None

    async def cancel_export_task(self, task_id: str) -> None:
        task = await asyncio.to_thread(self._tasks.get, task_id)
        if task is None:
            raise ResourceNotFoundException("The specified export task does not exist.")
        now = self._clock.now_ms()
        moved = await asyncio.to_thread(
            self._tasks.transition, task_id, [Code.PENDING], Code.CANCELLED, MSG_CANCELLED,
            completion_time=now,
        )  # fmt: skip
        if moved is None:
            moved = await asyncio.to_thread(
                self._tasks.transition,
                task_id,
                [Code.RUNNING],
                Code.PENDING_CANCEL,
                MSG_PENDING_CANCEL,
            )
            if moved is None:
                raise InvalidOperationException("The specified export task has already finished")
        flags = self._running.get(task_id)
        if flags is not None:
            flags.cancel.set()
        self._wake.set()

    async def wait(self, task_id: str) -> ExportTask:
        """Until the task is COMPLETED, FAILED or CANCELLED (tests, `logd export`)."""
        async with self._finished:
            while True:
                task = await asyncio.to_thread(self._tasks.get, task_id)
                if task is None:
                    raise ResourceNotFoundException("The specified export task does not exist.")
                if task.code in (Code.COMPLETED, Code.FAILED, Code.CANCELLED):
                    return task
                await self._finished.wait()

    # the worker

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            for task in await asyncio.to_thread(self._tasks.active):
                if task.task_id in self._running:
                    continue
                if task.code == Code.PENDING_CANCEL:
                    await asyncio.to_thread(
                        self._tasks.transition, task.task_id, [Code.PENDING_CANCEL],
                        Code.CANCELLED, MSG_CANCELLED, completion_time=self._clock.now_ms(),
                    )  # fmt: skip
                    await self._notify()
                    continue
                if len(self._running) >= self.options.max_active_tasks:
                    break
                self._running[task.task_id] = StopFlags(threading.Event(), threading.Event())
                run = asyncio.create_task(self._run(task), name=f"export-{task.task_id}")
                self._runs.add(run)
                run.add_done_callback(self._runs.discard)

    async def _notify(self) -> None:
        async with self._finished:
            self._finished.notify_all()

    async def _run(self, task: ExportTask) -> None:
        flags = self._running[task.task_id]
        try:
            started = await asyncio.to_thread(
                self._tasks.transition, task.task_id, [task.code], Code.RUNNING,
                MSG_RUNNING if task.code == Code.PENDING else f"{MSG_RUNNING} (resumed)",
                new_attempt=True,
            )  # fmt: skip
            if started is None:  # cancelled meanwhile
                return
            await asyncio.to_thread(self._run_blocking, started, flags)
        except TaskCancelled:
            await self._finish(task.task_id, Code.CANCELLED, MSG_CANCELLED)
        except TaskInterrupted:
            pass  # stays RUNNING: resumed at the next start
        except (LogdError, DestinationError) as exc:
            await self._finish(task.task_id, Code.FAILED, exc.args[0] if exc.args else str(exc))
        except Exception as exc:
            await self._finish(task.task_id, Code.FAILED, f"{type(exc).__name__}: {exc}")
        finally:
            del self._running[task.task_id]
            await self._notify()
            if not self._closed:
                await asyncio.to_thread(self._tasks.purge, self._purge_before())
                self._wake.set()

    def _run_blocking(self, task: ExportTask, flags: StopFlags) -> None:
        run_export(
            task=task,
            reader=self._reader,
            destination=self._destinations.get(task.destination),
            tasks=self._tasks,
            options=self.options,
            gzip=self._gzip,
            clock=self._clock,
            scope=self._scope,
            flags=flags,
        )

    async def _finish(self, task_id: str, code: Code, message: str) -> None:
        await asyncio.to_thread(
            self._tasks.transition, task_id, [Code.RUNNING, Code.PENDING_CANCEL], code, message,
            completion_time=self._clock.now_ms(),
        )  # fmt: skip
