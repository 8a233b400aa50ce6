"""WAL options: one field per config key, each with its default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MiB = 1 << 20

FsyncPolicy = Literal["always", "group", "interval"]
OnFull = Literal["block", "drop"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WalOptions:
    fsync: FsyncPolicy = "group"
    """When an append is durable: "always" = one fsync per append call; "group" = the
    writer thread fsyncs once for everything queued since its last fsync; "interval" =
    at most one fsync every `fsync_interval_ms`. Every policy acknowledges an append only
    after the fsync that covers it."""

    fsync_interval_ms: int = 5
    """Minimum time between two fsyncs under `fsync = "interval"`."""

    segment_bytes: int = 64 * MiB
    """A WAL file is closed and a new one started once the next record would pass this
    size. Files are the unit of deletion."""

    max_bytes: int = 1024 * MiB
    """Bound on WAL bytes on disk (written plus queued). Must be at least two segments."""

    on_full: OnFull = "block"
    """At `max_bytes`: "block" makes appends wait until cursors advance and files are
    deleted; "drop" raises `WalFull` and counts the dropped append."""

    max_record_bytes: int = 8 * MiB
    """Largest payload one record may carry; larger appends raise ValueError."""

    group_commit_max_bytes: int = 16 * MiB
    """Most bytes one group commit writes before its fsync; the rest goes in the next."""

    reader_cache_bytes: int = 8 * MiB
    """Recent durable records kept in memory so that live readers need not re-read them
    from disk."""

    def validate(self) -> None:
        """Raise ValueError naming the key when options contradict each other."""
        if self.fsync not in ("always", "group", "interval"):
            raise ValueError(f'fsync must be "always", "group" or "interval", not {self.fsync!r}')
        if self.on_full not in ("block", "drop"):
            raise ValueError(f'on_full must be "block" or "drop", not {self.on_full!r}')
        if self.fsync_interval_ms < 0:
            raise ValueError("fsync_interval_ms must be >= 0")
        if self.segment_bytes < 4096:
            raise ValueError("segment_bytes must be at least 4096")
        if self.max_bytes < 2 * self.segment_bytes:
            raise ValueError("max_bytes must be at least twice segment_bytes")
        if self.max_record_bytes < 1:
            raise ValueError("max_record_bytes must be positive")
        if self.group_commit_max_bytes < 1:
            raise ValueError("group_commit_max_bytes must be positive")
        if self.reader_cache_bytes < 0:
            raise ValueError("reader_cache_bytes must be >= 0")
