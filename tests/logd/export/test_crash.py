"""R-22: SIGKILL an exporting child process at random points, restart it, check the result.

After every kill no object under a final key is partial (each one present gunzips to
exactly the text it must hold). After the last restart the task is COMPLETED, with the
objects byte-identical to a clean run of the same task, or FAILED with a reason.
"""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from logd.clock import SystemClock
from logd.export import layout
from logd.export.destinations import Destination, Destinations, LocalDestination
from logd.export.errors import DestinationError
from logd.export.runner import StopFlags, run_export
from logd.export.taskdb import TaskDb
from logd.export.writer import GzipPool
from logd.model import Scope
from tests.logd.export import crash_child
from tests.logd.export.helpers import BASE_MS, TableReader, expected_objects, make_events
from tests.support.s3 import MotoS3

ROOT = Path(__file__).resolve().parents[3]
EVENTS = 20_000
SEED = 4


def _child(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.logd.export.crash_child", *args],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    box: list[str] = []
    reader = threading.Thread(
        target=lambda: box.append(proc.stdout.readline() if proc.stdout else "")
    )
    reader.start()
    reader.join(timeout)
    return box[0].strip() if box else ""


def _check_no_partial(destination: Destination, task_id: str, expected: dict[str, bytes]) -> None:
    for key in destination.list_keys(f"exportedlogs/{task_id}/"):
        body = destination.get(key)
        assert gzip.decompress(body) == expected[key], f"partial or wrong object {key}"


def _reference(task_id: str, destination: Destination, options, db_path: Path):
    """A clean, uninterrupted run of the same task into another bucket."""
    db = TaskDb(db_path)
    crashed = TaskDb(db_path.parent / "crash.sqlite")
    task = crashed.get(task_id)
    crashed.close()
    assert task is not None
    gz = GzipPool(
        level=options.compression_level, chunk_bytes=options.compression_chunk_bytes, threads=2
    )
    try:
        records = run_export(
            task=task,
            reader=TableReader(make_events(EVENTS, seed=SEED)),
            destination=destination,
            tasks=_Recorder(db, task),
            options=options,
            gzip=gz,
            clock=SystemClock(),
            scope=Scope(),
            flags=StopFlags(threading.Event(), threading.Event()),
        )
    finally:
        gz.close()
        db.close()
    return records


class _Recorder:
    """A TaskStore for the reference run: the task starts RUNNING in a fresh database."""

    def __init__(self, db: TaskDb, task) -> None:
        from dataclasses import replace

        from logd.export.records import StatusCode

        db.insert(replace(task, code=StatusCode.RUNNING), max_active=10)
        self._db = db

    def __getattr__(self, name: str):
        return getattr(self._db, name)


@pytest.mark.parametrize("target", ["local", "s3"])
def test_sigkill_during_export_then_restart(target: str, tmp_path: Path, request) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    root = tmp_path / "exports"
    root.mkdir()
    args = ["--db", str(tmp_path / "crash.sqlite"), "--root", str(root)]
    args += ["--events", str(EVENTS), "--seed", str(SEED)]
    max_attempts = rng.choice([3, 10])
    args += ["--max-attempts", str(max_attempts)]
    if target == "s3":
        moto: MotoS3 | None = request.getfixturevalue("moto_s3")
        bucket = moto.new_bucket()
        args += ["--endpoint", moto.endpoint_url, "--bucket", bucket]
    else:
        moto, bucket = None, "crash"
    endpoint = moto.endpoint_url if moto is not None else ""
    options = crash_child.options_for(
        root=str(root), endpoint=endpoint, bucket=bucket, max_attempts=max_attempts
    )
    destinations = Destinations(options)
    destination = destinations.get(bucket)
    try:
        task_id = ""
        kills = rng.randint(1, 3)
        for round_ in range(kills):
            proc = _child([*args, "--mode", "create" if round_ == 0 else "resume"])
            try:
                assert _read_line(proc, 30) == "STARTED", f"seed {seed}"
                if round_ == 0:
                    line = _read_line(proc, 30)
                    assert line.startswith("TASK "), f"seed {seed}: {line!r}"
                    task_id = line.split()[1]
                # The export takes about 0.6 s here: most kills land in the middle.
                time.sleep(rng.uniform(0.0, 0.7))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                if proc.stdout:
                    proc.stdout.close()
            expected = {
                layout.object_key("exportedlogs", task_id, s, p, "keep"): text
                for (s, p), text in expected_objects(
                    make_events(EVENTS, seed=SEED),
                    start=BASE_MS,
                    end_inclusive=BASE_MS + 3_600_000,
                    max_object_bytes=crash_child.MAX_OBJECT_BYTES,
                ).items()
            }
            _check_no_partial(destination, task_id, expected)

        proc = _child([*args, "--mode", "resume"])
        try:
            out, _ = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        last = out.strip().splitlines()[-1] if out.strip() else ""
        assert last.startswith("DONE "), f"seed {seed}: {out!r}"
        code, message = last.split(" ", 2)[1], last.split(" ", 2)[2]
        if code == "FAILED":
            assert "restart" in message, f"seed {seed}: {message}"
            assert kills >= max_attempts
            return
        assert code == "COMPLETED", f"seed {seed}: {last}"
        _check_no_partial(destination, task_id, expected)
        stored = {k: destination.get(k) for k in destination.list_keys(f"exportedlogs/{task_id}/")}
        assert sorted(stored) == sorted(expected)
        # A rerun of the same task yields byte-identical objects under the same keys.
        clean = LocalDestination("clean", tmp_path / "reference")
        clean.check()
        _reference(task_id, clean, options, tmp_path / "reference.sqlite")
        rerun = {k: clean.get(k) for k in clean.list_keys(f"exportedlogs/{task_id}/")}
        assert rerun == stored, f"seed {seed}"
        try:
            destination.get(layout.manifest_key("exportedlogs", task_id))
        except DestinationError:  # pragma: no cover - the assertion explains
            pytest.fail("COMPLETED without a manifest")
    finally:
        destinations.close()
