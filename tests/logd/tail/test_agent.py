"""The agent end to end in-process: discovery, reading, restart from checkpoints."""

from __future__ import annotations

from tests.logd.tail.support import Running, assert_exactly_once


def tail(tmp, **kw):
    entry = {"paths": [str(tmp / "logs" / "*.log")], "log_group": "app"}
    entry.update(kw)
    return entry


async def test_reads_existing_and_new_files_once_across_restart(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(f"src=a seq={i} hello\n" for i in range(1, 101)))
    async with Running(tmp_path, [tail(tmp_path)]) as r:
        await r.wait_messages(100)
        (logs / "b.log").write_text("".join(f"src=b seq={i} x\n" for i in range(1, 51)))
        await r.wait_messages(150)
    with (logs / "a.log").open("a") as fh:
        fh.write("".join(f"src=a seq={i} hello\n" for i in range(101, 201)))
    async with Running(tmp_path, [tail(tmp_path)]) as r:
        got = await r.wait_messages(250)
    assert_exactly_once(got, {"a": 200, "b": 50})


async def test_a_failed_emit_mid_backlog_discards_the_read_ahead_and_loses_nothing(tmp_path):
    """A backlog is read ahead while a chunk is being stored; when that store fails, the
    file resumes from its last stored checkpoint: nothing lost, nothing twice."""
    logs = tmp_path / "logs"
    logs.mkdir()
    pad = "x" * 300
    lines = 20_000  # ~6 MiB: several chunks per turn
    (logs / "a.log").write_text("".join(f"src=a seq={i} {pad}\n" for i in range(1, lines + 1)))
    r = Running(tmp_path, [tail(tmp_path)])
    inner, calls = r.log.emit, 0

    async def flaky(group, stream, events, checkpoint):
        nonlocal calls
        calls += 1
        if calls in (3, 4, 9):
            raise OSError("disk hiccup")
        await inner(group, stream, events, checkpoint)

    r.agent._emit = flaky
    async with r:
        got = await r.wait_messages(lines)
    assert r.agent.metrics["read_errors_total"] == 3
    assert_exactly_once(got, {"a": lines})
