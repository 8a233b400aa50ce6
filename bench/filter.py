"""Filter-pattern throughput: the compiled predicate and its DuckDB SQL form against a naive
baseline, over realistic events from shared/tools/gen_logs.py (mixed JSON and text lines).

The SQL form runs over stored events the way FilterLogEvents reads them: the events are
appended to a real store and sealed (zstd Parquet segments with typed `f.` columns), and
the pattern's SQL (with the typed columns `StoreSource.bind_typed` names) counts the
matches of the bound view. For comparison it also runs over an in-memory Arrow table
(like the memtable). Each figure is the median of the runs; `cpu` figures divide by the
process's CPU time instead of wall time (less sensitive to other load on the machine).

    python3 bench/filter.py            # 1,000,000 events
    python3 bench/filter.py --quick    # 100,000 events (< 1 minute)

Goals: terms >= 3M events/s, JSON >= 700k events/s (predicate), SQL >= 10M events/s over
stored events. The last line is `RESULT key=value ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logd.clock import ManualClock  # noqa: E402 - after the path setup
from logd.model import InputEvents  # noqa: E402
from logd.store.options import MessageCompression, StoreOptions  # noqa: E402
from logd.store.store import Store  # noqa: E402
from query.filterpattern import JsonCache, compile  # noqa: E402

SHARED = Path(os.environ.get("LOGD_SHARED", ROOT.parent.parent / "shared"))
GEN_LOGS = SHARED / "tools" / "gen_logs.py"
if not GEN_LOGS.is_file():
    GEN_LOGS = Path("/work/shared/tools/gen_logs.py")

BATCH = 8192  # events per match_batch call, about one WAL read
NOW = 1_700_000_000_000
FAST_CODEC: MessageCompression = "snappy"  # the store's fastest-to-read message codec

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


def timed(runs: int, fn: Callable[[], int]) -> tuple[float, float, int]:
    """(median wall seconds, median CPU seconds of the process, result) over `runs` runs."""
    walls, cpus, result = [], [], 0
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def best_of(runs: int, fn: Callable[[], int]) -> tuple[float, int]:
    wall, _, result = timed(runs, fn)
    return wall, result


async def store_events(folder: Path, messages: list[str], codec: MessageCompression) -> Store:
    """A store holding `messages` (one stream, one hour), all sealed into segments."""
    options = StoreOptions(
        seal_interval_ms=3_600_000,
        seal_max_events=100_000_000,
        retention_sweep_interval_ms=3_600_000,
        message_compression=codec,
    )
    store = await Store.open(folder, options, ManualClock(NOW))
    store.catalog.create_group("bench", now_ms=NOW)
    store.catalog.create_stream("bench", "s", now_ms=NOW)
    step = 3_600_000 / len(messages)
    for lo in range(0, len(messages), 4_000):
        chunk = messages[lo : lo + 4_000]
        ts = [NOW - 3_600_000 + int((lo + i) * step) for i in range(len(chunk))]
        await store.append("bench", "s", InputEvents(ts, chunk))
    await store.seal_now()
    return store


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
        loop = asyncio.new_event_loop()  # the store lives on one loop
        store = loop.run_until_complete(store_events(Path(tmp) / "store", messages, "zstd"))
        fast = loop.run_until_complete(store_events(Path(tmp) / "fast", messages, FAST_CODEC))
        segments = store.catalog.all_segments()
        table = pa.table({"message": messages})
        print(
            f"{len(messages):,} events from gen_logs.py --kind mixed; batches of {BATCH}; "
            f"stored in {len(segments)} segment(s) of {sum(s.bytes for s in segments):,} "
            f"bytes, {len(orjson.loads(segments[0].fields))} typed fields"
        )
        con = duckdb.connect()
        con.register("memtable", table)
        view, typed = store.source().bind_typed(con, groups=["bench"], start_ms=0, end_ms=2**62)
        fast_view, _ = fast.source().bind_typed(con, groups=["bench"], start_ms=0, end_ms=2**62)
        rates: dict[str, float] = {}
        print(
            f"{'pattern':10} {'predicate/s':>13} {'naive/s':>13} "
            f"{'sql arrow/s':>13} {'sql stored/s':>13} {'stored/cpu-s':>13}  matches"
        )
        for name, text in PATTERNS.items():
            t_pred, cpu_pred, c_pred = timed(
                runs, lambda text=text: predicate_count(text, messages)
            )
            naive = NAIVE[name]
            t_naive, c_naive = best_of(runs, lambda naive=naive: sum(map(naive, messages)))
            sql, params = compile(text).sql("message")
            on_arrow = f"SELECT count(*) FROM memtable WHERE {sql}"  # noqa: S608 - ours
            stored_sql, stored_params = compile(text).sql("message", typed)
            on_store = f"SELECT count(*) FROM {view} WHERE {stored_sql}"  # noqa: S608 - ours
            t_sql, c_sql = best_of(
                runs, lambda q=on_arrow, p=params: con.execute(q, p).fetchone()[0]
            )
            t_st, cpu_st, c_st = timed(
                runs, lambda q=on_store, p=stored_params: con.execute(q, p).fetchone()[0]
            )
            if not c_pred == c_sql == c_st == c_naive:
                raise SystemExit(f"{name}: predicate {c_pred}, SQL {c_sql}/{c_st}, naive {c_naive}")
            n = len(messages)
            rates[name], rates[f"naive_{name}"] = n / t_pred, n / t_naive
            rates[f"cpu_{name}"] = n / cpu_pred
            rates[f"sql_{name}"], rates[f"stored_{name}"] = n / t_sql, n / t_st
            rates[f"stored_cpu_{name}"] = n / cpu_st
            if name == "term":
                c_pred_term = c_pred
            print(
                f"{name:10} {rates[name]:>13,.0f} {rates[f'naive_{name}']:>13,.0f} "
                f"{rates[f'sql_{name}']:>13,.0f} {rates[f'stored_{name}']:>13,.0f} "
                f"{rates[f'stored_cpu_{name}']:>13,.0f}  {c_pred:,}"
            )
        sql, params = compile(PATTERNS["term"]).sql("message")
        on_fast = f"SELECT count(*) FROM {fast_view} WHERE {sql}"  # noqa: S608 - ours
        t_fast, cpu_fast, c_fast = timed(runs, lambda: con.execute(on_fast, params).fetchone()[0])
        assert c_fast == c_pred_term, (c_fast, c_pred_term)
        fast_bytes = sum(s.bytes for s in fast.catalog.all_segments())
        rates["fast_term"], rates["fast_cpu_term"] = (
            len(messages) / t_fast,
            len(messages) / cpu_fast,
        )
        print(
            f"term SQL over segments with message_compression = {FAST_CODEC!r} "
            f"({fast_bytes:,} bytes): {rates['fast_term']:,.0f} events/s, "
            f"{rates['fast_cpu_term']:,.0f} per CPU second"
        )
        shared = _shared_cache_rate(messages)
        print(f"three JSON filters sharing one JsonCache: {shared:,.0f} events/s (all three)")
        con.close()
        loop.run_until_complete(store.close())
        loop.run_until_complete(fast.close())
        loop.close()
    keys = {
        "term_events_per_s": rates["term"],
        "json_events_per_s": rates["json"],
        "space_events_per_s": rates["space"],
        "sql_events_per_s": rates["stored_term"],
        "json_scan_events_per_s": rates["json_scan"],
        "json_scan_cpu_events_per_s": rates["cpu_json_scan"],
        "naive_json_scan_events_per_s": rates["naive_json_scan"],
        "naive_json_events_per_s": rates["naive_json"],
        "sql_json_events_per_s": rates["stored_json"],
        "sql_json_scan_events_per_s": rates["stored_json_scan"],
        "sql_space_events_per_s": rates["stored_space"],
        "sql_cpu_events_per_s": rates["stored_cpu_term"],
        "sql_json_cpu_events_per_s": rates["stored_cpu_json"],
        "sql_fast_codec_events_per_s": rates["fast_term"],
        "sql_fast_codec_cpu_events_per_s": rates["fast_cpu_term"],
        "sql_arrow_events_per_s": rates["sql_term"],
        "sql_arrow_json_events_per_s": rates["sql_json"],
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
