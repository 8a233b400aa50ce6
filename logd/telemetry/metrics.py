"""Prometheus metrics: a small registry and every metric logd exports, declared once.

`Registry` holds counters, gauges and histograms with labels and renders the text
exposition format (version 0.0.4). `DaemonMetrics` is the one place a metric is named:
components receive it (or the piece they need) from ``logd/app.py``; nothing is
global. Names follow ``logd_<area>_<thing>_<unit>[_total]``; labels stay bounded
(operation, reason, cursor; never stream names). Hot paths update per batch.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

#: Latency buckets in seconds (sub-millisecond to tens of seconds).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class Metric:
    """A metric family: a name, help, label names and one value per label tuple."""

    kind: Kind

    def __init__(self, name: str, help_text: str, labels: Sequence[str]) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[name]) for name in self.label_names)

    def _render_labels(self, key: tuple[str, ...], extra: str = "") -> str:
        parts = [f'{n}="{_escape(v)}"' for n, v in zip(self.label_names, key, strict=True)]
        if extra:
            parts.append(extra)
        return "{" + ",".join(parts) + "}" if parts else ""

    def samples(self) -> list[str]:
        raise NotImplementedError


class Counter(Metric):
    kind: Kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[tuple[str, ...], float] = {}
        if not self.label_names:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("a counter only goes up")
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        return [
            f"{self.name}{self._render_labels(k)} {_number(v)}"
            for k, v in sorted(self._values.items())
        ]


class Gauge(Metric):
    kind: Kind = "gauge"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[tuple[str, ...], float] = {}

    def set(self, value: float, **labels: str) -> None:
        self._values[self._key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def clear(self) -> None:
        self._values.clear()

    def value(self, **labels: str) -> float:
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        return [
            f"{self.name}{self._render_labels(k)} {_number(v)}"
            for k, v in sorted(self._values.items())
        ]


class Histogram(Metric):
    kind: Kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        # per label tuple: [count per bucket (non-cumulative) ..., +Inf bucket], sum
        self._counts: dict[tuple[str, ...], list[int]] = {}
        self._sums: dict[tuple[str, ...], float] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = [0] * (len(self.buckets) + 1)
            self._sums[key] = 0.0
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self._sums[key] += value

    def count(self, **labels: str) -> int:
        return sum(self._counts.get(self._key(labels), []))

    def samples(self) -> list[str]:
        lines = []
        for key in sorted(self._counts):
            running = 0
            bounds = [*self.buckets, math.inf]
            for bound, count in zip(bounds, self._counts[key], strict=True):
                running += count
                le = f'le="{_number(bound)}"'
                lines.append(f"{self.name}_bucket{self._render_labels(key, le)} {running}")
            lines.append(f"{self.name}_sum{self._render_labels(key)} {_number(self._sums[key])}")
            lines.append(f"{self.name}_count{self._render_labels(key)} {running}")
        return lines


class Registry:
    """Metric families by name; a name can be declared only once."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._collectors: list[Callable[[], None]] = []

    def _add(self, metric: Metric) -> None:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is declared twice")
        self._metrics[metric.name] = metric

    def register(self, metric: Metric) -> None:
        """Add a metric family of a custom kind (one whose samples it renders itself)."""
        self._add(metric)

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        metric = Counter(name, help_text, labels)
        self._add(metric)
        return metric

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Gauge:
        metric = Gauge(name, help_text, labels)
        self._add(metric)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        metric = Histogram(name, help_text, labels, buckets)
        self._add(metric)
        return metric

    def on_collect(self, callback: Callable[[], None]) -> None:
        """Run `callback` before each exposition (gauges read from live state)."""
        self._collectors.append(callback)

    def names(self) -> list[str]:
        return sorted(self._metrics)

    def expose(self) -> str:
        for collect in self._collectors:
            collect()
        out: list[str] = []
        for name in sorted(self._metrics):
            metric = self._metrics[name]
            out.append(f"# HELP {name} {metric.help}")
            out.append(f"# TYPE {name} {metric.kind}")
            out.extend(metric.samples())
        return "\n".join(out) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: The tail agent's counters (`TailAgent.metrics`, `StoreSink.metrics`), exported as
#: ``logd_tail_<name>``; docs/tail.md says when each moves.
TAIL_COUNTERS: dict[str, str] = {
    "read_lines_total": "Lines read from tailed files.",
    "events_total": "Events emitted (a multi-line event counts once).",
    "emits_total": "Batches emitted to the store.",
    "rotations_total": "Rotations seen (a followed file renamed or replaced).",
    "truncations_total": "Files found shorter than their offset (copytruncate, `: >`).",
    "rewrites_total": "Files whose head changed under the same inode (new generation).",
    "copies_total": "New files recognised as copies of content already read (copytruncate).",
    "copy_bytes_skipped_total": "Bytes of recognised copies not read again (already stored).",
    "decode_errors_total": "Lines with bytes invalid in the entry's encoding (replaced).",
    "long_lines_split_total": "Lines over max_event_bytes split into parts.",
    "long_lines_truncate_total": "Lines over max_event_bytes truncated.",
    "long_lines_drop_total": "Lines over max_event_bytes dropped.",
    "timestamp_failures_total": "Events whose timestamp did not parse (read time used).",
    "out_of_window_total": "Events outside the 14 d / +2 h acceptance window.",
    "out_of_window_dropped_total": "Out-of-window events dropped (out_of_window = drop).",
    "empty_lines_total": "Empty lines skipped.",
    "lost_bytes_deleted_total": "Unread bytes of deleted files released after the hold.",
    "lost_bytes_vanished_total": "Unread bytes of files that vanished while closed.",
    "lost_files_total": "Files with saved state no longer found.",
    "files_released_total": "Drained rotated or deleted files released.",
    "files_parked_total": "Idle files closed to stay within max_open_files.",
    "fd_budget_lowered_total": "Descriptor budget lowered: EMFILE/ENFILE below max_open_files.",
    "ignored_older_total": "Files started at their end by ignore_older_s.",
    "checkpoint_corrupt_total": "Saved checkpoints that could not be decoded (ignored).",
    "read_errors_total": "Read errors (and failed emits) on tailed files; retried.",
    "watch_errors_total": "inotify failures (the agent polls instead).",
    "stored_events_total": "Tailed events the store accepted.",
    "rejected_events_total": "Tailed events the store refused (outside its window, invalid).",
    "rejected_batches_total": "Tailed batches the store refused whole (dropped, counted).",
    "store_retries_total": "Store appends of tailed events retried after a failure.",
    "groups_created_total": "Log groups the agent created.",
    "streams_created_total": "Log streams the agent created.",
}
#: Counters also exported as one labelled family: reason -> counter name.
TAIL_LOST_BYTES: dict[str, str] = {
    "deleted": "lost_bytes_deleted_total",
    "vanished": "lost_bytes_vanished_total",
}
#: `TailAgent.gauges()`, exported as ``logd_tail_<name>``.
TAIL_GAUGES: dict[str, str] = {
    "files_watched": "Files being followed.",
    "files_open": "Followed files with an open descriptor.",
    "files_unreadable": "Matching files that cannot be opened (permissions).",
    "dirs_watched": "Directories watched with inotify.",
    "file_lag_bytes": "Bytes written to followed files and not yet stored.",
}


class SubscriptionMetrics:
    """Per-subscription delivery (label `subscription` = `<group>:<filter>`: at most
    `max_filters_per_group` per group). Filled on collect from the service's figures."""

    def __init__(self, r: Registry) -> None:
        self.delivered_events = r.counter(
            "logd_subscription_delivered_events_total",
            "Events acknowledged by the sink.",
            ["subscription", "sink"],
        )
        self.delivered_batches = r.counter(
            "logd_subscription_delivered_batches_total",
            "Batches acknowledged by the sink.",
            ["subscription", "sink"],
        )
        self.retries = r.counter(
            "logd_subscription_retries_total",
            "Send attempts retried, by error class (timeout, RetryableError, unclassified...).",
            ["subscription", "class"],
        )
        self.failed_attempts = r.counter(
            "logd_subscription_failed_attempts_total",
            "Send attempts that did not deliver (retried, split or dead-lettered).",
            ["subscription"],
        )
        self.dead_lettered_events = r.counter(
            "logd_subscription_dead_lettered_events_total",
            "Events moved to the dead-letter store.",
            ["subscription"],
        )
        self.lag_bytes = r.gauge(
            "logd_subscription_lag_bytes",
            "Log bytes past the subscription's cursor.",
            ["subscription"],
        )
        self.lag_seconds = r.gauge(
            "logd_subscription_lag_seconds",
            "Age of the oldest event read but not yet acknowledged.",
            ["subscription"],
        )
        self.state = r.gauge(
            "logd_subscription_state",
            "1 for the subscription's current state (RUNNING, RETRYING, PAUSED_AUTH).",
            ["subscription", "state"],
        )


class DaemonMetrics:
    """Every metric the daemon exports. Later issues add theirs here, once."""

    def __init__(self, registry: Registry | None = None) -> None:
        r = self.registry = registry or Registry()
        self.build_info = r.gauge(
            "logd_build_info", "Always 1; labels name the build.", ["version"]
        )
        self.ingest_events = r.counter(
            "logd_ingest_events_total", "Events accepted into the store.", ["path"]
        )
        self.ingest_bytes = r.counter(
            "logd_ingest_bytes_total",
            "Bytes accepted (message UTF-8 bytes + 26 per event).",
            ["path"],
        )
        self.ingest_rejected = r.counter(
            "logd_ingest_rejected_total",
            "Events not stored, by reason (too_old, too_new, expired, invalid_request, log_full).",
            ["reason"],
        )
        self.ingest_ack_seconds = r.histogram(
            "logd_ingest_ack_seconds", "Time from request to durable acknowledgement."
        )
        self.api_requests = r.counter(
            "logd_api_requests_total",
            "API requests by operation and outcome.",
            ["operation", "code"],
        )
        self.api_request_seconds = r.histogram(
            "logd_api_request_seconds", "API request latency by operation.", ["operation"]
        )
        self.api_in_flight = r.gauge("logd_api_requests_in_flight", "API requests being served.")
        self.wal_bytes = r.gauge("logd_wal_bytes", "Bytes of WAL files on disk.")
        self.wal_cursor_lag_bytes = r.gauge(
            "logd_wal_cursor_lag_bytes", "WAL bytes each cursor has yet to read.", ["cursor"]
        )
        self.segments = r.gauge("logd_segments", "Sealed Parquet segments in the catalog.")
        self.wal_backpressure = r.gauge(
            "logd_wal_backpressure", "1 while appends wait for WAL space (wal_on_full = block)."
        )
        self.segment_bytes = r.gauge(
            "logd_segment_bytes", "Bytes of the sealed Parquet segments in the catalog."
        )
        self.memtable_events = r.gauge(
            "logd_store_memtable_events", "Acknowledged events not sealed into segments yet."
        )
        self.quarantined_segments = r.gauge(
            "logd_store_quarantined_segments", "Damaged segments moved to quarantine/."
        )
        self.catalog_rebuilt = r.gauge(
            "logd_store_catalog_rebuilt",
            "1 if this start found the catalog damaged and rebuilt it from the segments.",
        )
        self.sealed_events = r.counter(
            "logd_store_sealed_events_total", "Events the sealer wrote into segments."
        )
        self.dropped_appends = r.counter(
            "logd_store_dropped_appends_total",
            "Append batches refused (WAL full under wal_on_full = drop, write error, closing).",
        )
        self.dropped_events = r.counter(
            "logd_store_dropped_events_total", "Events in the refused append batches."
        )
        self.config_reloads = r.counter(
            "logd_config_reloads_total", "SIGHUP reloads by result (applied, rejected).", ["result"]
        )
        self.process_rss_bytes = r.gauge(
            "logd_process_resident_memory_bytes", "Resident set size of the daemon."
        )
        self.process_open_fds = r.gauge("logd_process_open_fds", "Open file descriptors.")
        self.process_uptime_seconds = r.gauge(
            "logd_process_uptime_seconds", "Seconds since the daemon started."
        )
        self.subscriptions = SubscriptionMetrics(r)
        self.tail_counters = {
            name: r.counter(f"logd_tail_{name}", text) for name, text in TAIL_COUNTERS.items()
        }
        self.tail_gauges = {
            name: r.gauge(f"logd_tail_{name}", text) for name, text in TAIL_GAUGES.items()
        }
        self.tail_lost_bytes = r.counter(
            "logd_tail_lost_bytes_total",
            "Unread bytes of tailed files lost, by reason: deleted (released after "
            "deleted_hold_max_ms) or vanished (gone while closed). The same figures as "
            "logd_tail_lost_bytes_<reason>_total, labelled as the expectations name them.",
            ["reason"],
        )
