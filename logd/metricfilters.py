"""Metric filters: filter patterns evaluated on ingest, exported as Prometheus counters.

A metric filter (PutMetricFilter) turns matching events of a log group into a metric
value: a number, or a field the pattern selects (`$.latency`, `$size`). logd keeps the
running sums as two counter families on ``/metrics``:

- ``logd_metric_filter_value_total``: the sum of metric values;
- ``logd_metric_filter_events_total``: the number of events that produced a value;

labelled ``metric_name``, ``metric_namespace``, ``filter_name``, ``log_group`` and one
``dim_<key>`` label per dimension, so Prometheus' ``increase(...[1m])`` gives what a
CloudWatch metric's per-minute Sum and SampleCount would be, and an Alertmanager rule
turns "5 ERRORs in a minute" into an alarm. A `defaultValue` is added once per event that
did not match (CloudWatch emits it for non-matching events).

`MetricFilterService` is the daemon's glue: filters persist in the store's catalog
(`put_metric_filter` & co.), are loaded into the engine at startup, and the service's
`on_append` is registered with `Store.add_append_observer`, so matching runs on every
accepted batch once it is durable. Filters of a deleted group stop matching at once (the
catalog drops their rows; the service notices the group is gone or is a new one).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from logd.clock import Clock
from logd.errors import (
    InvalidOperationException,
    InvalidParameterException,
    LimitExceededException,
)
from logd.store.catalog import SQLiteCatalog
from logd.store.catalog_metricfilters import MetricFilterRecord
from logd.store.regexquota import FilterRef, check_regex_quota, group_filters
from logd.store.store import Store
from logd.telemetry.metrics import Metric, Registry, _escape, _number
from query import FilterPattern, FilterPatternError, JsonCache, compile_filter_pattern

#: CloudWatch's limit of metric filters per log group.
MAX_FILTERS_PER_GROUP = 100
MAX_DIMENSIONS = 3
#: classes that take no metric filters (logs-api.md §5.7)
_NO_FILTER_CLASSES = ("INFREQUENT_ACCESS", "ESSENTIALS", "DELIVERY")
log = logging.getLogger("logd.metricfilters")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricTransformation:
    metric_name: str
    metric_namespace: str
    metric_value: str
    default_value: float | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    unit: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metricName": self.metric_name,
            "metricNamespace": self.metric_namespace,
            "metricValue": self.metric_value,
        }
        if self.default_value is not None:
            out["defaultValue"] = self.default_value
        if self.dimensions:
            out["dimensions"] = dict(self.dimensions)
        if self.unit is not None:
            out["unit"] = self.unit
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetricTransformation:
        return cls(
            metric_name=data["metricName"],
            metric_namespace=data["metricNamespace"],
            metric_value=data["metricValue"],
            default_value=data.get("defaultValue"),
            dimensions=dict(data.get("dimensions") or {}),
            unit=data.get("unit"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricFilter:
    group: str
    name: str
    pattern: str
    transformation: MetricTransformation
    creation_time: int


@dataclass(slots=True)
class _Compiled:
    spec: MetricFilter
    pattern: FilterPattern
    value: float | None  # a constant metricValue, else None (a selector)
    labels: tuple[tuple[str, str], ...]  # fixed labels; dimension selectors filled per event


def compile_metric_filter(spec: MetricFilter) -> _Compiled:
    """Check a metric filter as PutMetricFilter does; InvalidParameterException if wrong."""
    try:
        pattern = compile_filter_pattern(spec.pattern)
    except FilterPatternError as exc:
        raise InvalidParameterException(f"Invalid metric filter pattern: {exc.headline()}") from exc
    t = spec.transformation
    value: float | None = None
    if _NUMBER.fullmatch(t.metric_value.strip()):
        value = float(t.metric_value)
    else:
        _check_selector(pattern, t.metric_value, "metricValue")
    if len(t.dimensions) > MAX_DIMENSIONS:
        raise InvalidParameterException(
            f"A metric filter can have at most {MAX_DIMENSIONS} dimensions."
        )
    for key, selector in t.dimensions.items():
        _check_selector(pattern, selector, f"dimensions.{key}")
    labels = (
        ("filter_name", spec.name),
        ("log_group", spec.group),
        ("metric_name", t.metric_name),
        ("metric_namespace", t.metric_namespace),
    )
    return _Compiled(spec, pattern, value, labels)


def _check_selector(pattern: FilterPattern, selector: str, member: str) -> None:
    try:
        pattern.check_selector(selector)
    except FilterPatternError as exc:
        raise InvalidParameterException(f"Invalid {member} '{selector}': {exc.headline()}") from exc


class _DimensionedCounter(Metric):
    """A counter whose label set depends on the filter's dimensions."""

    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text, ())
        self.values: dict[tuple[tuple[str, str], ...], float] = {}

    def add(self, labels: tuple[tuple[str, str], ...], amount: float) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def drop(self, group: str, name: str) -> None:
        for key in [
            k for k in self.values if ("log_group", group) in k and ("filter_name", name) in k
        ]:
            del self.values[key]

    def samples(self) -> list[str]:
        lines = []
        for labels, value in sorted(self.values.items()):
            rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{self.name}{{{rendered}}} {_number(value)}")
        return lines


class MetricFilterEngine:
    """Evaluates every metric filter of a group on each accepted batch."""

    def __init__(self, registry: Registry) -> None:
        self._filters: dict[str, dict[str, _Compiled]] = {}
        self.values = _DimensionedCounter(
            "logd_metric_filter_value_total", "Sum of metric filter values, by metric."
        )
        self.events = _DimensionedCounter(
            "logd_metric_filter_events_total", "Events that produced a metric filter value."
        )
        registry.register(self.values)
        registry.register(self.events)

    def put(self, spec: MetricFilter) -> None:
        compiled = compile_metric_filter(spec)
        group = self._filters.setdefault(spec.group, {})
        if spec.name not in group and len(group) >= MAX_FILTERS_PER_GROUP:
            raise LimitExceededException("Resource limit exceeded.")
        if spec.name in group:
            self._drop_series(spec.group, spec.name)
        group[spec.name] = compiled

    def delete(self, group: str, name: str) -> None:
        if self._filters.get(group, {}).pop(name, None) is not None:
            self._drop_series(group, name)

    def drop_group(self, group: str) -> None:
        for name in list(self._filters.pop(group, {})):
            self._drop_series(group, name)

    def _drop_series(self, group: str, name: str) -> None:
        self.values.drop(group, name)
        self.events.drop(group, name)

    def count(self, group: str) -> int:
        return len(self._filters.get(group, {}))

    def observe(self, group: str, messages: Sequence[str]) -> None:
        """Apply the group's filters to one accepted batch (called after it is durable)."""
        filters = self._filters.get(group)
        if not filters or not messages:
            return
        cache = JsonCache(messages)
        for compiled in filters.values():
            self._apply(compiled, messages, cache)

    def _apply(self, f: _Compiled, messages: Sequence[str], cache: JsonCache) -> None:
        mask = f.pattern.match_batch(messages, cache)
        t = f.spec.transformation
        matched = sum(mask)
        if t.default_value is not None and matched < len(mask):
            unmatched = len(mask) - matched
            if not t.dimensions:  # CloudWatch: no default value for dimensioned metrics
                self.values.add(f.labels, t.default_value * unmatched)
        if not matched:
            return
        if f.value is not None and not t.dimensions:
            self.values.add(f.labels, f.value * matched)
            self.events.add(f.labels, float(matched))
            return
        for message, hit in zip(messages, mask, strict=True):
            if not hit:
                continue
            value = (
                f.value
                if f.value is not None
                else _as_number(f.pattern.extract(message, t.metric_value))
            )
            if value is None:
                continue  # a selected field that is absent or not numeric emits nothing
            labels = f.labels
            if t.dimensions:
                dims = []
                for key, selector in sorted(t.dimensions.items()):
                    dim = f.pattern.extract(message, selector)
                    dims.append(
                        (f"dim_{_LABEL_CHARS.sub('_', key)}", "" if dim is None else _text(dim))
                    )
                labels = tuple(sorted((*labels, *dims)))
            self.values.add(labels, value)
            self.events.add(labels, 1.0)


def _as_number(value: str | float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, float | int):
        return float(value)
    text = value.strip()
    return float(text) if _NUMBER.fullmatch(text) else None


def _text(value: str | float) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@functools.lru_cache(maxsize=1024)
def uses_regex(pattern: str) -> bool:
    """Whether a (stored, so valid) filter pattern holds a regex."""
    try:
        return compile_filter_pattern(pattern).uses_regex
    except FilterPatternError:
        return False


def record_to_filter(row: MetricFilterRecord) -> MetricFilter:
    return MetricFilter(
        group=row.group,
        name=row.name,
        pattern=row.pattern,
        transformation=MetricTransformation.from_json(orjson.loads(row.transformation)),
        creation_time=row.creation_time,
    )


def evaluate_test_messages(pattern_text: str, messages: Sequence[str]) -> list[dict[str, Any]]:
    """TestMetricFilter: one match record per matching message, 1-based `eventNumber`."""
    try:
        pattern = compile_filter_pattern(pattern_text)
    except FilterPatternError as exc:
        raise InvalidParameterException(f"Invalid metric filter pattern: {exc.headline()}") from exc
    matches = []
    for number, message in enumerate(messages, start=1):
        values = pattern.test(message)
        if values is not None:
            matches.append(
                {"eventNumber": number, "eventMessage": message, "extractedValues": values}
            )
    return matches


class MetricFilterService:
    """Metric filters of the daemon: catalog rows + the engine, fed by the store on ingest."""

    def __init__(self, store: Store, registry: Registry, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.engine = MetricFilterEngine(registry)
        self._group_ids: dict[str, int] = {}  # group name -> id its filters were put for
        #: filters of a group that are not in the catalog (the composition root points it
        #: at the subscription filters declared in the configuration file)
        self.configured_filters: Callable[[str], list[FilterRef]] = lambda group: []
        registry.on_collect(self.prune)  # a deleted group's series leave /metrics

    def load(self) -> int:
        """Load every stored filter into the engine (blocking; call once at startup)."""
        loaded = 0
        for row in self.store.catalog.all_metric_filters():
            group = self.store.catalog.get_group(row.group)
            if group is None:
                continue
            try:
                self.engine.put(record_to_filter(row))
            except (InvalidParameterException, LimitExceededException) as exc:
                log.error("Stored metric filter %s/%s is unusable: %s", row.group, row.name, exc)
                continue
            self._group_ids[row.group] = group.id
            loaded += 1
        return loaded

    async def put(
        self,
        group: str,
        name: str,
        pattern: str,
        transformation: MetricTransformation,
        options: dict[str, Any] | None = None,
    ) -> MetricFilter:
        record = self.store.catalog.require_group(group)
        if record.log_group_class in _NO_FILTER_CLASSES:
            raise InvalidOperationException(
                f"Metric filters are not supported in {record.log_group_class} log groups."
            )
        spec = MetricFilter(
            group=group,
            name=name,
            pattern=pattern,
            transformation=transformation,
            creation_time=self.clock.now_ms(),
        )
        compile_metric_filter(spec)  # refuses a bad pattern or selector before storing
        catalog = self.store.catalog
        async with self.store.filter_puts:  # no subscription filter put in between
            if uses_regex(pattern) and isinstance(catalog, SQLiteCatalog):
                filters = await asyncio.to_thread(group_filters, catalog, group)
                filters += self.configured_filters(group)
                check_regex_quota(filters, "metric", name, pattern, uses_regex)
            await asyncio.to_thread(
                self.store.catalog.put_metric_filter,
                group,
                name,
                pattern=pattern,
                transformation=orjson.dumps(transformation.to_json()).decode(),
                metric_name=transformation.metric_name,
                metric_namespace=transformation.metric_namespace,
                now_ms=spec.creation_time,
                max_per_group=MAX_FILTERS_PER_GROUP,
                options=orjson.dumps(options or {}).decode(),
            )
        self._forget_if_stale(group)
        self.engine.put(spec)
        self._group_ids[group] = record.id
        return spec

    async def delete(self, group: str, name: str) -> None:
        await asyncio.to_thread(self.store.catalog.delete_metric_filter, group, name)
        self.engine.delete(group, name)

    def _forget_if_stale(self, group: str) -> bool:
        """Drop the engine's filters of a group that was deleted (or deleted and re-created)."""
        known = self._group_ids.get(group)
        if known is None:
            return False
        current = self.store.catalog.get_group(group)
        if current is not None and current.id == known:
            return False
        self.engine.drop_group(group)
        del self._group_ids[group]
        return True

    def prune(self) -> None:
        """Forget the filters (and series) of every group deleted since they were put."""
        for group in list(self._group_ids):
            self._forget_if_stale(group)

    def on_append(self, group: str, stream: str, messages: pa.StringArray) -> None:
        """The store's append observer: apply the group's filters to a durable batch."""
        if not self.engine.count(group) or self._forget_if_stale(group):
            return
        self.engine.observe(group, messages.to_pylist())
