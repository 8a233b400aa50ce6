"""R-08: stack traces as one event, exactly once across SIGKILL; partial lines held."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time

from tests.logd.tail.support import (
    ROOT,
    Running,
    agent_command,
    assert_exactly_once,
    child_env,
    messages,
    write_config,
)

START = r"^\d{4}-\d{2}-\d{2} "


def trace(evt, n):
    lines = [f"2024-05-01 00:00:00 ERROR src=t seq={evt} evt={evt} failed"]
    lines += [f"\tat com.example.Frame{k}.run(Frame.java:{k}) evt={evt}" for k in range(n - 1)]
    return "\n".join(lines) + "\n"


def entry(tmp, **kw):
    e = {"paths": [str(tmp / "logs" / "*.log")], "log_group": "app",
         "multiline_start_pattern": START, "multiline_flush_timeout_ms": 300}  # fmt: skip
    e.update(kw)
    return e


async def test_r08_traces_are_single_events_and_last_one_flushes(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "a.log"
    sizes = [1, 2, 30, 500, 7, 1]
    path.write_text("".join(trace(i + 1, n) for i, n in enumerate(sizes)))
    async with Running(tmp_path, [entry(tmp_path)]) as r:
        got = await r.wait_messages(len(sizes))  # the last one by the flush timeout
    assert [m.count("\n") + 1 for m in got] == sizes
    assert_exactly_once(got, {"t": len(sizes)})


async def test_r08_partial_line_is_held_until_its_newline(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "a.log"
    path.write_text("src=p seq=1 whole\nsrc=p seq=2 half")
    tails = [{"paths": [str(tmp_path / "logs" / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails) as r:
        await r.wait_messages(1)
        await asyncio.sleep(0.5)
        assert r.messages() == ["src=p seq=1 whole"]
        with path.open("a") as fh:
            fh.write(" and the rest\n")
        got = await r.wait_messages(2)
    assert got == ["src=p seq=1 whole", "src=p seq=2 half and the rest"]


async def test_r08_trace_open_at_rotation_is_flushed_from_the_old_file(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "a.log"
    path.write_text(trace(1, 5) + trace(2, 4))
    async with Running(tmp_path, [entry(tmp_path, multiline_flush_timeout_ms=60_000)]) as r:
        await r.wait_messages(1)
        path.rename(path.with_name("a.log.1"))  # out of the glob: drained, final
        path.write_text(trace(3, 2))
        got = await r.wait_messages(2)
        assert got[1].count("\n") == 3
        with path.open("a") as fh:
            fh.write(trace(4, 1))
        got = await r.wait_messages(3)
    assert_exactly_once(got, {"t": 3})


def test_r08_sigkill_mid_trace_stores_each_trace_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    config = write_config(tmp_path / "agent.json", {"scan_interval_ms": 100}, [entry(tmp_path)])
    log = tmp_path / "durable.log"
    rng = random.Random(3)
    path = logs / "a.log"
    evt = 0
    with path.open("a") as fh:
        for _ in range(6):
            agent = subprocess.Popen(agent_command(config, log), cwd=ROOT, env=child_env())
            for _ in range(40):
                evt += 1
                text = trace(evt, rng.randrange(1, 60))
                cut = rng.randrange(len(text))
                fh.write(text[:cut])  # half a trace on disk when the kill comes
                fh.flush()
                time.sleep(0.005)
                fh.write(text[cut:])
                fh.flush()
            agent.send_signal(signal.SIGKILL)
            agent.wait()
    agent = subprocess.Popen(agent_command(config, log), cwd=ROOT, env=child_env())
    try:
        deadline = time.monotonic() + 30
        while len(messages(log)) < evt and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    got = messages(log)
    assert_exactly_once(got, {"t": evt})
    assert all(m.startswith("2024-05-01") for m in got)
