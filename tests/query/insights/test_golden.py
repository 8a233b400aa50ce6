"""Runs every golden case (tests/query/insights/golden/*.case) through the whole engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from query import InsightsQueryError, NdjsonFileSource, run_query
from tests.query.insights import golden


def run(case: golden.Case) -> tuple[list[dict[str, str]], dict[str, float]]:
    source = NdjsonFileSource(golden.DATA / f"{case.data}.ndjson", format="events")
    params = case.params
    groups = params["groups"].split(",") if "groups" in params else []
    result = run_query(
        case.query,
        source,
        groups=groups,
        start_ms=int(params.get("start", 0)),
        end_ms=int(params.get("end", 2**62)),
        limit=int(params["limit"]) if "limit" in params else None,
        account_id=golden.ACCOUNT,
    )
    keep_ptr = params.get("ptr") == "yes"
    rows = [{f: v for f, v in row if keep_ptr or f != "@ptr"} for row in result.rows]
    return rows, result.statistics.to_cloudwatch()


def describe(exc: InsightsQueryError) -> str:
    return f"line {exc.line}, column {exc.column}, offsets {exc.start}-{exc.end}: {exc.message}"


def test_there_are_enough_cases() -> None:
    assert len(golden.cases()) >= 150


@pytest.mark.parametrize("path", golden.cases(), ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    case = golden.load(path)
    if case.error is not None:
        with pytest.raises(InsightsQueryError) as info:
            run(case)
        assert describe(info.value) == case.error
        return
    rows, stats = run(case)
    assert rows == case.expect
    for key, value in case.stats.items():
        assert stats[key] == value, key
