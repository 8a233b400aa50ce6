"""An example logd sink: every batch becomes one NDJSON file named after `batch.id`.

Because the file name is the idempotency key, a redelivered batch overwrites its own
file instead of duplicating events: de-duplication by `batch.id`, as the contract asks.
Files are written to a temporary name, fsynced and renamed, in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from sinks import Batch, RetryableError, Sink, SinkOptions, SinkOptionsError


@dataclass(frozen=True, slots=True, kw_only=True)
class ExampleOptions(SinkOptions):
    directory: str
    """Where batch files go (created if missing)."""
    fsync: bool = True
    """fsync each file before acknowledging."""

    def validate(self) -> None:
        if not self.directory:
            raise SinkOptionsError.at("directory", "must not be empty")


class ExampleSink(Sink[ExampleOptions]):
    options_class = ExampleOptions

    async def start(self) -> None:
        try:
            await asyncio.to_thread(Path(self.options.directory).mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise RetryableError(f"cannot create {self.options.directory}: {exc}") from exc

    async def send(self, batch: Batch) -> None:
        try:
            await asyncio.to_thread(self._write, batch)
        except OSError as exc:
            raise RetryableError(f"cannot write batch {batch.id}: {exc}") from exc
        self.context.logger.debug("Wrote a batch.", extra={"batch": batch.id})

    def _write(self, batch: Batch) -> None:
        directory = Path(self.options.directory)
        final = directory / f"{batch.timestamps[0]:015d}-{batch.id}.ndjson"
        temp = final.with_suffix(".tmp")
        with temp.open("wb") as f:
            f.write(batch.to_ndjson())
            if self.options.fsync:
                f.flush()
                os.fsync(f.fileno())
        temp.replace(final)


def read_events(directory: Path) -> list[tuple[str, str]]:
    """Every (id, message) stored, in batch order (file names sort by first timestamp)."""
    events = []
    for path in sorted(directory.glob("*.ndjson")):
        events += [orjson.loads(line) for line in path.read_bytes().splitlines()]
    return [(e["id"], e["message"]) for e in events]


not_a_sink = "this entry point names a string, not a Sink subclass"
