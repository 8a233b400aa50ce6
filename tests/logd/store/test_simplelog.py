"""The small durable log: order, torn tails, cursors, rotation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from logd.store.simplelog import SimpleLog


@pytest.mark.parametrize("policy", ["always", "group", "interval"])
async def test_append_then_replay_in_order(tmp_path: Path, policy: str) -> None:
    log = SimpleLog(tmp_path, fsync=policy)  # type: ignore[arg-type]
    positions = await log.append_many([b"a", b"bb", b"ccc"])
    positions += await log.append_many([b"d"])
    assert positions == sorted(positions)
    assert len(set(positions)) == 4
    assert [p for _, p in log.records()] == [b"a", b"bb", b"ccc", b"d"]
    assert [p for _, p in log.records(positions[1])] == [b"ccc", b"d"]
    assert log.end() == positions[-1]
    await log.close()
    again = SimpleLog(tmp_path, fsync=policy)  # type: ignore[arg-type]
    assert [p for _, p in again.records()] == [b"a", b"bb", b"ccc", b"d"]
    await again.close()


async def test_every_torn_tail_recovers_an_exact_prefix(tmp_path: Path) -> None:
    payloads = [bytes([i]) * (i + 1) for i in range(6)]
    src = tmp_path / "src"
    log = SimpleLog(src)
    await log.append_many(payloads)
    await log.close()
    data = (src / "log-00000001.bin").read_bytes()
    for cut in range(len(data) + 1):
        d = tmp_path / f"cut{cut}"
        d.mkdir()
        (d / "log-00000001.bin").write_bytes(data[:cut])
        again = SimpleLog(d)
        got = [p for _, p in again.records()]
        assert got == payloads[: len(got)]
        await again.append_many([b"next"])
        assert [p for _, p in again.records()][-1] == b"next"
        await again.close()


async def test_a_flipped_byte_ends_the_valid_prefix(tmp_path: Path) -> None:
    log = SimpleLog(tmp_path)
    await log.append_many([b"one", b"two", b"three"])
    await log.close()
    path = tmp_path / "log-00000001.bin"
    data = bytearray(path.read_bytes())
    data[8 + 3 + 8 + 1] ^= 0x01  # inside "two"
    path.write_bytes(bytes(data))
    again = SimpleLog(tmp_path)
    assert [p for _, p in again.records()] == [b"one"]
    assert again.recovery.records == 1
    await again.close()


async def test_cursors_are_durable_and_rotation_keeps_positions_increasing(
    tmp_path: Path,
) -> None:
    log = SimpleLog(tmp_path, rotate_bytes=64)
    cursor = log.cursor("sealer")
    first = await log.append_many([b"x" * 100])
    cursor.commit(first[-1])
    assert not (tmp_path / "log-00000001.bin").exists()  # every cursor passed it
    second = await log.append_many([b"y"])
    assert second[0] > first[0]
    assert [p for _, p in log.records(cursor.position)] == [b"y"]
    await log.close()
    again = SimpleLog(tmp_path, rotate_bytes=64)
    assert again.cursor("sealer").position == first[0]
    assert [p for _, p in again.records(again.cursor("sealer").position)] == [b"y"]
    again.drop_cursor("sealer")
    await again.close()
    assert os.path.exists(tmp_path / "cursors.json")  # noqa: ASYNC240 - test inspects files after the store closed
