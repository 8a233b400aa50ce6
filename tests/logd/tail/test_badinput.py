"""I-01..I-04: binary junk, huge lines, bad encodings and hostile timestamps."""

from __future__ import annotations

import time

from logd.tail.options import MAX_EVENT_BYTES
from tests.logd.tail.support import Running, read_records


def entry(tmp, **kw):
    e = {"paths": [str(tmp / "logs" / "*.log")], "log_group": "app"}
    e.update(kw)
    return e


async def test_i01_binary_data_and_a_long_unterminated_run(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "a.log"
    junk = bytes(range(256)).replace(b"\n", b"") * 3
    path.write_bytes(b"nul\x00byte\n" + b"lone\rcr\n" + junk + b"\n" + b"z" * (3 * MAX_EVENT_BYTES))
    async with Running(tmp_path, [entry(tmp_path)]) as r:
        got = await r.wait_messages(5)  # 3 lines + 2 parts of the unterminated run
        with path.open("ab") as fh:
            fh.write(b"tail\nnext valid line\n")
        got = await r.wait_messages(8)
        assert r.agent.metrics["decode_errors_total"] >= 1
    assert got[0] == "nul\x00byte"
    assert got[1] == "lone\rcr"
    assert "\ufffd" in got[2]
    assert all(len(m.encode()) <= MAX_EVENT_BYTES for m in got)
    assert "".join(got[3:7]) == "z" * (3 * MAX_EVENT_BYTES) + "tail"
    assert got[-1] == "next valid line"


async def test_i02_ten_megabyte_line_is_split_into_parts_sharing_a_timestamp(tmp_path):
    (tmp_path / "logs").mkdir()
    big = ("é" * 5_000_000).encode()  # 10 MB of two-byte characters
    (tmp_path / "logs" / "a.log").write_bytes(big + b"\nafter 1\nafter 2\n")
    async with Running(tmp_path, [entry(tmp_path)]) as r:
        got = await r.wait_messages(-(-len(big) // MAX_EVENT_BYTES) + 2)
    parts = got[:-2]
    assert len(parts) == -(-len(big) // MAX_EVENT_BYTES)
    assert "".join(parts) == "é" * 5_000_000
    assert all(len(p.encode()) <= MAX_EVENT_BYTES for p in parts)
    stamps = {
        t
        for rec in read_records(tmp_path / "durable.log")
        for t, m in zip(rec.timestamps, rec.messages, strict=True)
        if m in parts
    }
    assert len(stamps) == 1
    assert got[-2:] == ["after 1", "after 2"]


async def test_i02_truncate_policy_marks_and_continues(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_bytes(b"y" * 3_000_000 + b"\nnext\n")
    async with Running(tmp_path, [entry(tmp_path, long_lines="truncate")]) as r:
        got = await r.wait_messages(2)
        assert r.agent.metrics["long_lines_truncate_total"] == 1
    assert got[0].endswith("[truncated]")
    assert len(got[0].encode()) == MAX_EVENT_BYTES
    assert got[1] == "next"


async def test_i03_invalid_utf8_is_replaced_and_offsets_survive_restart(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "a.log"
    path.write_bytes(b"caf\xe9 latin-1\n\xff\xfe bad\ngood \xc3\xa9\n")
    async with Running(tmp_path, [entry(tmp_path)]) as r:
        got = await r.wait_messages(3)
        assert r.agent.metrics["decode_errors_total"] == 2
    with path.open("ab") as fh:
        fh.write(b"after restart\n")
    async with Running(tmp_path, [entry(tmp_path)]) as r:
        got = await r.wait_messages(4)
    assert got == ["caf\ufffd latin-1", "\ufffd\ufffd bad", "good é", "after restart"]


async def test_i03_utf16le_with_and_without_bom(tmp_path):
    (tmp_path / "logs").mkdir()
    text = "première ligne\r\nzweite Zeile\n"
    (tmp_path / "logs" / "bom.log").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (tmp_path / "logs" / "plain.log").write_bytes(text.encode("utf-16-le"))
    async with Running(tmp_path, [entry(tmp_path, encoding="utf-16")]) as r:
        got = await r.wait_messages(4)
    assert sorted(got) == sorted(["première ligne", "zweite Zeile"] * 2)


async def test_i04_hostile_timestamps_fall_back_or_take_the_window_policy(tmp_path):
    (tmp_path / "logs").mkdir()
    now = time.time()
    recent = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now - 60))
    lines = [
        f"{recent}+02:00 with offset",
        "no timestamp here",
        "9999-12-31T23:59:59Z far future",
        "-0001-01-01T00:00:00Z negative year",
        "2001-02-30T00:00:00Z impossible day",
        "2000-01-01T00:00:00Z too old",
    ]
    (tmp_path / "logs" / "a.log").write_text("\n".join(lines) + "\n")
    async with Running(tmp_path, [entry(tmp_path, timestamp_format="%Y-%m-%dT%H:%M:%S%z")]) as r:
        await r.wait_messages(3)
        metrics = dict(r.agent.metrics)
    stored = {
        m: t
        for rec in read_records(tmp_path / "durable.log")
        for t, m in zip(rec.timestamps, rec.messages, strict=True)
    }
    assert set(stored) == {lines[0], lines[1], lines[4]}
    assert stored[lines[0]] == int((now - 60) * 1000) // 1000 * 1000 - 2 * 3_600_000
    assert abs(stored[lines[1]] - now * 1000) < 600_000  # read time
    assert metrics["timestamp_failures_total"] == 2  # no timestamp, impossible day
    assert metrics["out_of_window_dropped_total"] == 3  # 9999, year -1 (parsed as 0001), 2000
