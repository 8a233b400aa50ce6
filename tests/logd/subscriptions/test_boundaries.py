"""The batch boundaries file: written before sending, read back, compacted, replaced."""

from logd.subscriptions import boundaries as mod
from logd.subscriptions.boundaries import BatchBoundaries, Boundary


def b(stream, first, last, first_pos, last_pos):
    return Boundary(stream, first, last, (1, first_pos), (1, last_pos))


def test_recorded_boundaries_are_on_file_only_after_flush_and_read_back(tmp_path):
    store = BatchBoundaries(tmp_path, "sub:1:f", "ERROR")
    written = [b("a", 1, 4, 0, 2), b("b ünï", 5, 5, 1, 1)]
    for x in written:
        store.record(x)
    assert BatchBoundaries(tmp_path, "sub:1:f", "ERROR").load() == []
    store.flush()
    store.close()
    assert BatchBoundaries(tmp_path, "sub:1:f", "ERROR").load() == written


def test_torn_and_damaged_lines_are_skipped(tmp_path):
    store = BatchBoundaries(tmp_path, "sub:1:f", "")
    store.record(b("a", 1, 4, 0, 2))
    store.flush()
    store.close()
    with store.path.open("ab") as fh:
        fh.write(b'["a", 9, 2, [1, 3], [1, 3]]\n')  # last before first
        fh.write(b"not json\n")
        fh.write(b'["a", 5, 8, [1, 3], [1, 4]]\n')
        fh.write(b'["a", 9, 12, [1')  # torn: never sent
    got = BatchBoundaries(tmp_path, "sub:1:f", "").load()
    assert got == [b("a", 1, 4, 0, 2), b("a", 5, 8, 3, 4)]


def test_another_pattern_starts_afresh_and_removes_the_old_file(tmp_path):
    old = BatchBoundaries(tmp_path, "sub:1:f", "ERROR")
    old.record(b("a", 1, 4, 0, 2))
    old.flush()
    old.close()
    other_cursor = BatchBoundaries(tmp_path, "sub:1:g", "ERROR")
    other_cursor.record(b("a", 1, 4, 0, 2))
    other_cursor.flush()
    other_cursor.close()
    assert BatchBoundaries(tmp_path, "sub:1:f", "WARN").load() == []
    assert not old.path.exists()
    assert other_cursor.path.exists()


def test_compaction_cuts_at_an_old_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(mod, "COMPACT_LINES", 3)
    store = BatchBoundaries(tmp_path, "sub:1:f", "")
    for i in range(4):
        store.record(b("a", 10 * i, 10 * i + 5, 2 * i, 2 * i + 1))
    store.flush()
    store.compact((1, 5), now=100.0)  # noted, nothing dropped yet
    assert len(BatchBoundaries(tmp_path, "sub:1:f", "").load()) == 4
    store.compact((1, 7), now=101.0)  # the noted commit is too young
    assert len(BatchBoundaries(tmp_path, "sub:1:f", "").load()) == 4
    store.compact((1, 7), now=100.0 + mod.COMPACT_DELAY_S)
    kept = BatchBoundaries(tmp_path, "sub:1:f", "").load()
    assert [x.first_seq for x in kept] == [30]  # last records (1, 1), (1, 3), (1, 5) passed
    store.record(b("a", 40, 41, 8, 8))
    store.flush()  # appends go to the rewritten file
    store.close()
    assert [x.first_seq for x in BatchBoundaries(tmp_path, "sub:1:f", "").load()] == [30, 40]


def test_remove_forgets_everything(tmp_path):
    store = BatchBoundaries(tmp_path, "sub:1:f", "")
    store.record(b("a", 1, 4, 0, 2))
    store.flush()
    store.remove()
    assert list(tmp_path.iterdir()) == []
