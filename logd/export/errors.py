"""Errors inside export tasks. None reaches a client: a task that meets one ends FAILED
with its text as the status message (client-facing errors are `logd.errors.*`).

The tree::

    ExportError
    ├── DestinationError      the bucket refused or failed a write, read or listing
    ├── TaskStopped           the run was asked to stop
    │   ├── TaskCancelled     by CancelExportTask: the task ends CANCELLED
    │   └── TaskInterrupted   by shutdown: the task stays RUNNING and resumes at start
    └── ManifestError         a manifest that cannot be read (unknown version, bad JSON)
"""

from __future__ import annotations


class ExportError(Exception):
    pass


class DestinationError(ExportError):
    pass


class TaskStopped(ExportError):
    pass


class TaskCancelled(TaskStopped):
    pass


class TaskInterrupted(TaskStopped):
    pass


class ManifestError(ExportError):
    pass
