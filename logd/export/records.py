"""Value types of export tasks: a task, its status codes, one written object, a chain link."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from logd.model import event_id


class StatusCode(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PENDING_CANCEL = "PENDING_CANCEL"
    CANCELLED = "CANCELLED"


#: Codes of tasks that still hold one of the `max_active_tasks` slots.
ACTIVE = (StatusCode.PENDING, StatusCode.RUNNING, StatusCode.PENDING_CANCEL)
FINISHED = (StatusCode.COMPLETED, StatusCode.FAILED, StatusCode.CANCELLED)

#: The state machine (subscriptions-and-export.md §9): every change is one of these.
TRANSITIONS: dict[StatusCode, tuple[StatusCode, ...]] = {
    StatusCode.PENDING: (StatusCode.RUNNING, StatusCode.CANCELLED, StatusCode.FAILED),
    StatusCode.RUNNING: (
        StatusCode.RUNNING,  # a resume after restart: a new attempt
        StatusCode.COMPLETED,
        StatusCode.FAILED,
        StatusCode.PENDING_CANCEL,
    ),
    StatusCode.PENDING_CANCEL: (StatusCode.CANCELLED,),
    StatusCode.COMPLETED: (),
    StatusCode.FAILED: (),
    StatusCode.CANCELLED: (),
}

MSG_PENDING = "Pending"
MSG_RUNNING = "Started Successfully"
MSG_COMPLETED = "Completed successfully"
MSG_PENDING_CANCEL = "Cancel requested"
MSG_CANCELLED = "Cancelled by user"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportTask:
    task_id: str
    task_name: str | None
    log_group_name: str
    log_stream_name_prefix: str | None
    from_ms: int
    to_ms: int
    destination: str
    destination_prefix: str
    code: StatusCode
    message: str
    creation_time: int
    completion_time: int | None = None
    attempts: int = 0

    def to_wire(self) -> dict[str, Any]:
        """The `ExportTask` structure of DescribeExportTasks."""
        out: dict[str, Any] = {"taskId": self.task_id}
        if self.task_name is not None:
            out["taskName"] = self.task_name
        out |= {
            "logGroupName": self.log_group_name,
            "from": self.from_ms,
            "to": self.to_ms,
            "destination": self.destination,
            "destinationPrefix": self.destination_prefix,
            "status": {"code": str(self.code), "message": self.message},
            "executionInfo": {"creationTime": self.creation_time},
        }
        if self.completion_time is not None:
            out["executionInfo"]["completionTime"] = self.completion_time
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectRecord:
    """One object an export wrote: exactly what the manifest lists for it."""

    key: str
    stream: str
    part: int
    events: int
    lines: int
    oldest: int
    newest: int
    first_seq: int
    last_seq: int
    compressed_bytes: int
    uncompressed_bytes: int
    sha256: str
    content_sha256: str

    def to_manifest(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "logStreamName": self.stream,
            "part": self.part,
            "events": self.events,
            "lines": self.lines,
            "oldestEventTime": self.oldest,
            "newestEventTime": self.newest,
            "firstEventId": event_id(self.first_seq),
            "lastEventId": event_id(self.last_seq),
            "compressedBytes": self.compressed_bytes,
            "uncompressedBytes": self.uncompressed_bytes,
            "hashAlgorithm": "SHA-256",
            "sha256": self.sha256,
            "contentSha256": self.content_sha256,
        }

    def to_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ObjectRecord:
        return cls(**row)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainLink:
    """The newest completed manifest of a log group (the chain head)."""

    sequence: int
    task_id: str
    bucket: str
    key: str
    to_ms: int
    sha256: str
