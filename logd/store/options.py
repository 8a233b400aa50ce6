"""Options of the store: one field per config key, each with its default and meaning."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from logd.store.wal.options import FsyncPolicy, OnFull, WalOptions

MiB = 1 << 20
MessageCompression = Literal["zstd", "lz4", "snappy", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreOptions:
    """How the store lays out, seals, compacts and expires data.

    Data directory layout (nothing in it is named after a group or stream)::

        <data_dir>/LOCK                 lock file holding the owner's pid (R-27)
        <data_dir>/catalog.sqlite       the catalog (groups, streams, segments, ...)
        <data_dir>/wal/                 the write-ahead log (logd/store/wal/)
        <data_dir>/memtable/            spill files of unsealed events (a cache, rebuilt
                                        from the log on open)
        <data_dir>/segments/group=<id>/day=YYYY-MM-DD/<name>.parquet
        <data_dir>/quarantine/          segments found damaged (R-21)
        <data_dir>/dlq/                 subscription dead letters
        <data_dir>/subscriptions/batches/  subscription batch boundaries
    """

    fsync: FsyncPolicy = "group"
    """When an append is durable: "always" (an fsync per batch), "group" (one fsync for
    every batch queued meanwhile) or "interval" (fsync every fsync_interval_ms; survives a
    process kill, may lose up to that much on power loss)."""

    fsync_interval_ms: int = 5
    """Minimum time between two WAL fsyncs under fsync = "interval"."""

    wal_max_bytes: int = 1024 * MiB
    """Bound on WAL bytes on disk (plus queued). WAL files go once the sealer and every
    reader cursor passed them; at the bound, `wal_on_full` decides."""

    wal_on_full: OnFull = "block"
    """At wal_max_bytes: "block" pauses appends until space is freed (backpressure; the
    store seals early when the sealer is what holds the space), "drop" refuses them with
    ServiceUnavailableException (counted in dropped appends)."""

    wal_segment_bytes: int = 64 * MiB
    """Size at which a WAL file is closed and a new one started (the unit of deletion)."""

    wal_group_commit_bytes: int = 16 * MiB
    """Most bytes of queued appends the store hands the WAL in one group commit."""

    seal_interval_ms: int = 60_000
    """The oldest unsealed event is sealed into a segment at the latest after this long."""

    seal_max_events: int = 1_000_000
    """Seal as soon as this many events are unsealed."""

    segment_target_bytes: int = 64 * 1024 * 1024
    """Compaction merges small segments of one group and day up to about this size."""

    segment_max_rows: int = 2_000_000
    """A sealed or compacted segment holds at most this many rows."""

    row_group_rows: int = 65_536
    """Rows per Parquet row group (each carries min/max statistics)."""

    message_compression: MessageCompression = "zstd"
    """Codec of the message column in new segments: "zstd" (smallest), "lz4" or "snappy"
    (about 1.7x the bytes, but a full-text search over stored events, such as
    FilterLogEvents with a term pattern, reads them 1.3x to 1.5x faster), or "none". The
    other columns are always zstd. Existing segments keep their codec until compacted."""

    compaction_min_segments: int = 4
    """A group and day with at least this many small segments is compacted."""

    compaction_small_bytes: int = 8 * 1024 * 1024
    """A segment smaller than this counts as small for compaction."""

    retention_sweep_interval_ms: int = 3_600_000
    """How often expired segments are deleted (expired events are hidden at once anyway)."""

    clock_jump_guard_ms: int = 86_400_000
    """A forward wall-clock jump larger than this (measured against the monotonic clock
    since the last check) pauses retention deletion and logs a warning (R-14)."""

    segment_delete_grace_ms: int = 60_000
    """Replaced or expired segment files stay on disk this long for running readers."""

    discovered_fields_max: int = 64
    """At most this many `f.<dotted.path>` columns per segment."""

    discovered_fields_depth: int = 4
    """JSON objects deeper than this are not flattened into columns."""

    discovery_sample_rows: int = 1_024
    """Messages sampled per segment to discover JSON fields."""

    memtable_spill_bytes: int = 32 * 1024 * 1024
    """Unsealed events beyond this many bytes in memory move to memory-mapped spill files."""

    maintenance_tick_ms: int = 1_000
    """How often the background task checks whether to seal, compact or sweep."""

    background_nice: int = 10
    """Nice steps (0 to 19) by which sealing and compaction run below ingest and queries
    (Linux: the thread that does them, and the threads it starts, get their own nice
    value). 0 runs them at the daemon's priority."""

    def wal_options(self) -> WalOptions:
        """The WAL's options, all taken from this one place."""
        return WalOptions(
            fsync=self.fsync,
            fsync_interval_ms=self.fsync_interval_ms,
            segment_bytes=self.wal_segment_bytes,
            max_bytes=self.wal_max_bytes,
            on_full=self.wal_on_full,
            group_commit_max_bytes=self.wal_group_commit_bytes,
        )

    def validate(self) -> None:
        """Cross-field checks; raises ValueError naming the key."""
        if self.fsync not in ("always", "group", "interval"):
            raise ValueError(f"fsync: must be always, group or interval, not {self.fsync!r}")
        if self.message_compression not in ("zstd", "lz4", "snappy", "none"):
            raise ValueError(
                "message_compression: must be zstd, lz4, snappy or none, "
                f"not {self.message_compression!r}"
            )
        if not 0 <= self.background_nice <= 19:
            raise ValueError(f"background_nice: must be 0 to 19, not {self.background_nice}")
        if self.wal_on_full not in ("block", "drop"):
            raise ValueError(f"wal_on_full: must be block or drop, not {self.wal_on_full!r}")
        if self.wal_segment_bytes < 4096:
            raise ValueError("wal_segment_bytes: must be at least 4096")
        if self.wal_max_bytes < 2 * self.wal_segment_bytes:
            raise ValueError("wal_max_bytes: must be at least twice wal_segment_bytes")
        if self.wal_group_commit_bytes > self.wal_max_bytes - self.wal_segment_bytes:
            raise ValueError(
                "wal_group_commit_bytes: must not exceed wal_max_bytes - wal_segment_bytes"
            )
        positive = {
            "fsync_interval_ms": self.fsync_interval_ms,
            "wal_group_commit_bytes": self.wal_group_commit_bytes,
            "seal_interval_ms": self.seal_interval_ms,
            "seal_max_events": self.seal_max_events,
            "segment_target_bytes": self.segment_target_bytes,
            "segment_max_rows": self.segment_max_rows,
            "row_group_rows": self.row_group_rows,
            "compaction_min_segments": self.compaction_min_segments,
            "retention_sweep_interval_ms": self.retention_sweep_interval_ms,
            "clock_jump_guard_ms": self.clock_jump_guard_ms,
            "discovery_sample_rows": self.discovery_sample_rows,
            "memtable_spill_bytes": self.memtable_spill_bytes,
            "background_nice": self.background_nice,
            "maintenance_tick_ms": self.maintenance_tick_ms,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ValueError(f"{key}: must be positive, not {value}")
        if self.compaction_min_segments < 2:
            raise ValueError("compaction_min_segments: must be at least 2")
        if self.discovered_fields_max < 0 or self.discovered_fields_depth < 1:
            raise ValueError("discovered_fields_max/discovered_fields_depth: out of range")
        if self.segment_delete_grace_ms < 0:
            raise ValueError("segment_delete_grace_ms: must not be negative")
        if self.compaction_small_bytes > self.segment_target_bytes:
            raise ValueError("compaction_small_bytes: must not exceed segment_target_bytes")
