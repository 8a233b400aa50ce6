"""Export tasks in SQLite: tasks, the objects each run has written, the chain heads.

Every change is one transaction; status changes are compare-and-set on the current
code, so two writers cannot both move a task. Blocking: callers use a thread. One
connection, shared under a lock (the export worker and the event loop's threads both
call it). WAL journal + `synchronous=FULL`: a change is durable when the call returns.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from logd.export.records import ACTIVE, ChainLink, ExportTask, ObjectRecord, StatusCode

_MIGRATIONS = (
    """
    CREATE TABLE export_tasks (
        task_id TEXT PRIMARY KEY,
        task_name TEXT,
        log_group_name TEXT NOT NULL,
        log_stream_name_prefix TEXT,
        from_ms INTEGER NOT NULL,
        to_ms INTEGER NOT NULL,
        destination TEXT NOT NULL,
        destination_prefix TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        creation_time INTEGER NOT NULL,
        completion_time INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        ordinal INTEGER NOT NULL UNIQUE
    );
    CREATE INDEX export_tasks_code ON export_tasks (code, ordinal);
    CREATE TABLE export_objects (
        task_id TEXT NOT NULL REFERENCES export_tasks (task_id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        stream TEXT NOT NULL, part INTEGER NOT NULL,
        events INTEGER NOT NULL, lines INTEGER NOT NULL,
        oldest INTEGER NOT NULL, newest INTEGER NOT NULL,
        first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,
        compressed_bytes INTEGER NOT NULL, uncompressed_bytes INTEGER NOT NULL,
        sha256 TEXT NOT NULL, content_sha256 TEXT NOT NULL,
        PRIMARY KEY (task_id, key)
    );
    CREATE TABLE export_chain (
        log_group_name TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL, task_id TEXT NOT NULL,
        bucket TEXT NOT NULL, key TEXT NOT NULL, to_ms INTEGER NOT NULL, sha256 TEXT NOT NULL
    );
    """,
)

_TASK_COLUMNS = (
    "task_id, task_name, log_group_name, log_stream_name_prefix, from_ms, to_ms, "
    "destination, destination_prefix, code, message, creation_time, completion_time, attempts"
)


def _task(row: sqlite3.Row) -> ExportTask:
    values = dict(row)
    values["code"] = StatusCode(values["code"])
    return ExportTask(**values)


class TaskDb:
    """The SQLite `TaskStore`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._con.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as con:
            version = con.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        con.execute(statement)
                con.execute(f"PRAGMA user_version = {int(number)}")

    def close(self) -> None:
        with self._lock:
            self._con.close()

    # tasks

    def insert(self, task: ExportTask, *, max_active: int) -> bool:
        """Add a task unless `max_active` tasks are active already (False then)."""
        marks = ",".join("?" * len(ACTIVE))
        with self._tx() as con:
            active = con.execute(
                f"SELECT count(*) FROM export_tasks WHERE code IN ({marks})",  # noqa: S608 (placeholders only)
                [str(c) for c in ACTIVE],
            ).fetchone()[0]
            if active >= max_active:
                return False
            ordinal = con.execute(
                "SELECT coalesce(max(ordinal), 0) + 1 FROM export_tasks"
            ).fetchone()[0]
            con.execute(
                f"INSERT INTO export_tasks ({_TASK_COLUMNS}, ordinal) "  # noqa: S608 (constant columns)
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    task.task_id,
                    task.task_name,
                    task.log_group_name,
                    task.log_stream_name_prefix,
                    task.from_ms,
                    task.to_ms,
                    task.destination,
                    task.destination_prefix,
                    str(task.code),
                    task.message,
                    task.creation_time,
                    task.completion_time,
                    task.attempts,
                    ordinal,
                ),
            )
        return True

    def get(self, task_id: str) -> ExportTask | None:
        with self._lock:
            row = self._con.execute(
                f"SELECT {_TASK_COLUMNS} FROM export_tasks WHERE task_id = ?",  # noqa: S608 (constant columns)
                (task_id,),
            ).fetchone()
        return None if row is None else _task(row)

    def _ordinal(self, task_id: str) -> int | None:
        row = self._con.execute(
            "SELECT ordinal FROM export_tasks WHERE task_id = ?", (task_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def list_tasks(
        self, *, code: StatusCode | None = None, after: str | None = None, limit: int = 50
    ) -> list[ExportTask]:
        """Newest first; `after` is the last task id of the previous page (exclusive)."""
        where, params = ["1=1"], []
        with self._lock:
            if code is not None:
                where.append("code = ?")
                params.append(str(code))
            if after is not None:
                ordinal = self._ordinal(after)
                if ordinal is None:
                    return []
                where.append("ordinal < ?")
                params.append(str(ordinal))
            rows = self._con.execute(
                f"SELECT {_TASK_COLUMNS} FROM export_tasks WHERE {' AND '.join(where)} "  # noqa: S608 (fixed fragments)
                "ORDER BY ordinal DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_task(r) for r in rows]

    def active(self) -> list[ExportTask]:
        """PENDING, RUNNING and PENDING_CANCEL tasks, oldest first."""
        marks = ",".join("?" * len(ACTIVE))
        with self._lock:
            rows = self._con.execute(
                f"SELECT {_TASK_COLUMNS} FROM export_tasks WHERE code IN ({marks}) "  # noqa: S608 (placeholders only)
                "ORDER BY ordinal",
                [str(c) for c in ACTIVE],
            ).fetchall()
        return [_task(r) for r in rows]

    def transition(
        self,
        task_id: str,
        expected: Sequence[StatusCode],
        code: StatusCode,
        message: str,
        *,
        completion_time: int | None = None,
        new_attempt: bool = False,
    ) -> ExportTask | None:
        """Compare-and-set: move the task to `code` if its code is one of `expected`."""
        marks = ",".join("?" * len(expected))
        with self._tx() as con:
            cursor = con.execute(
                "UPDATE export_tasks SET code = ?, message = ?, "  # noqa: S608 (placeholders only)
                "completion_time = coalesce(?, completion_time), "
                f"attempts = attempts + ? WHERE task_id = ? AND code IN ({marks})",
                [
                    str(code),
                    message,
                    completion_time,
                    int(new_attempt),
                    task_id,
                    *(str(c) for c in expected),
                ],
            )
            if cursor.rowcount != 1:
                return None
        return self.get(task_id)

    def set_message(self, task_id: str, code: StatusCode, message: str) -> None:
        """Progress: change the message of a task still in `code`."""
        with self._tx() as con:
            con.execute(
                "UPDATE export_tasks SET message = ? WHERE task_id = ? AND code = ?",
                (message, task_id, str(code)),
            )

    def purge(self, completed_before: int) -> int:
        with self._tx() as con:
            cursor = con.execute(
                "DELETE FROM export_tasks WHERE completion_time < ? AND code IN (?,?,?)",
                (completed_before, "COMPLETED", "FAILED", "CANCELLED"),
            )
            return cursor.rowcount

    # objects written

    def record_object(self, task_id: str, record: ObjectRecord) -> None:
        row: dict[str, Any] = record.to_row()
        names = ", ".join(row)
        with self._tx() as con:
            con.execute(
                f"INSERT OR REPLACE INTO export_objects (task_id, {names}) "  # noqa: S608 (dataclass field names)
                f"VALUES (?, {','.join('?' * len(row))})",
                [task_id, *row.values()],
            )

    def objects(self, task_id: str) -> dict[str, ObjectRecord]:
        with self._lock:
            rows = self._con.execute(
                "SELECT * FROM export_objects WHERE task_id = ?", (task_id,)
            ).fetchall()
        out = {}
        for row in rows:
            values = dict(row)
            del values["task_id"]
            out[values["key"]] = ObjectRecord.from_row(values)
        return out

    # chain

    def chain_head(self, group: str) -> ChainLink | None:
        with self._lock:
            row = self._con.execute(
                "SELECT sequence, task_id, bucket, key, to_ms, sha256 FROM export_chain "
                "WHERE log_group_name = ?",
                (group,),
            ).fetchone()
        return None if row is None else ChainLink(**dict(row))

    def complete(
        self, task_id: str, message: str, completion_time: int, group: str, link: ChainLink
    ) -> bool:
        """RUNNING → COMPLETED and the group's chain head → `link`, in one transaction.
        False (nothing changed) when the task is no longer RUNNING or the head moved."""
        with self._tx() as con:
            head = con.execute(
                "SELECT sequence FROM export_chain WHERE log_group_name = ?", (group,)
            ).fetchone()
            if (0 if head is None else head[0]) != link.sequence - 1:
                return False
            cursor = con.execute(
                "UPDATE export_tasks SET code = 'COMPLETED', message = ?, completion_time = ? "
                "WHERE task_id = ? AND code = 'RUNNING'",
                (message, completion_time, task_id),
            )
            if cursor.rowcount != 1:
                return False
            con.execute(
                "INSERT OR REPLACE INTO export_chain "
                "(log_group_name, sequence, task_id, bucket, key, to_ms, sha256) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    group,
                    link.sequence,
                    link.task_id,
                    link.bucket,
                    link.key,
                    link.to_ms,
                    link.sha256,
                ),
            )
        return True
