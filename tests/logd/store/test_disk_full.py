"""R-09: the data directory's file system fills up under a real `logd serve` (a small
tmpfs mounted for the test, so it needs the right to mount; skipped without it) while a
tailed file grows and boto3 clients put events; then the space is freed.

While full, PutLogEvents answers a retryable 5xx and never 200, the daemon stays up and
the tailer holds its lines. After the filler is removed, both resume: every tailed line
is stored exactly once, every acknowledged batch is present once, no refused one is, and
a restart recovers the WAL without a skipped (corrupt) record.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.logd.tail.support import assert_exactly_once
from tests.support.daemon import Daemon

GROUP, STREAM = "api", "s"
BIG = "x" * 40_000  # each put needs fresh pages: nothing fits in a partly written one


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs at tmp_path/mnt, unmounted afterwards."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write a filler file until the file system refuses one more byte."""
    path = folder / "filler"
    with path.open("wb", buffering=0) as fh:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    fh.write(b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return path


def put(client: Any, n: int) -> tuple[int, str]:
    """PutLogEvents of one tagged batch: its HTTP status and error code ("" for 200)."""
    events = [{"timestamp": int(time.time() * 1000), "message": f"batch={n} {BIG}"}]
    try:
        client.put_log_events(logGroupName=GROUP, logStreamName=STREAM, logEvents=events)
    except client.exceptions.ClientError as exc:
        meta = exc.response["ResponseMetadata"]
        return int(meta["HTTPStatusCode"]), exc.response["Error"]["Code"]
    return 200, ""


def messages(client: Any, group: str, stream: str) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = client.get_log_events(
            logGroupName=group, logStreamName=stream, startFromHead=True,
            **({"nextToken": token} if token else {}),
        )  # fmt: skip
        out += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def assert_rate_limited(lines: list[dict[str, Any]]) -> None:
    """Each logger reports the full disk at most once per 10 s (by the lines' `ts`)."""
    noisy = ("No space left", "Refused", "failed")
    times: dict[str, list[datetime]] = {}
    for line in lines:
        if line.get("level") in ("warning", "error") and any(n in line["msg"] for n in noisy):
            times.setdefault(line["logger"], []).append(datetime.fromisoformat(line["ts"]))
    assert times, "the full disk was never reported"
    for logger, stamps in times.items():
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
        assert all(gap >= 10 for gap in gaps), (logger, gaps)


def wait_until(predicate: Any, what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s  # a liveness bound, not a timed assertion
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_disk_full_refuses_then_resumes_without_loss(tmp_path: Path, small_fs: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    tailed = logs / "a.log"
    tailed.write_text("".join(f"src=a seq={i} before\n" for i in range(1, 51)))
    config = (
        "[store]\nwal_segment_bytes = 1_048_576\nwal_group_commit_bytes = 1_048_576\n\n"
        "[agent]\nscan_interval_ms = 100\n\n"
        f'[[tail]]\npaths = ["{logs}/*.log"]\nlog_group = "files"\nlog_stream = "{{filename}}"\n'
    )
    daemon = Daemon(small_fs, config)
    with daemon:
        client = daemon.client()
        client.create_log_group(logGroupName=GROUP)
        client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
        acked: list[int] = []
        assert put(client, 0)[0] == 200
        acked.append(0)
        wait_until(lambda: len(messages(client, "files", "a.log")) == 50, "tail before")

        filler = fill(small_fs)
        refused: dict[int, tuple[int, str]] = {}
        with tailed.open("a") as fh:
            for i in range(51, 251):
                fh.write(f"src=a seq={i} while full\n")
        for n in range(1, 9):
            status, code = put(client, n)
            if status == 200:  # must not happen: nothing could be written
                acked.append(n)
            else:
                refused[n] = (status, code)
        assert acked == [0], f"acknowledged while the disk was full: {acked[1:]}"
        assert set(refused.values()) == {(500, "ServiceUnavailableException")}, refused
        assert daemon.process is not None
        assert daemon.process.poll() is None  # still up

        filler.unlink()
        wait_until(lambda: put(client, 100)[0] == 200, "put after the space was freed")
        acked.append(100)
        wait_until(lambda: len(messages(client, "files", "a.log")) >= 250, "tail after")
        tailed_lines = messages(client, "files", "a.log")
        assert_exactly_once(tailed_lines, {"a": 250})
        stored = [m.split(" ", 1)[0] for m in messages(client, GROUP, STREAM)]
        assert stored == [f"batch={n}" for n in acked]
        assert_rate_limited(daemon.lines)
        client.close()

    with daemon:  # restart: the WAL and segments written around the outage recover clean
        client = daemon.client()
        assert not [line for line in daemon.lines if "Skipped an undecodable" in str(line)]
        assert not [line for line in daemon.lines if "unreadable" in str(line)]
        assert_exactly_once(messages(client, "files", "a.log"), {"a": 250})
        stored = [m.split(" ", 1)[0] for m in messages(client, GROUP, STREAM)]
        assert stored == [f"batch={n}" for n in acked]
        client.close()
    with contextlib.suppress(OSError):
        os.unlink(small_fs / "filler")
