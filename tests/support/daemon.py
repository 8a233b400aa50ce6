"""A real `logd serve` subprocess for end-to-end tests.

`Daemon(folder, config="...")` writes the config to ``folder/logd.toml`` (the data
directory is ``folder/data``; ``config=None`` runs on the built-in defaults), starts
``python -m logd serve`` with the API on ``127.0.0.1:0`` (the daemon binds a free port
itself, so there is no race for it), reads the bound address from its "Listening." log
line, and returns once ``GET /readyz`` answers 200. Its JSON log lines are collected in
`lines`. `stop()` sends SIGTERM and waits; `kill()` sends SIGKILL (crash tests). Use it
as a context manager, or from a module-scoped fixture to share one daemon between the
tests of a module.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
#: credentials clients sign with when the daemon runs with auth = "none"
ANONYMOUS = ("AKIDANYONE", "anything")

Line = dict[str, Any]


class Daemon:
    def __init__(
        self,
        folder: Path,
        config: str | None = "",
        *,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.folder = folder
        self.data_dir = folder / "data"
        self.config_path = folder / "logd.toml"
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.use_config = config is not None  # None: run on the built-in defaults
        self.config_path.write_text(config or "", encoding="utf-8")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.args = args
        self.process: subprocess.Popen[str] | None = None
        self.lines: list[Line] = []
        self.endpoint = ""
        self._reader: threading.Thread | None = None
        self._changed = threading.Condition()

    # ---------------------------------------------------------------- lifecycle

    def start(self, timeout_s: float = 30.0) -> Daemon:
        """Start (or restart) the daemon; returns once it is ready."""
        command = [
            sys.executable,
            "-m",
            "logd",
            "serve",
            "--config",
            str(self.config_path),
            "--data-dir",
            str(self.data_dir),
            "--listen",
            "127.0.0.1:0",
            *self.args,
        ]
        self.lines = []
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout_s
        listening = self.wait_for(lambda line: line.get("msg") == "Listening.", timeout_s)
        self.endpoint = f"http://{listening['listen']}"
        while time.monotonic() < deadline:
            if self.ready():
                return self
            time.sleep(0.02)
        raise TimeoutError(f"logd never became ready: {self.lines}")

    def _read(self, process: subprocess.Popen[str]) -> None:
        stream = process.stderr
        if stream is None:
            return
        for raw in stream:
            try:
                line = json.loads(raw)
            except ValueError:
                line = {"msg": raw.rstrip("\n"), "raw": True}
            with self._changed:
                self.lines.append(line if isinstance(line, dict) else {"msg": str(line)})
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def ready(self) -> bool:
        try:
            url = f"{self.endpoint}/readyz"  # always http://127.0.0.1:<port>
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - see above
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def wait_for(self, predicate: Callable[[Line], bool], timeout_s: float = 30.0) -> Line:
        """The first log line matching `predicate`, waiting for it to be written."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for line in self.lines:
                    if predicate(line):
                        return line
                code = self.process.poll() if self.process is not None else None
                if code is not None and (self._reader is None or not self._reader.is_alive()):
                    raise RuntimeError(f"logd exited ({code}): {self.lines}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no such log line: {self.lines}")
                self._changed.wait(min(left, 0.2))

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout_s: float = 30.0) -> int:
        """Wait for the process to exit; its exit code."""
        assert self.process is not None
        code = self.process.wait(timeout_s)
        if self._reader is not None:
            self._reader.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait: the exit code (0 for a clean drain)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
        try:
            return self.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL (no cleanup in the daemon) and reap."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
        self.wait()

    def __enter__(self) -> Daemon:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if kind is None:
            self.stop()
        else:
            self.kill()

    # ------------------------------------------------------------------ clients

    def client(self, key: tuple[str, str] = ANONYMOUS, *, retries: int = 1, **config: Any) -> Any:
        """A boto3 CloudWatch Logs client signing with `key` (id, secret)."""
        return boto3.client(
            "logs",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
            config=Config(retries={"max_attempts": retries, "mode": "standard"}, **config),
        )

    def aws_env(self, key: tuple[str, str] = ANONYMOUS) -> dict[str, str]:
        """Environment for the AWS CLI against this daemon (no config files read)."""
        return {
            **os.environ,
            "AWS_ACCESS_KEY_ID": key[0],
            "AWS_SECRET_ACCESS_KEY": key[1],
            "AWS_DEFAULT_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_PAGER": "",
        }
