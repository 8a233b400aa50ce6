"""R-21: a truncated catalog is moved to quarantine/ and rebuilt from the segments and
the WAL: every acknowledged event reads back exactly once and new seqs are fresh."""

from __future__ import annotations

from pathlib import Path

from logd.clock import ManualClock
from tests.logd.store.support import NOW, batch, make_group, open_store, rows
from tests.support.daemon import Daemon


async def _fill(data_dir: Path) -> dict[str, list[str]]:
    """Two groups: sealed events, then events only in the WAL; returns messages by group."""
    clock = ManualClock(NOW)
    store = await open_store(data_dir, clock)
    await make_group(store, "alpha", "a1", "a2")
    await make_group(store, "beta", "b1")
    await store.append("alpha", "a1", batch([NOW - 50, NOW - 40], "sealed-a1"))
    await store.append("alpha", "a2", batch([NOW - 30], "sealed-a2"))
    await store.append("beta", "b1", batch([NOW - 20, NOW - 10, NOW - 5], "sealed-b1"))
    assert await store.seal_now() > 0
    await store.append("alpha", "a1", batch([NOW - 4, NOW - 3], "wal-a1"))
    await store.append("beta", "b1", batch([NOW - 2], "wal-b1"))
    out: dict[str, list[str]] = {}
    for g in ("alpha", "beta"):
        out[g] = sorted(str(r["message"]) for r in rows(store, [g]))
    await store.close()
    return out


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


async def test_truncated_catalog_is_rebuilt_without_loss_or_duplicates(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    written = await _fill(data_dir)
    assert len(written["alpha"]) == 5
    assert len(written["beta"]) == 4
    _truncate(data_dir / "catalog.sqlite")

    store = await open_store(data_dir, ManualClock(NOW + 1000))
    try:
        assert store.catalog_rebuilt
        assert store.stats().catalog_rebuilt
        assert sorted(store.catalog.live_groups()[g].name for g in store.catalog.live_groups()) == [
            "alpha",
            "beta",
        ]
        seqs: list[int] = []
        for g in ("alpha", "beta"):
            got = rows(store, [g])
            assert sorted(str(r["message"]) for r in got) == written[g]
            seqs += [int(r["seq"]) for r in got]  # type: ignore[call-overload]
        assert store.catalog.stream_exists(store.catalog.require_group("alpha").id, "a2")
        a1 = store.catalog.get_stream("alpha", "a1")
        assert a1 is not None
        assert a1.first_event_ts == NOW - 50
        assert a1.last_event_ts == NOW - 3
        result = await store.append("alpha", "a1", batch([NOW], "after"))
        alpha_seqs = [int(r["seq"]) for r in rows(store, ["alpha"])]  # type: ignore[call-overload]
        assert result.first_seq is not None
        assert result.first_seq > max(alpha_seqs[:-1])
        assert len(set(alpha_seqs)) == len(alpha_seqs) == 6
        # sealing again writes only the WAL events, still exactly once
        await store.seal_now()
        for g in ("alpha", "beta"):
            got = [str(r["message"]) for r in rows(store, [g])]
            assert len(got) == len(set(got)) == len(written[g]) + (g == "alpha")
    finally:
        await store.close()
    moved = [p.name for p in (data_dir / "quarantine").iterdir()]
    assert any(name.startswith("catalog.sqlite.") for name in moved), moved

    # the rebuilt catalog opens as an ordinary one next time
    store = await open_store(data_dir, ManualClock(NOW + 2000))
    try:
        assert not store.catalog_rebuilt
        assert len(rows(store, ["alpha"])) == 6
    finally:
        await store.close()


async def test_daemon_starts_on_a_truncated_catalog(tmp_path: Path) -> None:
    written = await _fill(tmp_path / "data")
    _truncate(tmp_path / "data" / "catalog.sqlite")
    with Daemon(tmp_path) as daemon:
        logs = daemon.client()
        names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        assert names == ["alpha", "beta"]
        got = logs.get_log_events(logGroupName="beta", logStreamName="b1", startFromHead=True)
        assert sorted(e["message"] for e in got["events"]) == written["beta"]
        assert any(
            line.get("level") == "error" and "catalog was damaged" in str(line.get("msg"))
            for line in daemon.lines
        ), daemon.lines[-5:]


async def test_a_rebuild_quarantines_an_unreadable_segment(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    clock = ManualClock(NOW)
    store = await open_store(data_dir, clock)
    await make_group(store, "alpha", "a1")
    await make_group(store, "beta", "b1")
    await store.append("alpha", "a1", batch([NOW - 50], "a"))
    await store.append("beta", "b1", batch([NOW - 40], "b"))
    await store.seal_now()
    beta = store.catalog.require_group("beta").id
    await store.close()
    (bad,) = (data_dir / "segments" / f"group={beta}").glob("day=*/*.parquet")
    bad.write_bytes(b"not parquet at all")
    # zero length: a valid empty database, which would make every segment an orphan
    (data_dir / "catalog.sqlite").write_bytes(b"")
    store = await open_store(data_dir, ManualClock(NOW + 1000))
    try:
        assert store.catalog_rebuilt
        assert [r["message"] for r in rows(store, ["alpha"])] == ["a-0"]
        assert store.catalog.quarantined_count() == 1
    finally:
        await store.close()
    assert any(p.name.endswith(bad.name) for p in (data_dir / "quarantine").iterdir())
    (data_dir / "catalog.sqlite").write_bytes(b"garbage" * 100)
    store = await open_store(data_dir, ManualClock(NOW + 2000))
    try:
        assert store.catalog_rebuilt
        assert [r["message"] for r in rows(store, ["alpha"])] == ["a-0"]
    finally:
        await store.close()
