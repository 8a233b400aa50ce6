"""`WalLog`: the store's `DurableLog` over the real WAL (`logd.store.wal.Wal`).

It adds no state of its own: positions, cursors, readers, file deletion and the size
bound are the WAL's. What it does is the store's edge to the WAL:

- `append_many` hands the WAL one group commit (one write, one fsync) under "group" and
  "interval"; under "always" it appends each store batch on its own, awaited in order,
  so every PutLogEvents batch gets its own fsync.
- WAL errors become `logd.errors.ServiceUnavailableException` with a message a client
  can act on (`WalFull` under on_full = "drop", `WalWriteError`, `WalClosed`); under
  on_full = "block" the WAL itself makes appends wait (backpressure).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from logd.errors import ServiceUnavailableException
from logd.store.log import LogStats, Position, Start
from logd.store.wal import Cursor, RecoveryReport, Wal, WalOptions, WalReader
from logd.store.wal.errors import WalClosed, WalFull, WalWriteError

log = logging.getLogger("logd.store.wal")


class WalLog:
    """`DurableLog` over one `Wal` (see the module docstring)."""

    def __init__(self, wal: Wal, report: RecoveryReport) -> None:
        self.wal = wal
        self.recovery = report

    @classmethod
    def open(cls, directory: Path, options: WalOptions) -> WalLog:
        """Recover the WAL in `directory` (blocking: run it in a thread)."""
        wal, report = Wal.open(directory, options)
        if report.skipped_bytes:
            log.warning(
                "WAL recovery skipped %d damaged bytes (%d torn, %d corrupt) in files %s.",
                report.skipped_bytes,
                report.torn_bytes,
                report.corrupt_bytes,
                list(report.damaged_files),
            )
        return cls(wal, report)

    async def append_many(self, payloads: Sequence[bytes]) -> list[Position]:
        try:
            if self.wal.options.fsync != "always":
                return await self.wal.append_many(payloads)
            return [await self.wal.append(payload) for payload in payloads]
        except WalFull as exc:
            raise ServiceUnavailableException(
                "The log store is full (its write-ahead log reached wal_max_bytes while a "
                "reader or the sealer is behind); the events were not stored. Retry later."
            ) from exc
        except WalWriteError as exc:
            raise ServiceUnavailableException(
                "The log store could not write the events to disk; they were not stored. "
                "Retry later."
            ) from exc
        except WalClosed as exc:
            raise ServiceUnavailableException(
                "The log store is shutting down; the events were not stored."
            ) from exc
        except ValueError as exc:  # a group larger than the WAL could ever hold
            raise ServiceUnavailableException(
                f"The log store cannot hold this batch ({exc}); it was not stored."
            ) from exc

    def records(self, after: Position | None = None) -> Iterator[tuple[Position, bytes]]:
        return self.wal.records(after)

    def cursor(self, name: str) -> Cursor:
        return self.wal.cursor(name, start="earliest")

    def reader(self, name: str, *, start: Start = "latest") -> WalReader:
        return self.wal.reader(name, start=start)

    def drop_cursor(self, name: str) -> None:
        self.wal.remove_cursor(name)

    @property
    def backpressure(self) -> bool:
        return self.wal.backpressure_active

    def stats(self) -> LogStats:
        wal = self.wal
        lags = {}
        for name in wal.cursors():
            try:
                lags[name] = wal.lag(name)
            except KeyError:  # removed between the two calls
                continue
        return LogStats(
            bytes_on_disk=wal.bytes_on_disk,
            cursor_lag_bytes=lags,
            dropped_appends=wal.dropped_appends,
            backpressure=wal.backpressure_active,
            max_bytes=wal.options.max_bytes,
        )

    async def close(self) -> None:
        await self.wal.close()
