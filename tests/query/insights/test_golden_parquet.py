"""Every golden case again, over Parquet with typed `f.<path>` columns: both ways of
reading a discovered field (typed column, JSON in the message) must give the same rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from query import InsightsQueryError, ParquetFileSource, run_query
from tests.query.insights import golden
from tests.query.insights.support import write_typed_parquet
from tests.query.insights.test_golden import describe


@pytest.fixture(scope="module")
def parquet_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("typed")
    files = {}
    for data in ("app-logs", "mixed"):
        files[data] = root / f"{data}.parquet"
        write_typed_parquet(data, files[data])
    return files


def test_typed_columns_exist(parquet_files: dict[str, Path]) -> None:
    import pyarrow.parquet as pq

    names = pq.read_schema(parquet_files["app-logs"]).names
    assert {"f.status", "f.latency", "f.req.method", "f.tags.0"} <= set(names)


@pytest.mark.parametrize("path", golden.cases(), ids=lambda p: p.stem)
def test_golden_over_typed_parquet(path: Path, parquet_files: dict[str, Path]) -> None:
    case = golden.load(path)
    params = case.params
    source = ParquetFileSource([parquet_files[case.data]])

    def run() -> list[dict[str, str]]:
        result = run_query(
            case.query,
            source,
            groups=params["groups"].split(",") if "groups" in params else [],
            start_ms=int(params.get("start", 0)),
            end_ms=int(params.get("end", 2**62)),
            limit=int(params["limit"]) if "limit" in params else None,
            account_id=golden.ACCOUNT,
        )
        keep_ptr = params.get("ptr") == "yes"
        return [{f: v for f, v in row if keep_ptr or f != "@ptr"} for row in result.rows]

    if case.error is not None:
        with pytest.raises(InsightsQueryError) as info:
            run()
        assert describe(info.value) == case.error
    else:
        assert run() == case.expect
