"""Filter-pattern throughput: the compiled predicate and its DuckDB SQL form (over an Arrow
table like the memtable, and over a zstd Parquet segment) against a naive
baseline, over realistic events from shared/tools/gen_logs.py (mixed JSON and text lines).

    python3 bench/filter.py            # 1,000,000 events
    python3 bench/filter.py --quick    # 100,000 events (< 1 minute)

Goals: terms >= 3M events/s, JSON >= 700k events/s (predicate), SQL >= 10M events/s.
The last line is `RESULT key=value ...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from query.filterpattern import JsonCache, compile  # noqa: E402 - after the path setup

SHARED = Path(os.environ.get("LOGD_SHARED", ROOT.parent.parent / "shared"))
GEN_LOGS = SHARED / "tools" / "gen_logs.py"
if not GEN_LOGS.is_file():
    GEN_LOGS = Path("/work/shared/tools/gen_logs.py")

BATCH = 8192  # events per match_batch call, about one WAL read

PATTERNS = {
    "term": "ERROR -healthcheck",
    "json": '{ $.level = "ERROR" && ($.latency_ms > 100 || $.region NOT EXISTS) }',
    "json_scan": "{ $.latency_ms > 100 }",  # no literal to pre-check: every JSON line is parsed
    "space": "[ip, identity, user, timestamp, request = *POST*, status_code = 2*, bytes > 1000, ...]",  # noqa: E501 - one pattern
}


def naive_term(m: str) -> bool:
    return "ERROR" in m and "healthcheck" not in m


def naive_json(m: str) -> bool:
    try:
        doc = orjson.loads(m)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(doc, dict) or doc.get("level") != "ERROR":
        return False
    latency = doc.get("latency_ms")
    numeric = isinstance(latency, int | float) and not isinstance(latency, bool)
    return (numeric and latency > 100) or "region" not in doc


def naive_json_scan(m: str) -> bool:
    try:
        doc = orjson.loads(m)
    except orjson.JSONDecodeError:
        return False
    latency = doc.get("latency_ms") if isinstance(doc, dict) else None
    return isinstance(latency, int | float) and not isinstance(latency, bool) and latency > 100


def naive_space(m: str) -> bool:
    # Hand-written for the Apache lines: quoted and bracketed groups by a simple scan.
    fields, i, n = [], 0, len(m)
    while i < n:
        if m[i] in " \t":
            i += 1
            continue
        close = {"[": "]", '"': '"'}.get(m[i])
        if close:
            j = m.find(close, i + 1)
            j = n if j < 0 else j
            fields.append(m[i + 1 : j])
            i = j + 1
        else:
            j = i
            while j < n and m[j] not in " \t":
                j += 1
            fields.append(m[i:j])
            i = j
    if len(fields) < 7 or "POST" not in fields[4] or not fields[5].startswith("2"):
        return False
    try:
        return float(fields[6]) > 1000 and fields[6].lstrip("+-").replace(".", "", 1).isdigit()
    except ValueError:
        return False


NAIVE: dict[str, Callable[[str], bool]] = {
    "term": naive_term,
    "json": naive_json,
    "json_scan": naive_json_scan,
    "space": naive_space,
}


def generate(lines: int, out: Path) -> list[str]:
    subprocess.run(
        [
            sys.executable,
            str(GEN_LOGS),
            "--lines",
            str(lines),
            "--kind",
            "mixed",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return out.read_text(encoding="utf-8").splitlines()


def best_of(runs: int, fn: Callable[[], int]) -> tuple[float, int]:
    best, result = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def predicate_count(text: str, messages: Sequence[str]) -> int:
    pattern = compile(text)
    total = 0
    for i in range(0, len(messages), BATCH):
        total += sum(pattern.match_batch(messages[i : i + BATCH]))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100,000 events instead of 1,000,000")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    n = args.events or (100_000 if args.quick else 1_000_000)
    runs = 2 if args.quick else 3

    with tempfile.TemporaryDirectory() as tmp:
        messages = generate(n, Path(tmp) / "events.log")
        parquet = Path(tmp) / "events.parquet"
        table = pa.table({"message": messages})
        # Row groups of 128k let DuckDB read a segment on every core.
        pq.write_table(table, parquet, compression="zstd", row_group_size=131_072)
        print(f"{len(messages):,} events from gen_logs.py --kind mixed; batches of {BATCH}")
        con = duckdb.connect()
        con.register("memtable", table)
        rates: dict[str, float] = {}
        print(
            f"{'pattern':10} {'predicate/s':>13} {'naive/s':>13} "
            f"{'sql arrow/s':>13} {'sql parquet/s':>14}  matches"
        )
        for name, text in PATTERNS.items():
            t_pred, c_pred = best_of(runs, lambda text=text: predicate_count(text, messages))
            naive = NAIVE[name]
            t_naive, c_naive = best_of(runs, lambda naive=naive: sum(map(naive, messages)))
            sql, params = compile(text).sql("message")
            on_arrow = f"SELECT count(*) FROM memtable WHERE {sql}"  # noqa: S608 - ours
            on_parquet = f"SELECT count(*) FROM read_parquet('{parquet}') WHERE {sql}"  # noqa: S608
            t_sql, c_sql = best_of(
                runs, lambda q=on_arrow, p=params: con.execute(q, p).fetchone()[0]
            )
            t_pq, c_pq = best_of(
                runs, lambda q=on_parquet, p=params: con.execute(q, p).fetchone()[0]
            )
            if not c_pred == c_sql == c_pq == c_naive:
                raise SystemExit(f"{name}: predicate {c_pred}, SQL {c_sql}/{c_pq}, naive {c_naive}")
            n = len(messages)
            rates[name], rates[f"naive_{name}"] = n / t_pred, n / t_naive
            rates[f"sql_{name}"], rates[f"parquet_{name}"] = n / t_sql, n / t_pq
            print(
                f"{name:10} {rates[name]:>13,.0f} {rates[f'naive_{name}']:>13,.0f} "
                f"{rates[f'sql_{name}']:>13,.0f} {rates[f'parquet_{name}']:>14,.0f}  {c_pred:,}"
            )
        shared = _shared_cache_rate(messages)
        print(f"three JSON filters sharing one JsonCache: {shared:,.0f} events/s (all three)")
        con.close()
    keys = {
        "term_events_per_s": rates["term"],
        "json_events_per_s": rates["json"],
        "space_events_per_s": rates["space"],
        "sql_events_per_s": rates["sql_term"],
        "json_scan_events_per_s": rates["json_scan"],
        "naive_json_events_per_s": rates["naive_json"],
        "sql_json_events_per_s": rates["sql_json"],
        "sql_space_events_per_s": rates["sql_space"],
        "sql_parquet_events_per_s": rates["parquet_term"],
        "sql_parquet_json_events_per_s": rates["parquet_json"],
        "shared_cache_3json_events_per_s": shared,
    }
    print("RESULT " + " ".join(f"{k}={v:.0f}" for k, v in keys.items()))


def _shared_cache_rate(messages: list[str]) -> float:
    filters = [
        compile(PATTERNS["json"]),
        compile(PATTERNS["json_scan"]),
        compile("{ $.status >= 500 }"),
    ]
    start = time.perf_counter()
    for i in range(0, len(messages), BATCH):
        batch = messages[i : i + BATCH]
        cache = JsonCache(batch)
        for f in filters:
            f.match_batch(batch, cache)
    return len(messages) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
