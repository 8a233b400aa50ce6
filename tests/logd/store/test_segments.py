"""Segment files: layout, no names in paths, R-21 quarantine of a damaged segment."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from logd.clock import ManualClock
from logd.model import InputEvents
from logd.store.options import StoreOptions

from .support import NOW, batch, make_group, open_store, rows


async def test_paths_never_contain_group_or_stream_names(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with await open_store(tmp_path, clock) as store:
        await make_group(store, "../../etc", "../../passwd")
        await store.append("../../etc", "../../passwd", batch([NOW]))
        await store.seal_now()
        (seg,) = store.catalog.all_segments()
        assert seg.path.startswith(f"group={seg.group_id}/day=2023-11-14/")
    written = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]  # noqa: ASYNC240 - test inspects files after the store closed
    assert not any("etc" in p or "passwd" in p for p in written)
    assert all(p.resolve().is_relative_to(tmp_path.resolve()) for p in tmp_path.rglob("*"))  # noqa: ASYNC240 - test inspects files after the store closed


async def test_a_damaged_segment_is_quarantined_and_other_data_still_reads(
    tmp_path: Path,
) -> None:
    clock = ManualClock(NOW)
    store = await open_store(tmp_path, clock)
    await make_group(store, "g", "s")
    await store.append("g", "s", batch([NOW] * 50, "first"))
    await store.seal_now()
    await store.append("g", "s", batch([NOW] * 50, "second"))
    await store.seal_now()
    await store.append("g", "s", batch([NOW] * 5, "unsealed"))
    bad, good = store.catalog.all_segments()
    await store.close()
    path = tmp_path / "segments" / bad.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    again = await open_store(tmp_path, clock)
    got = rows(again, ["g"])  # never raises
    assert {str(r["message"]).split("-")[0] for r in got} == {"second", "unsealed"}
    assert len(got) == 55
    assert again.quarantined_segments == 1
    assert [s.id for s in again.catalog.all_segments()] == [good.id]
    assert (tmp_path / "quarantine" / bad.path.replace("/", "_")).exists()
    assert not path.exists()
    assert again.catalog.require_group("g").stored_bytes == sum(
        len(str(r["message"])) + 26 for r in got
    )
    await again.close()
    third = await open_store(tmp_path, clock)  # and it keeps starting
    assert len(rows(third, ["g"])) == 55
    await third.close()


async def test_duckdb_source_skips_a_damaged_segment(tmp_path: Path) -> None:
    import duckdb

    clock = ManualClock(NOW)
    store = await open_store(tmp_path, clock)
    await make_group(store, "g", "s")
    await store.append("g", "s", batch([NOW] * 10, "a"))
    await store.seal_now()
    (seg,) = store.catalog.all_segments()
    await store.close()
    path = tmp_path / "segments" / seg.path
    path.write_bytes(path.read_bytes()[:-100])
    again = await open_store(tmp_path, clock)
    con = duckdb.connect()
    view = again.source().bind(con, groups=["g"], start_ms=0, end_ms=NOW + 1)
    assert con.sql(f"SELECT count(*) FROM {view}").fetchall() == [(0,)]  # noqa: S608 - view names come from the store
    con.close()
    assert again.quarantined_segments == 1
    await again.close()


@pytest.mark.parametrize(
    ("codec", "written"), [("zstd", "ZSTD"), ("snappy", "SNAPPY"), ("lz4", "LZ4")]
)
async def test_the_message_column_takes_its_own_codec(
    tmp_path: Path, codec: str, written: str
) -> None:
    async with await open_store(tmp_path, ManualClock(NOW), message_compression=codec) as store:
        await make_group(store, "g", "s")
        messages = [f'{{"n": {i}, "text": "event {i}"}}' for i in range(100)]
        await store.append("g", "s", InputEvents([NOW] * 100, messages))
        await store.seal_now()
        (seg,) = store.catalog.all_segments()
        meta = pq.ParquetFile(tmp_path / "segments" / seg.path).metadata.row_group(0)
        codecs = {meta.column(i).path_in_schema: meta.column(i).compression
                  for i in range(meta.num_columns)}  # fmt: skip
        assert codecs.pop("message") == written
        assert set(codecs.values()) == {"ZSTD"}
        column = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
        assert "DELTA_LENGTH_BYTE_ARRAY" in column["message"].encodings
        assert "f.n" in codecs
        assert [r["message"] for r in rows(store, ["g"])] == messages


def test_an_unknown_message_codec_is_refused() -> None:
    with pytest.raises(ValueError, match="message_compression: must be zstd, lz4, snappy"):
        StoreOptions(message_compression="brotli").validate()  # type: ignore[arg-type]
