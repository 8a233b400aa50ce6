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
