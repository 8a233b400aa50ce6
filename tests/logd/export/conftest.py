from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from logd.clock import SystemClock
from logd.export.destinations import Destinations
from logd.export.options import ExportOptions
from logd.export.taskdb import TaskDb
from logd.export.tasks import ExportService
from tests.logd.export.helpers import TableReader
from tests.support.s3 import moto_s3  # noqa: F401 (fixture)

GROUP = "/app/web"


class GatedReader(TableReader):
    """Blocks the full-column scans (pass 2) until `gate` is set: a task stays RUNNING."""

    def __init__(self, table: pa.Table) -> None:
        super().__init__(table)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def __call__(
        self,
        groups: Sequence[str],
        start_ms: int,
        end_ms: int,
        *,
        streams: Sequence[str] | None = None,
        stream_prefix: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        if columns is not None and "message" in columns:
            self.entered.set()
            self.gate.wait(timeout=30)
        return super().__call__(
            groups, start_ms, end_ms, streams=streams, stream_prefix=stream_prefix, columns=columns
        )


@pytest.fixture
def export_root(tmp_path: Path) -> Path:
    root = tmp_path / "exports"
    root.mkdir()
    return root


@pytest.fixture
async def make_service(tmp_path: Path, export_root: Path) -> AsyncIterator[Callable[..., Any]]:
    made: list[tuple[ExportService, TaskDb, TableReader]] = []

    async def make(
        reader: TableReader, *, start: bool = True, db_path: Path | None = None, **fields: Any
    ) -> ExportService:
        fields.setdefault("default_root", str(export_root))
        fields.setdefault("compression_threads", 2)
        options = ExportOptions(**fields)
        db = TaskDb(db_path or tmp_path / "tasks.sqlite")
        service = ExportService(
            options=options,
            tasks=db,
            reader=reader,
            destinations=Destinations(options),
            clock=SystemClock(),
            group_exists=lambda name: name == GROUP,
        )
        if start:
            await service.start()
        made.append((service, db, reader))
        return service

    yield make
    for service, db, reader in made:
        if isinstance(reader, GatedReader):
            reader.gate.set()
        await service.close()
        db.close()
