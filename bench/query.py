"""Insights engine benchmark: five realistic queries over zstd Parquet with typed columns.

N JSON events from /work/shared/tools/gen_logs.py are written to zstd Parquet the way the
store seals them (event columns plus typed `f.<path>` columns for discovered JSON fields).
Each query of the benchmark set runs through `query.run_query` (cold: the first run in
this process; warm: the best of three), against DuckDB reading the raw NDJSON file with
`read_json` and against a plain orjson loop over the same file, in the same run.

    python3 bench/query.py            # 5,000,000 events
    python3 bench/query.py --quick    # 200,000 events, well under a minute

Last line: RESULT min_ratio_vs_duckdb_ndjson=... field_events_per_s=...
field_ratio_vs_duckdb_ndjson=... ratio_vs_python=... (ratios: baseline time / engine warm
time, the minimum over the five queries; "field" is query 1, a filter on a discovered field
and stats by another). Baselines compute the same answer: where Insights implies the default
order (newest first) before a limit, the baselines sort too. The Parquet file carries a
`message_bytes` column, so bytesScanned costs nothing; without it every query reads every
message once more.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from query import InsightsOptions, ParquetFileSource, run_query  # noqa: E402 - path set

#: the same two threads DuckDB gets for the NDJSON baseline
OPTIONS = InsightsOptions(threads=2, memory_limit_mb=4096)

SHARED = Path(os.environ.get("LOGD_SHARED", "/work/shared"))
GROUP = "bench"

#: (name, Insights query, DuckDB SQL over read_json, Python over parsed events)
QUERIES: list[tuple[str, str, str]] = [
    (
        "filter+stats by field",
        'filter level = "ERROR" | stats count(*) as n by service | sort n desc',
        "SELECT service, count(*) AS n FROM {src} WHERE level = 'ERROR' "
        "GROUP BY service ORDER BY n DESC",
    ),
    (
        "avg+pct by bin(5m)",
        "stats avg(latency_ms) as mean, pct(latency_ms, 95) as p95 by bin(5m) as t | sort t asc",
        "SELECT time_bucket(INTERVAL 5 MINUTE, CAST(timestamp AS TIMESTAMP)) AS t, "
        "avg(latency_ms), quantile_disc(latency_ms, 0.95) FROM {src} GROUP BY t ORDER BY t",
    ),
    (
        "regex filter+sort+limit",
        r"filter @message like /retrying request \[worker-\d+\] attempt [23]/ "
        "| sort @timestamp desc | limit 100",
        "SELECT * FROM {src} WHERE regexp_matches(message, "
        r"'retrying request \[worker-\d+\] attempt [23]') ORDER BY timestamp DESC LIMIT 100",
    ),
    (
        "parse+stats",
        'parse message "rows=* table=*" as rows, tbl | filter ispresent(tbl) '
        "| stats sum(rows) as total, count(*) as n by tbl | sort total desc",
        r"SELECT regexp_extract(message, 'rows=(\d+) table=(\S+)', 2) AS tbl, "
        r"sum(CAST(regexp_extract(message, 'rows=(\d+) table=', 1) AS BIGINT)) AS total, "
        "count(*) FROM {src} WHERE regexp_matches(message, 'rows=.* table=') "
        "GROUP BY tbl ORDER BY total DESC",
    ),
    (
        "fields+numeric filter+limit",
        "fields @timestamp, user, status, latency_ms | filter status >= 500 and latency_ms > 100 "
        "| limit 50",
        "SELECT timestamp, user, status, latency_ms FROM {src} "
        "WHERE status >= 500 AND latency_ms > 100 ORDER BY timestamp DESC LIMIT 50",
    ),
]


def py_filter_stats(events: Any) -> Any:
    counts: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("level") == "ERROR":
            counts[e.get("service")] += 1
    return counts.most_common()


def py_bins(events: Any) -> Any:
    groups: dict[int, list[float]] = collections.defaultdict(list)
    for e in events:
        ms = _iso_ms(e["timestamp"])
        groups[ms - ms % 300_000].append(e["latency_ms"])
    out = []
    for key in sorted(groups):
        values = sorted(groups[key])
        rank = max(1, math.ceil(0.95 * len(values)))
        out.append((key, sum(values) / len(values), values[rank - 1]))
    return out


def py_regex(events: Any, lines: Any) -> Any:
    import re2

    pattern = re2.compile(r"retrying request \[worker-\d+\] attempt [23]")
    hits = [
        (e["timestamp"], line)
        for e, line in zip(events, lines, strict=True)
        if pattern.search(line)
    ]
    hits.sort(key=lambda h: h[0], reverse=True)
    return hits[:100]


def py_parse(events: Any) -> Any:
    import re2

    pattern = re2.compile(r"(?s)rows=(.*?) table=(.*)")
    totals: collections.Counter[str] = collections.Counter()
    for e in events:
        m = pattern.search(e.get("message", ""))
        if m:
            totals[m.group(2)] += int(m.group(1))
    return totals.most_common()


def py_fields(events: Any) -> Any:
    out = []
    for e in events:
        if e.get("status", 0) >= 500 and e.get("latency_ms", 0) > 100:
            out.append((e["timestamp"], e.get("user"), e["status"], e["latency_ms"]))
    out.sort(key=lambda row: row[0], reverse=True)  # the default order: newest first
    return out[:50]


def _iso_ms(text: str) -> int:
    import datetime

    moment = datetime.datetime.fromisoformat(text)
    return int(moment.timestamp() * 1000)


def python_loop(path: Path, index: int) -> float:
    """One pass over the file with orjson, doing query `index`; seconds."""
    started = time.perf_counter()
    with path.open("rb") as handle:
        lines = handle.read().splitlines()
    events = [orjson.loads(line) for line in lines]
    runners: list[Callable[[], Any]] = [
        lambda: py_filter_stats(events),
        lambda: py_bins(events),
        lambda: py_regex(events, (line.decode() for line in lines)),
        lambda: py_parse(events),
        lambda: py_fields(events),
    ]
    runners[index]()
    return time.perf_counter() - started


def discover(path: Path, sample: int = 20_000) -> dict[str, str]:
    """Flattened JSON paths of a sample and their DuckDB types (the store's discovery)."""
    seen: dict[str, set[str]] = collections.defaultdict(set)

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                walk(f"{prefix}.{i}", inner)
        elif value is not None:
            seen[prefix].add(type(value).__name__)

    with path.open("rb") as handle:
        for i, line in enumerate(handle):
            if i >= sample:
                break
            walk("", orjson.loads(line))
    types: dict[str, str] = {}
    for name, kinds in seen.items():
        if kinds == {"bool"}:
            types[name] = "BOOLEAN"
        elif kinds == {"int"}:
            types[name] = "BIGINT"
        elif kinds <= {"int", "float"}:
            types[name] = "DOUBLE"
        else:
            types[name] = "VARCHAR"
    return types


def write_parquet(ndjson: Path, parquet: Path) -> dict[str, str]:
    types = discover(ndjson)
    con = duckdb.connect(config={"threads": "2"})
    lines = (
        f"read_csv('{ndjson}', columns={{'message': 'VARCHAR'}}, header=false, delim='\\x01', "
        "quote='', escape='', auto_detect=false, max_line_size=10000000)"
    )
    typed = ", ".join(
        f"TRY_CAST(json_extract_string(message, '$.{_json_path(p)}') AS {t}) AS \"f.{p}\""
        for p, t in sorted(types.items())
    )
    con.execute(
        f"COPY (SELECT '{GROUP}' AS \"group\", "  # noqa: S608 - our names, no user input
        "coalesce(json_extract_string(message, '$.host'), 'main') AS stream, "
        "epoch_ms(CAST(json_extract_string(message, '$.timestamp') AS TIMESTAMP)) AS timestamp, "
        "epoch_ms(CAST(json_extract_string(message, '$.timestamp') AS TIMESTAMP)) + 150 "
        "AS ingestion_time, row_number() OVER () AS seq, message, "
        "CAST(strlen(message) AS INTEGER) AS message_bytes, "
        f"{typed} FROM {lines} ORDER BY timestamp) "
        f"TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)"
    )
    con.close()
    return types


def _json_path(path: str) -> str:
    parts = []
    for part in path.split("."):
        parts.append(f"[{part}]" if part.isdigit() else f'"{part}"')
    return ".".join(parts).replace(".[", "[")


def baseline(sql: str) -> float:
    """DuckDB over the raw NDJSON file, two threads as the engine gets; seconds."""
    con = duckdb.connect(config={"threads": "2"})
    try:
        return timed(lambda: con.execute(sql).fetchall())
    finally:
        con.close()


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--quick", action="store_true", help="200,000 events")
    args.add_argument("--events", type=int, default=None)
    args.add_argument("--workdir", default=None)
    opts = args.parse_args()
    n = opts.events or (200_000 if opts.quick else 5_000_000)
    with tempfile.TemporaryDirectory(dir=opts.workdir) as tmp:
        ndjson, parquet = Path(tmp) / "events.ndjson", Path(tmp) / "events.parquet"
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(SHARED / "tools/gen_logs.py"),
                "--lines",
                str(n),
                "--kind",
                "json",
                "--out",
                str(ndjson),
            ],
            check=True,
            capture_output=True,
        )
        generated = time.perf_counter() - started
        started = time.perf_counter()
        types = write_parquet(ndjson, parquet)
        print(
            f"events={n} ndjson_mb={ndjson.stat().st_size / 1e6:.0f} "
            f"parquet_mb={parquet.stat().st_size / 1e6:.0f} typed_columns={len(types)} "
            f"generate_s={generated:.1f} parquet_s={time.perf_counter() - started:.1f}"
        )
        source = ParquetFileSource([parquet])

        def engine(text: str) -> float:
            def go() -> None:
                result = run_query(
                    text, source, groups=[GROUP], start_ms=0, end_ms=2**62, options=OPTIONS
                )
                if not result.rows:
                    raise SystemExit(f"no rows for {text!r}")

            return timed(go)

        ndjson_src = f"read_json('{ndjson}', format='newline_delimited')"
        ratios_duck, ratios_py = [], []
        field_rate = field_ratio = 0.0
        for index, (name, text, duck_sql) in enumerate(QUERIES):
            cold = engine(text)
            warm = min(engine(text) for _ in range(3))
            duck = min(baseline(duck_sql.format(src=ndjson_src)) for _ in range(2))
            python = python_loop(ndjson, index)
            ratios_duck.append(duck / warm)
            ratios_py.append(python / warm)
            if index == 0:
                field_rate, field_ratio = n / warm, duck / warm
            print(
                f"q{index + 1} {name:30s} cold_s={cold:.3f} warm_s={warm:.3f} "
                f"duckdb_ndjson_s={duck:.3f} python_s={python:.3f} "
                f"x_duckdb={duck / warm:.1f} x_python={python / warm:.1f}"
            )
        print(
            f"RESULT min_ratio_vs_duckdb_ndjson={min(ratios_duck):.2f} "
            f"field_events_per_s={field_rate:.0f} field_ratio_vs_duckdb_ndjson={field_ratio:.2f} "
            f"ratio_vs_python={min(ratios_py):.2f}"
        )


if __name__ == "__main__":
    main()
