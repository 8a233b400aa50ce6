"""JSON patterns over the store's typed `f.` columns give the JSON form's answers.

The messages of the JSON conformance cases are stored in three segments (one per day)
and the memtable:

- day 0: the case messages alone (clean column types);
- day 1: each case message followed by variants with a top-level value replaced by
  values of other types, laid out so that field discovery samples only the case
  messages: the variants go through the lenient conversions a typed column makes
  (`"5"`, `5.4` and `true` into BIGINT, numbers into VARCHAR, ...);
- day 2: the variants alone, so their paths' types differ from days 0 and 1 (widened);
- the memtable: the day-1 layout again, unsealed.

Each JSON pattern (the cases' and some aimed at the conversions) then runs through
`StoreSource.bind_typed`, over days 0-1 with the memtable and over everything, with and
without the typed columns: the answers must be the same for every event, and the
documented ones for the case messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson

from logd.clock import ManualClock
from logd.model import InputEvents
from query.filterpattern import compile
from tests.query.filterpattern.cases import CASES, needs_cases

from .store.support import NOW, make_group, open_store

JSON_CASES = [c for c in CASES if "error" not in c and c["pattern"].lstrip().startswith("{")]
OTHER_VALUES: list[Any] = ["5", 5, 5.4, 5.6, -3, 1e300, True, False, None, "5.0", [1], {"a": 1}]
#: patterns aimed at the conversions, for each of a few top-level keys
PROBES = [
    '{{ $.{k} = "5.0" }}',
    '{{ $.{k} = "5" }}',
    "{{ $.{k} = 5 }}",
    "{{ $.{k} > 5.2 }}",
    "{{ $.{k} <= 4.9 }}",
    "{{ $.{k} >= 5.5 }}",
    "{{ $.{k} IS TRUE }}",
    "{{ $.{k} IS FALSE }}",
    "{{ $.{k} IS NULL }}",
    "{{ $.{k} NOT EXISTS }}",
    "{{ $.{k} = %^5% }}",
    '{{ $.{k} = "5" || $.{k} > 5.2 }}',
]


PER_MESSAGE = 1 + 6 * len(OTHER_VALUES)  # a case message and its variants


def variants(message: str) -> list[str]:
    """PER_MESSAGE - 1 variants of a message (padded with non-JSON lines)."""
    out = []
    try:
        doc = orjson.loads(message)
    except orjson.JSONDecodeError:
        doc = None
    if isinstance(doc, dict):
        for key in list(doc)[:6]:
            for value in OTHER_VALUES:
                out.append(orjson.dumps({**doc, key: value}).decode())
    return out + ["not JSON"] * (PER_MESSAGE - 1 - len(out))


def answers(con: duckdb.DuckDBPyConnection, view: str, sql: str, params: list[object]) -> dict:
    rows = con.execute(f"SELECT seq, {sql} FROM {view}", params).fetchall()  # noqa: S608 - our SQL; values are parameters
    return dict(rows)


def top_keys(messages: list[str]) -> list[str]:
    keys: dict[str, None] = {}
    for m in messages:
        doc = orjson.loads(m) if m.startswith("{") else None
        if isinstance(doc, dict):
            keys.update((k, None) for k in list(doc)[:6] if k.isidentifier())
    return list(keys)


@needs_cases
async def test_typed_columns_never_change_an_answer(tmp_path: Path) -> None:
    own = list(dict.fromkeys(c["message"] for c in JSON_CASES))
    extra = [v for message in own for v in variants(message)]
    mixed = [m for message in own for m in (message, *variants(message))]
    # discovery samples every (rows // n)-th row: exactly the case messages of `mixed`
    options = {"discovered_fields_max": 10_000, "discovery_sample_rows": len(own)}
    day = 86_400_000
    start = NOW - NOW % day - 4 * day
    async with await open_store(tmp_path, ManualClock(NOW), **options) as store:
        await make_group(store, "g", "s")
        seqs: dict[str, list[int]] = {}
        layout = [(0, own, True), (day, mixed, True), (2 * day, extra, True), (day, mixed, False)]
        for offset, part, seal in layout:
            for lo in range(0, len(part), 5_000):
                chunk = part[lo : lo + 5_000]
                times = [start + offset + lo + i for i in range(len(chunk))]
                result = await store.append("g", "s", InputEvents(times, chunk))
                assert result.first_seq is not None
                for i, m in enumerate(chunk):
                    seqs.setdefault(m, []).append(result.first_seq + i)
            if seal:
                await store.seal_now()
        assert len(store.catalog.all_segments()) == 3
        assert store.memtable.rows == len(mixed)
        probes = [p.format(k=k) for k in top_keys(own)[:8] for p in PROBES]
        patterns = [(c["pattern"], c) for c in JSON_CASES] + [(p, None) for p in probes]
        con = duckdb.connect()
        try:
            for end in (start + 2 * day, 2**62):
                view, typed = store.source().bind_typed(con, groups=["g"], start_ms=0, end_ms=end)
                assert len(typed) > 10, typed  # the cases' paths became typed columns
                used = 0
                for text, case in patterns:
                    pattern = compile(text)
                    plain_sql, plain_params = pattern.sql("message")
                    typed_sql, typed_params = pattern.sql("message", typed)
                    used += typed_sql != plain_sql
                    plain = answers(con, view, plain_sql, plain_params)
                    assert answers(con, view, typed_sql, typed_params) == plain, text
                    for seq in seqs[case["message"]] if case else []:
                        if seq in plain:
                            assert plain[seq] is case["match"], (case["id"], seq)
                # most patterns read typed columns (fewer where day 2 widened the types)
                assert used >= len(patterns) // (3 if end < 2**62 else 4), used
        finally:
            con.close()
