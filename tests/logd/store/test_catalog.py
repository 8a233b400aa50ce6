"""The catalog: names, retention values, listings and their orderings, migrations."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from logd.errors import (
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from logd.model import RETENTION_DAYS
from logd.store.catalog import SQLiteCatalog, StreamUpdate, stream_sort_key
from logd.store.catalog_sql import MIGRATIONS


@pytest.fixture
def catalog(tmp_path: Path):
    cat = SQLiteCatalog(tmp_path / "c.sqlite")
    yield cat
    cat.close()


def test_group_name_rules(catalog: SQLiteCatalog) -> None:
    g = catalog.create_group("../../etc", now_ms=5)
    assert g.arn.endswith(":log-group:../../etc")
    assert g.creation_time == 5
    for bad in ("", "a b", "x" * 513, "aws/lambda"):
        with pytest.raises(InvalidParameterException):
            catalog.create_group(bad, now_ms=5)
    with pytest.raises(ResourceAlreadyExistsException):
        catalog.create_group("../../etc", now_ms=6)


def test_retention_accepts_only_the_allowed_values(catalog: SQLiteCatalog) -> None:
    catalog.create_group("g", now_ms=1)
    for days in RETENTION_DAYS:
        assert catalog.put_retention("g", days).retention_days == days
    for days in (0, 2, 4, 15, 3654, -1):
        with pytest.raises(InvalidParameterException):
            catalog.put_retention("g", days)
    assert catalog.delete_retention("g").retention_days is None
    with pytest.raises(ResourceNotFoundException):
        catalog.put_retention("missing", 1)


def test_groups_list_by_name_with_prefix_after_and_limit(catalog: SQLiteCatalog) -> None:
    for name in ("b", "a/2", "a/1", "c", "a/3"):
        catalog.create_group(name, now_ms=1)
    assert [g.name for g in catalog.list_groups()] == ["a/1", "a/2", "a/3", "b", "c"]
    assert [g.name for g in catalog.list_groups(prefix="a/", limit=2)] == ["a/1", "a/2"]
    assert [g.name for g in catalog.list_groups(prefix="a/", after="a/2")] == ["a/3"]


def test_streams_order_by_name_and_last_event_time(catalog: SQLiteCatalog) -> None:
    g = catalog.create_group("g", now_ms=1)
    for name in ("s3", "s1", "s2", "s0"):
        catalog.create_stream("g", name, now_ms=1)
    catalog.record_ingest(
        [StreamUpdate(g.id, "s1", 30, 40, 100), StreamUpdate(g.id, "s3", 10, 20, 100)], {}, {}
    )
    by_name = catalog.list_streams("g")
    assert [s.name for s in by_name] == ["s0", "s1", "s2", "s3"]
    assert [s.name for s in catalog.list_streams("g", descending=True)] == ["s3", "s2", "s1", "s0"]
    by_time = catalog.list_streams("g", order_by="LastEventTime")
    assert [s.name for s in by_time] == ["s0", "s2", "s3", "s1"]
    page = catalog.list_streams("g", order_by="LastEventTime", descending=True, limit=2)
    assert [s.name for s in page] == ["s1", "s3"]
    rest = catalog.list_streams(
        "g",
        order_by="LastEventTime",
        descending=True,
        after=stream_sort_key(page[-1], "LastEventTime"),
    )
    assert [s.name for s in rest] == ["s2", "s0"]
    assert [s.name for s in catalog.list_streams("g", prefix="s", after="s1")] == ["s2", "s3"]
    s1 = catalog.get_stream("g", "s1")
    assert s1 is not None
    assert (s1.first_event_ts, s1.last_event_ts, s1.last_ingestion_time) == (30, 40, 100)


def test_stream_errors(catalog: SQLiteCatalog) -> None:
    with pytest.raises(ResourceNotFoundException):
        catalog.create_stream("nope", "s", now_ms=1)
    catalog.create_group("g", now_ms=1)
    catalog.create_stream("g", "s", now_ms=1)
    with pytest.raises(ResourceAlreadyExistsException):
        catalog.create_stream("g", "s", now_ms=1)
    with pytest.raises(InvalidParameterException):
        catalog.create_stream("g", "a:b", now_ms=1)
    catalog.delete_stream("g", "s")
    with pytest.raises(ResourceNotFoundException):
        catalog.delete_stream("g", "s")


def test_tags_and_reopen_keep_state(tmp_path: Path) -> None:
    cat = SQLiteCatalog(tmp_path / "c.sqlite")
    cat.create_group("g", now_ms=1, tags={"team": "core"}, log_group_class="INFREQUENT_ACCESS")
    cat.tag_group("g", {"env": "prod"})
    cat.untag_group("g", ["team"])
    with pytest.raises(InvalidParameterException):
        cat.tag_group("g", {"aws:x": "y"})
    cat.close()
    again = SQLiteCatalog(tmp_path / "c.sqlite")
    g = again.require_group("g")
    assert dict(g.tags) == {"env": "prod"}
    assert g.log_group_class == "INFREQUENT_ACCESS"
    assert again.live_groups()[g.id].name == "g"
    again.close()
    con = sqlite3.connect(tmp_path / "c.sqlite")
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    con.close()


def test_group_ids_are_never_reused(catalog: SQLiteCatalog) -> None:
    first = catalog.create_group("g", now_ms=1).id
    catalog.delete_group("g")
    assert catalog.create_group("g", now_ms=2).id != first


def test_a_group_never_vanishes_from_lookups_while_a_thread_reloads_it(tmp_path: Path) -> None:
    # Store.append looks groups up on the event loop while record_ingest reloads them
    # in a worker thread: a live group must be found at every moment (it was briefly
    # missing between dropping the old record and adding the new one).
    import threading

    cat = SQLiteCatalog(tmp_path / "c.sqlite")
    gid = cat.create_group("g", now_ms=1).id
    done = threading.Event()

    def reload() -> None:
        for _ in range(3000):
            cat.record_ingest([], {gid: 1}, {})
        done.set()

    worker = threading.Thread(target=reload)
    worker.start()
    missing = 0
    while not done.is_set():
        missing += cat.get_group("g") is None
    worker.join()
    cat.close()
    assert missing == 0
