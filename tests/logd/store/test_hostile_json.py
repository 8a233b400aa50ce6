"""I-06: JSON messages nested 10,000 deep or with 100,000 keys, through field discovery
at seal time, the DuckDB view, Insights and a JSON filter pattern: the raw message is
stored byte-identical, the caps on depth and fields hold, and nothing raises
RecursionError."""

from __future__ import annotations

import json
from pathlib import Path

from logd.clock import ManualClock
from logd.model import InputEvents
from query import compile_filter_pattern, run_query

from .support import NOW, make_group, open_store

DEEP = '{"a":' * 10_000 + "1" + "}" * 10_000
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def key(i: int) -> str:
    return "".join(DIGITS[(i // 36**p) % 36] for p in range(4))


WIDE = "{" + ",".join(f'"{key(i)}":0' for i in range(100_000)) + "}"  # 100k keys, < 1 MiB
PLAIN = '{"level":"info","n":1}'


async def test_deep_and_wide_json_is_stored_raw_and_capped(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(
        tmp_path, clock, discovered_fields_max=16, discovered_fields_depth=4
    ) as store:
        await make_group(store, "g", "s")
        messages = [DEEP, WIDE, PLAIN] * 4
        for message in messages:  # one per batch: PutLogEvents' 1 MiB
            await store.append("g", "s", InputEvents([NOW], [message]))
        await store.seal_now()
        (segment,) = store.catalog.all_segments()
        fields = json.loads(segment.fields)
        assert 0 < len(fields) <= 16
        assert all(path.count(".") < 4 for path in fields)
        table = store.files.read_table(segment)
        assert sorted(table.column("message").to_pylist()) == sorted(messages)
        # unsealed copies go through the memtable's JSON extraction instead
        for message in (DEEP, WIDE, PLAIN):
            await store.append("g", "s", InputEvents([NOW + 1], [message]))
        source = store.source()
        for text, rows in [
            ("filter level = 'info' | stats count(*) as n", [[("n", "5")]]),
            ("stats count(*) as n by a000", [[("a000", "0"), ("n", "5")], [("n", "10")]]),
            ("filter a.a.a.a.a = 1 | stats count(*) as n", [[("n", "0")]]),
        ]:
            result = run_query(text, source, groups=["g"], start_ms=0, end_ms=2**62)
            assert result.rows == rows, text
        pattern = compile_filter_pattern('{ $.level = "info" }')
        assert [pattern.matches(m) for m in (DEEP, WIDE, PLAIN)] == [False, False, True]
