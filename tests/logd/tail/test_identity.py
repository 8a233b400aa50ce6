"""R-06 inode reuse and R-07 identical heads, small and empty files."""

from __future__ import annotations

import os

from tests.logd.tail.support import Running, assert_exactly_once, wait_for


async def test_r06_inode_reuse_every_generation_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    tails = [{"paths": [str(logs / "*.log")], "log_group": "app"}]
    inodes = set()
    cycles, k = 150, 3
    async with Running(tmp_path, tails, rotate_wait_ms=0) as r:
        for gen in range(cycles):
            path = logs / "gen.log"
            path.write_text(
                "".join(f"src=g{gen} seq={i} same-looking line\n" for i in range(1, k + 1))
            )
            inodes.add(os.stat(path).st_ino)
            want = (gen + 1) * k
            await wait_for(lambda want=want: len(r.messages()) >= want, what=f"generation {gen}")
            path.unlink()
        got = r.messages()
    assert_exactly_once(got, {f"g{g}": k for g in range(cycles)})
    assert len(inodes) < cycles  # the file system did reuse inodes


async def test_r07_identical_heads_small_and_empty_files(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    head = "H" * 4095 + "\n"
    expected = {}
    for i in range(100):
        (logs / f"same-{i}.log").write_text(head + f"src=s{i} seq=1 tail\n")
        expected[f"s{i}"] = 1
    for i in range(100):
        pad = "p" * (i * 9)
        (logs / f"small-{i}.log").write_text(f"src=m{i} seq=1 {pad}\n")
        expected[f"m{i}"] = 1
    for i in range(10):
        (logs / f"empty-{i}.log").write_text("")
    tails = [{"paths": [str(logs / "*.log")], "log_group": "app"}]
    async with Running(tmp_path, tails) as r:
        await r.wait_messages(300)
        for i in range(10):
            with (logs / f"empty-{i}.log").open("a") as fh:
                fh.write(f"src=e{i} seq=1 grew\n")
            expected[f"e{i}"] = 1
        await r.wait_messages(310)
        got = [m for m in r.messages() if not m.startswith("H")]
    assert_exactly_once(got, expected)
