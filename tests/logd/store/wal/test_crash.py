"""SIGKILL at random moments: every acknowledged record survives exactly once, nothing else.

A child process appends self-describing records from concurrent tasks and prints each
acknowledged position; the test kills it with SIGKILL after a random number of
acknowledgements, reopens the WAL and checks the recovered records against what was
acknowledged. The rounds share one directory, so later rounds recover earlier crashes.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from logd.store.wal import Position, Wal, WalOptions

ROOT = Path(__file__).resolve().parents[4]
POLICIES = ("group", "always", "interval")


def expected_payload(run: int, i: int) -> bytes:
    """The one payload the child may write as record `i` of run `run`."""
    digest = hashlib.sha256(b"%d:%d" % (run, i)).digest()
    return b"%d:%d:" % (run, i) + digest * (i % 13)


CHILD = textwrap.dedent(
    """
    import asyncio, random, sys
    from logd.store.wal import Wal, WalOptions
    from tests.logd.store.wal.test_crash import expected_payload

    async def main(directory, run, policy):
        options = WalOptions(segment_bytes=16384, max_bytes=1 << 30, fsync=policy,
                             fsync_interval_ms=2)
        wal, report = Wal.open(directory, options)
        print("OPEN", report.records, flush=True)
        rng = random.Random(run)
        counter = iter(range(1, 10**9))

        async def worker():
            while True:
                batch = [next(counter) for _ in range(rng.randint(1, 4))]
                payloads = [expected_payload(run, i) for i in batch]
                if len(batch) == 1:
                    positions = [await wal.append(payloads[0])]
                else:
                    positions = await wal.append_many(payloads)
                sys.stdout.write("".join(
                    f"ACK {run} {i} {p.file} {p.offset}\\n" for i, p in zip(batch, positions)
                ))
                sys.stdout.flush()

        await asyncio.gather(*(worker() for _ in range(8)))

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
    """
)


def run_and_kill(
    directory: Path, run: int, acks_before_kill: int
) -> dict[tuple[int, int], Position]:
    """Start the child, SIGKILL it after `acks_before_kill` acknowledgements, return them."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    stderr_path = directory.parent / f"child-{run}.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(directory), str(run), POLICIES[run % 3]],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    watchdog = threading.Timer(60, proc.kill)  # a hang guard, not a timing check
    watchdog.start()
    acked: dict[tuple[int, int], Position] = {}
    try:
        assert proc.stdout is not None
        opened = proc.stdout.readline()
        assert opened.startswith(b"OPEN"), stderr_path.read_text()
        while len(acked) < acks_before_kill:
            line = proc.stdout.readline()
            assert line, stderr_path.read_text()
            _, r, i, file, offset = line.split()
            acked[(int(r), int(i))] = Position(int(file), int(offset))
        os.kill(proc.pid, signal.SIGKILL)
        for line in proc.stdout:  # acknowledgements already in the pipe count too
            if line.endswith(b"\n"):
                _, r, i, file, offset = line.split()
                acked[(int(r), int(i))] = Position(int(file), int(offset))
        proc.stdout.close()
        assert proc.wait() == -signal.SIGKILL
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return acked


async def recovered(directory: Path) -> list[tuple[Position, bytes]]:
    wal, _ = Wal.open(directory, WalOptions(segment_bytes=16384))
    try:
        return list(wal.records())
    finally:
        await wal.close()


def test_sigkill_loses_no_acknowledged_record_and_invents_none(tmp_path: Path) -> None:
    directory = tmp_path / "wal"
    rng = random.Random(20240611)
    all_acked: dict[tuple[int, int], Position] = {}
    for run in range(1, 7):
        all_acked |= run_and_kill(directory, run, rng.choice([0, 1, 7, 60, 300, 1500]))
        records = asyncio.run(recovered(directory))
        seen: dict[tuple[int, int], Position] = {}
        for position, payload in records:
            r, i, _ = payload.split(b":", 2)
            key = (int(r), int(i))
            assert payload == expected_payload(*key)  # nothing that was not written
            assert key not in seen  # nothing twice
            seen[key] = position
        missing = [k for k in all_acked if k not in seen]
        assert missing == []
        assert all(seen[k] == p for k, p in all_acked.items())
        assert [p for p, _ in records] == sorted(p for p, _ in records)
