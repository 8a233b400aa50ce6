"""Metrics exposition format and JSON log lines."""

from __future__ import annotations

import io
import json
import logging

import pytest

from logd.telemetry import logs
from logd.telemetry.metrics import DaemonMetrics, Registry


def test_counter_gauge_histogram_exposition() -> None:
    r = Registry()
    c = r.counter("x_events_total", "Events.", ["path"])
    g = r.gauge("x_lag", "Lag.", ["cursor"])
    h = r.histogram("x_seconds", "Latency.", ["op"], buckets=(0.1, 1))
    c.inc(3, path="http")
    c.inc(path="http")
    g.set(7, cursor='a"b')
    for v in (0.05, 0.5, 5):
        h.observe(v, op="Put")
    text = r.expose()
    assert '# TYPE x_events_total counter\nx_events_total{path="http"} 4\n' in text
    assert 'x_lag{cursor="a\\"b"} 7' in text
    assert 'x_seconds_bucket{op="Put",le="0.1"} 1' in text
    assert 'x_seconds_bucket{op="Put",le="1"} 2' in text
    assert 'x_seconds_bucket{op="Put",le="+Inf"} 3' in text
    assert 'x_seconds_count{op="Put"} 3' in text
    assert 'x_seconds_sum{op="Put"} 5.55' in text


def test_a_metric_is_declared_once_and_labels_are_checked() -> None:
    r = Registry()
    c = r.counter("a_total", "A.", ["k"])
    with pytest.raises(ValueError, match="declared twice"):
        r.gauge("a_total", "again")
    with pytest.raises(ValueError, match="takes labels"):
        c.inc(other="x")


def test_daemon_metrics_all_prefixed_and_collectors_run() -> None:
    m = DaemonMetrics()
    m.registry.on_collect(lambda: m.segments.set(12))
    assert all(name.startswith("logd_") for name in m.registry.names())
    assert "logd_segments 12" in m.registry.expose()


def test_json_log_lines_carry_fields() -> None:
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    log = logging.getLogger("logd.test")
    log.info("Listening.", extra=logs.fields(listen="127.0.0.1:1", msg="clash"))
    log.debug("hidden")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["msg"] == "Listening."
    assert record["listen"] == "127.0.0.1:1"
    assert record["field_msg"] == "clash"
    assert record["level"] == "info"
    logs.configure("warning", "text", io.StringIO())
