"""The store's numbers for operators: `StoreStats` and the metrics filled from it.

`Store.stats()` takes a `StoreStats` (cheap: in-memory counters, one aggregate catalog
query); `bind_metrics` registers a collector that copies it into the metrics declared in
`logd/telemetry/metrics.py` before each exposition. Counters there only go up, so the
collector adds what the store's running totals grew by since the last collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from logd.telemetry.metrics import Counter, DaemonMetrics

if TYPE_CHECKING:
    from logd.store.store import Store


@dataclass(frozen=True, slots=True)
class StoreStats:
    wal_bytes: int
    """Bytes of WAL files on disk."""
    wal_max_bytes: int
    wal_backpressure: bool
    """Appends are waiting for WAL space right now (wal_on_full = "block")."""
    cursor_lag_bytes: dict[str, int]
    """WAL record bytes each cursor (the sealer's is "sealer") has yet to pass."""
    segments: int
    segment_bytes: int
    """Bytes of the segment files in the catalog."""
    memtable_events: int
    """Acknowledged events not sealed yet."""
    quarantined_segments: int
    sealed_events_total: int
    """Events the sealer wrote into segments since the store opened."""
    dropped_appends_total: int
    """Append batches refused since open (WAL full under "drop", write error, closing)."""
    dropped_events_total: int
    """Events in those batches."""
    deleted_stream_tombstones: int
    """Deleted streams whose events are still hidden at read time (not rewritten yet)."""
    catalog_rebuilt: bool = False
    """This start found the catalog damaged and rebuilt it from the segments (R-21)."""


def bind_metrics(store: Store, metrics: DaemonMetrics) -> None:
    """Fill the store's metrics from `store.stats()` on every collection."""
    seen: dict[str, float] = {}

    def grow(counter: Counter, total: int) -> None:
        delta = total - seen.get(counter.name, 0.0)
        if delta > 0:
            counter.inc(delta)
            seen[counter.name] = float(total)

    def collect() -> None:
        if store.closed:
            return
        s = store.stats()
        metrics.wal_bytes.set(s.wal_bytes)
        metrics.wal_backpressure.set(int(s.wal_backpressure))
        metrics.wal_cursor_lag_bytes.clear()
        for name, lag in s.cursor_lag_bytes.items():
            metrics.wal_cursor_lag_bytes.set(lag, cursor=name)
        metrics.segments.set(s.segments)
        metrics.segment_bytes.set(s.segment_bytes)
        metrics.memtable_events.set(s.memtable_events)
        metrics.quarantined_segments.set(s.quarantined_segments)
        metrics.catalog_rebuilt.set(int(s.catalog_rebuilt))
        grow(metrics.sealed_events, s.sealed_events_total)
        grow(metrics.dropped_appends, s.dropped_appends_total)
        grow(metrics.dropped_events, s.dropped_events_total)

    metrics.registry.on_collect(collect)
