"""R-18 descriptor budget with thousands of files, R-19 poll mode, A12 backpressure."""

from __future__ import annotations

import asyncio

from tests.logd.tail.support import Running, assert_exactly_once, wait_for


async def test_r18_many_files_under_a_small_descriptor_budget(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    n = 1500
    for i in range(n):
        (logs / f"f{i}.log").write_text(f"src=f{i} seq=1 first\n")
    tails = [{"paths": [str(logs / "**" / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails, max_open_files=64) as r:
        peak = 0

        def done(want):
            nonlocal peak
            peak = max(peak, r.agent.gauges()["files_open"])
            return len(r.messages()) >= want

        await wait_for(lambda: done(n), limit_s=60, what="first lines")
        for i in range(0, n, 3):  # a third of them grow while parked
            with (logs / f"f{i}.log").open("a") as fh:
                fh.write(f"src=f{i} seq=2 second\n")
        want = n + len(range(0, n, 3))
        await wait_for(lambda: done(want), limit_s=60, what="second lines")
        got = r.messages()
    assert peak <= 64
    assert_exactly_once(got, {f"f{i}": 2 if i % 3 == 0 else 1 for i in range(n)})


async def test_r19_poll_mode_alone_ingests_everything(tmp_path):
    logs = tmp_path / "logs" / "deep" / "er"
    logs.mkdir(parents=True)
    tails = [{"paths": [str(tmp_path / "logs" / "**" / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails, watch_mode="poll", scan_interval_ms=200) as r:
        assert r.agent.gauges()["dirs_watched"] == 0
        for i in range(20):
            (logs / f"n{i}.log").write_text("".join(f"src=n{i} seq={k} x\n" for k in range(1, 11)))
        got = await r.wait_messages(200)
    assert_exactly_once(got, {f"n{i}": 10 for i in range(20)})


async def test_a12_backpressure_pauses_reading_then_delivers_everything(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    tails = [{"paths": [str(logs / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails, workers=2) as r:
        r.log.gate = asyncio.Event()  # the sink is full: every append blocks
        for i in range(6):
            (logs / f"b{i}.log").write_text(
                "".join(f"src=b{i} seq={k} {'x' * 200}\n" for k in range(1, 20001))
            )
        await wait_for(lambda: r.log.blocked == 2, what="both workers blocked")
        await asyncio.sleep(0.3)
        assert r.log.blocked == 2  # no more than `workers` emits wait; reading paused
        assert r.messages() == []
        r.log.gate.set()
        got = await r.wait_messages(6 * 20000, limit_s=60)
    assert_exactly_once(got, {f"b{i}": 20000 for i in range(6)})
