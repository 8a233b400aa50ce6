"""The daemon as systemd runs it, end to end (shared/reference/expectations.md):
READY and WATCHDOG on NOTIFY_SOCKET; SIGHUP with a valid then a broken config, the old
one kept (R-16); SIGTERM under load drains and loses nothing (R-15); kill -9 under load,
again and again, loses no acknowledged event and stores none twice (R-02)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon


class NotifySocket:
    """The NOTIFY_SOCKET end systemd holds: a Unix datagram socket we read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.seen: list[str] = []

    def expect(self, wanted: str, timeout_s: float = 30) -> str:
        """Wait for a datagram holding the assignment `wanted`; return that datagram."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                message = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            self.seen.append(message)
            if wanted in message.split("\n"):
                return message
        raise AssertionError(f"no {wanted} among {self.seen}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


class Writers:
    """`n` threads, each putting 100-event batches to its own stream until stopped;
    `acked` holds the messages of batches answered with HTTP 200."""

    def __init__(self, daemon: Daemon, n: int, tag: str) -> None:
        self.acked: list[str] = []
        self.stop = threading.Event()
        # clients are made here: a boto3 session must not be shared while making them;
        # no retry, so a batch is either acknowledged or unknown
        clients = [daemon.client(retries=1) for _ in range(n)]
        self.threads = [
            threading.Thread(target=self.run, args=(c, k, tag)) for k, c in enumerate(clients)
        ]

    def run(self, logs: Any, k: int, tag: str) -> None:
        i = 0
        while not self.stop.is_set():
            batch = [f"{tag}-{k}-{i}-{j}" for j in range(100)]
            t = time.time_ns() // 1_000_000
            try:
                logs.put_log_events(
                    logGroupName="g",
                    logStreamName=f"w{k}",
                    logEvents=[{"timestamp": t, "message": m} for m in batch],
                )
            except Exception:  # the daemon went away mid-request: not acknowledged
                return
            self.acked.extend(batch)
            i += 1

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)


def prepare(daemon: Daemon, streams: int) -> None:
    logs = daemon.client()
    logs.create_log_group(logGroupName="g")
    for k in range(streams):
        logs.create_log_stream(logGroupName="g", logStreamName=f"w{k}")


def stored(daemon: Daemon, streams: int) -> Counter[str]:
    """Every message in group g, counted, read back page by page."""
    logs = daemon.client()
    found: Counter[str] = Counter()
    for k in range(streams):
        kwargs: dict[str, Any] = {
            "logGroupName": "g",
            "logStreamName": f"w{k}",
            "startFromHead": True,
        }
        while True:
            page = logs.get_log_events(**kwargs)
            found.update(e["message"] for e in page["events"])
            if page["nextForwardToken"] == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextForwardToken"]
    return found


def test_ready_watchdog_and_reload(tmp_path: Path, notify: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "400000"}
    daemon = Daemon(tmp_path, '[telemetry]\nlog_level = "info"\n', env=env)
    with daemon:
        assert "READY=1" in notify.expect("READY=1").split("\n")
        notify.expect("WATCHDOG=1")
        prepare(daemon, 1)
        daemon.config_path.write_text('[telemetry]\nlog_level = "debug"\n')
        daemon.signal(signal.SIGHUP)
        notify.expect("RELOADING=1")
        notify.expect("READY=1")
        applied = daemon.wait_for(lambda line: line.get("msg") == "Configuration reloaded.")
        assert applied["applied"] == ["telemetry.log_level"]
        daemon.config_path.write_text('[telemetry]\nlog_level = "loud"\n\n[api]\nregion = 4\n')
        daemon.signal(signal.SIGHUP)
        notify.expect("RELOADING=1")
        notify.expect("READY=1")
        problems = []
        for wanted in ("telemetry.log_level, line 2", "api.region, line 5"):
            problems.append(
                daemon.wait_for(lambda line, w=wanted: str(line.get("problem", "")).startswith(w))
            )
        assert all(
            p["msg"] == "Reload rejected; the running configuration stays." for p in problems
        )
        logs = daemon.client()
        assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["g"]
        assert daemon.ready()


def test_sigterm_under_load_drains_and_loses_nothing(tmp_path: Path, notify: NotifySocket) -> None:
    daemon = Daemon(tmp_path, "", env={"NOTIFY_SOCKET": str(notify.path)})
    daemon.start()
    try:
        prepare(daemon, 4)
        with Writers(daemon, 4, "term") as writers:
            while len(writers.acked) < 2_000:
                time.sleep(0.01)
            daemon.signal(signal.SIGTERM)
            notify.expect("STOPPING=1")
            assert daemon.wait(15) == 0  # within daemon.shutdown_timeout_ms (10 s)
        assert any(line.get("msg") == "Stopped." for line in daemon.lines)
        daemon.start()
        found = stored(daemon, 4)
        assert not [m for m in writers.acked if found[m] != 1]  # missing = 0
        assert max(found.values()) == 1  # duplicates = 0
    finally:
        daemon.kill()


def test_kill_9_under_load_loses_no_acknowledged_event(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path)
    daemon.start()
    acked: list[str] = []
    try:
        prepare(daemon, 8)
        for round_ in range(10):
            with Writers(daemon, 8, f"r{round_}") as writers:
                while len(writers.acked) < 800:
                    time.sleep(0.005)
                daemon.kill()  # SIGKILL mid-request
            acked += writers.acked
            daemon.start()
        found = stored(daemon, 8)
        assert not [m for m in acked if found[m] != 1]
        assert max(found.values()) == 1  # clients never retried, so nothing may be twice
    finally:
        daemon.kill()


def test_a_second_daemon_on_the_same_data_dir_refuses_to_start(tmp_path: Path) -> None:
    with Daemon(tmp_path / "one"):
        second = Daemon(tmp_path / "two")
        second.data_dir = tmp_path / "one" / "data"
        with pytest.raises(RuntimeError, match="exited"):
            second.start()
        assert second.wait() == 1
        (refused,) = [line for line in second.lines if line.get("msg") == "Cannot start."]
        assert "lock" in refused["reason"].lower()


def test_serve_runs_on_the_built_in_defaults(tmp_path: Path) -> None:
    with Daemon(tmp_path, None) as daemon:
        logs = daemon.client()
        logs.create_log_group(logGroupName="defaults")
        assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["defaults"]
        warned = daemon.wait_for(lambda line: line.get("level") == "warning")
        assert warned["msg"].startswith("Authentication is off")
    assert (tmp_path / "data" / "catalog.sqlite").is_file()


def test_sighup_applies_new_access_keys(tmp_path: Path) -> None:
    key = '[[api.keys]]\naccess_key_id = "{id}"\nsecret_env = "{env}"\n'
    old_config = '[api]\nauth = "sigv4"\n\n' + key.format(id="OLDKEY", env="OLD_SECRET")
    env = {"OLD_SECRET": "old-secret", "NEW_SECRET": "new-secret"}
    with Daemon(tmp_path, old_config, env=env) as daemon:
        old, new = daemon.client(("OLDKEY", "old-secret")), daemon.client(("NEWKEY", "new-secret"))
        old.describe_log_groups()
        with pytest.raises(new.exceptions.ClientError, match="UnrecognizedClient"):
            new.describe_log_groups()
        daemon.config_path.write_text(
            '[api]\nauth = "sigv4"\n\n' + key.format(id="NEWKEY", env="NEW_SECRET")
        )
        daemon.signal(signal.SIGHUP)
        reloaded = daemon.wait_for(lambda line: line.get("msg") == "Configuration reloaded.")
        assert reloaded["applied"] == ["api.keys"]
        new.describe_log_groups()
        with pytest.raises(old.exceptions.ClientError, match="UnrecognizedClient"):
            old.describe_log_groups()
