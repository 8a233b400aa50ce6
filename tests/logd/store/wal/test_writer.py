"""The writer thread: group commit, the three fsync policies, file rolling, write failures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from logd.store.wal import Position, Wal, WalOptions
from logd.store.wal.record import FILE_HEADER_SIZE, encode_record
from logd.store.wal.recovery import wal_file_name
from tests.logd.store.wal.helpers import SMALL, reopen, small

ROOT = Path(__file__).resolve().parents[4]


def on_disk(directory: Path, position: Position, payload: bytes) -> bool:
    """True when the file holds `payload`'s record ending at `position` (read afresh)."""
    record = encode_record(payload)
    with open(directory / wal_file_name(position.file), "rb") as f:
        f.seek(position.offset - len(record))
        return f.read(len(record)) == record


async def test_group_commit_needs_fewer_fsyncs_than_appends(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, WalOptions(fsync="group"))
    before = wal.writer.fsyncs
    payloads = [b"event %d" % i for i in range(500)]
    positions = await asyncio.gather(*(wal.append(p) for p in payloads))
    fsyncs = wal.writer.fsyncs - before
    assert 1 <= fsyncs < len(payloads)
    assert wal.writer.writes <= wal.writer.commits  # one write call per commit
    assert len(set(positions)) == len(positions)
    got = list(wal.records())
    assert sorted(got) == sorted(zip(positions, payloads, strict=True))
    assert [p for p, _ in got] == sorted(positions)  # replay is in position order
    await wal.close()


async def test_always_fsyncs_once_per_append_call(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, WalOptions(fsync="always"))
    before = wal.writer.fsyncs
    await asyncio.gather(*(wal.append(b"x%d" % i) for i in range(40)))
    await asyncio.gather(*(wal.append_many([b"a", b"b", b"c"]) for _ in range(10)))
    assert wal.writer.fsyncs - before == 50
    await wal.close()


async def test_interval_batches_appends_under_one_fsync(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, WalOptions(fsync="interval", fsync_interval_ms=50))
    before = wal.writer.fsyncs
    await asyncio.gather(*(wal.append(b"x%d" % i) for i in range(200)))
    assert 1 <= wal.writer.fsyncs - before < 200
    await wal.close()


@pytest.mark.parametrize("policy", ["always", "group", "interval"])
async def test_every_policy_is_durable_on_return(tmp_path: Path, policy: str) -> None:
    options = small(fsync=policy, fsync_interval_ms=2)
    wal, _ = Wal.open(tmp_path, options)

    async def one(i: int) -> None:
        payload = b"%s-%d" % (policy.encode(), i) * (i % 40)
        position = await wal.append(payload)
        assert wal.writer.synced >= position  # an fsync covering it has completed
        assert on_disk(tmp_path, position, payload)
        assert wal.end_position >= position

    await asyncio.gather(*(one(i) for i in range(120)))
    many = await wal.append_many([b"m1", b"m2"])
    assert wal.writer.synced >= many[-1]
    await wal.close()
    assert len(await reopen(tmp_path, options)) == 122


async def test_append_many_is_one_write_and_one_fsync(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, WalOptions())
    fsyncs, writes = wal.writer.fsyncs, wal.writer.writes
    payloads = [b"r%d" % i for i in range(100)]
    positions = await wal.append_many(payloads)
    assert (wal.writer.fsyncs - fsyncs, wal.writer.writes - writes) == (1, 1)
    assert positions == sorted(positions)
    assert [p for _, p in wal.records()] == payloads
    assert await wal.append_many([]) == []
    await wal.close()


async def test_files_roll_at_segment_bytes(tmp_path: Path) -> None:
    options = small(max_bytes=1 << 20)
    wal, _ = Wal.open(tmp_path, options)
    payloads = [os.urandom(i % 300) for i in range(200)]
    positions = [await wal.append(p) for p in payloads[:100]]
    positions += await wal.append_many(payloads[100:])
    await wal.close()
    assert len(wal.files()) > 5
    for number in wal.files():
        assert (tmp_path / wal_file_name(number)).stat().st_size <= SMALL
    assert positions == sorted(positions)
    assert await reopen(tmp_path, options) == payloads


async def test_a_record_larger_than_a_segment_gets_a_file_of_its_own(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small())
    first = await wal.append(b"small")
    big = await wal.append(b"B" * (2 * SMALL))
    after = await wal.append(b"after")
    assert first.file < big.file < after.file
    assert big.offset == FILE_HEADER_SIZE + 8 + 2 * SMALL
    await wal.close()


async def test_oversized_appends_are_refused(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, small(max_record_bytes=100))
    with pytest.raises(ValueError, match="at most 100"):
        await wal.append(b"x" * 101)
    with pytest.raises(ValueError, match="never fit"):
        await wal.append_many([b"x" * 100] * 2500)  # more than max_bytes - segment_bytes
    assert await wal.append(b"x" * 100) == (1, FILE_HEADER_SIZE + 108)
    await wal.close()


_FAILING_CHILD = textwrap.dedent(
    """
    import asyncio, resource, signal, sys
    from logd.store.wal import Wal, WalOptions, WalWriteError

    async def main(directory):
        wal, _ = Wal.open(directory, WalOptions(segment_bytes=1 << 16, max_bytes=1 << 20))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))  # writes past 8 KiB: EFBIG
        failed = 0
        for i in range(30):
            payload = b"%04d" % i + b"." * 996
            try:
                position = await wal.append(payload)
            except WalWriteError:
                failed += 1
                print("FAILED", i, flush=True)
            else:
                print("ACK", i, position.file, flush=True)
        await wal.close()
        print("FAILURES", failed, flush=True)

    asyncio.run(main(sys.argv[1]))
    """
)


def test_a_failed_write_is_not_acknowledged_and_writing_moves_on(tmp_path: Path) -> None:
    """A real EFBIG (RLIMIT_FSIZE in a child): the append fails, the next goes to a new
    file, and after a restart every acknowledged record is there."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _FAILING_CHILD, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.decode().split("\n")
    acked = [int(line.split()[1]) for line in lines if line.startswith("ACK")]
    files = {int(line.split()[2]) for line in lines if line.startswith("ACK")}
    failures = int(next(line for line in lines if line.startswith("FAILURES")).split()[1])
    assert failures >= 3
    assert len(files) >= 3  # each failure moved the writer to a new file
    assert len(acked) + failures == 30
    options = WalOptions(segment_bytes=1 << 16)
    stored = [int(p[:4]) for p in asyncio.run(reopen(tmp_path, options))]
    assert set(acked) <= set(stored)
    assert len(stored) == len(set(stored))  # nothing twice
