"""Test kit for the tail agent: a real, durable stand-in for the store at the emit seam.

`DurableLog` appends framed records ``[u32 length][u32 crc32][payload]`` (payload: orjson
of group, stream, timestamps, messages, checkpoint key and value) and fsyncs each one
before `emit` returns, as the store's append does. Opening it recovers the longest valid
prefix (a torn tail left by SIGKILL is cut off) and the latest checkpoint per key.
A fake only at the seam (STYLE habit 13): real file, real fsync, real recovery.

Also here: the sequence-number oracle (expectations §4.2), the writer and agent child
processes' command lines, and the shared-tools loader.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import os
import re
import struct
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest

from logd.model import InputEvents

ROOT = Path(__file__).resolve().parents[3]
_HEADER = struct.Struct("<II")


def shared_tool(name: str) -> ModuleType:
    """Load /work/shared/tools/<name> (or $LOGD_SHARED/tools), skipping if it is absent."""
    base = Path(os.environ.get("LOGD_SHARED", ROOT.parent.parent / "shared"))
    if not (base / "tools" / name).exists():
        base = Path("/work/shared")
    path = base / "tools" / name
    if not path.exists():
        pytest.skip(f"shared tool {path} is absent")
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True, slots=True)
class Record:
    group: str
    stream: str
    timestamps: list[int]
    messages: list[str]
    key: str
    value: bytes


def read_records(path: Path) -> Iterator[Record]:
    """The valid prefix of the log at `path`, in order."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    for payload in _frames(data):
        raw = orjson.loads(payload)
        yield Record(raw["g"], raw["s"], raw["t"], raw["m"], raw["k"], bytes.fromhex(raw["v"]))


def _frames(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        payload = data[pos + _HEADER.size : pos + _HEADER.size + length]
        if len(payload) != length or zlib.crc32(payload) != crc:
            return
        yield payload
        pos += _HEADER.size + length


def _valid_length(data: bytes) -> int:
    pos = 0
    for payload in _frames(data):
        pos += _HEADER.size + len(payload)
    return pos


class DurableLog:
    """File-backed, fsynced, recovering log of (group, stream, events, checkpoint)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = path.read_bytes() if path.exists() else b""
        valid = _valid_length(data)
        self.recovered_torn_bytes = len(data) - valid
        self._checkpoints: dict[str, bytes] = {}
        for rec in read_records(path):
            self._checkpoints[rec.key] = rec.value
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.ftruncate(self._fd, valid)
        os.lseek(self._fd, valid, os.SEEK_SET)
        self._lock = threading.Lock()
        self.gate: asyncio.Event | None = None
        """When set to an unset Event, emit blocks (backpressure) until it is set."""
        self.blocked = 0
        self.appends = 0

    def checkpoints(self) -> dict[str, bytes]:
        return dict(self._checkpoints)

    def _write(self, frame: bytes) -> None:
        with self._lock:
            os.write(self._fd, frame)
            os.fdatasync(self._fd)  # the size change is flushed too

    async def emit(
        self, group: str, stream: str, events: InputEvents, checkpoint: tuple[str, bytes]
    ) -> None:
        if self.gate is not None and not self.gate.is_set():
            self.blocked += 1
            try:
                await self.gate.wait()
            finally:
                self.blocked -= 1
        key, value = checkpoint
        payload = orjson.dumps(
            {
                "g": group,
                "s": stream,
                "t": events.timestamps,
                "m": events.messages,
                "k": key,
                "v": value.hex(),
            }
        )
        frame = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        await asyncio.to_thread(self._write, frame)
        self._checkpoints[key] = value
        self.appends += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def messages(path: Path) -> list[str]:
    return [m for rec in read_records(path) for m in rec.messages]


# -- the sequence-number oracle (expectations §4.2) ----------------------------------------
_SEQ = re.compile(r"src=(\S+) seq=(\d+)")


@dataclass(slots=True)
class Verdict:
    missing: int = 0
    duplicates: int = 0
    out_of_order: int = 0

    def __str__(self) -> str:
        return (
            f"missing={self.missing} duplicates={self.duplicates} out_of_order={self.out_of_order}"
        )


def check(stored: Iterable[str], expected: dict[str, int]) -> dict[str, Verdict]:
    """Per source: missing, duplicated and out-of-order sequence numbers 1..expected[src].

    A stored event may hold several lines (multi-line events); every `src= seq=` in it
    counts.
    """
    seen: dict[str, list[int]] = {src: [] for src in expected}
    for msg in stored:
        for src, seq in _SEQ.findall(msg):
            seen.setdefault(src, []).append(int(seq))
    out: dict[str, Verdict] = {}
    for src, seqs in seen.items():
        v = Verdict()
        unique = set(seqs)
        v.duplicates = len(seqs) - len(unique)
        v.missing = sum(1 for n in range(1, expected.get(src, 0) + 1) if n not in unique)
        v.out_of_order = sum(1 for a, b in itertools.pairwise(seqs) if b < a)
        out[src] = v
    return out


def stored_seqs(stored: Iterable[str]) -> dict[str, set[int]]:
    """Per source, the sequence numbers present in `stored`."""
    out: dict[str, set[int]] = {}
    for msg in stored:
        for src, seq in _SEQ.findall(msg):
            out.setdefault(src, set()).add(int(seq))
    return out


def assert_exactly_once(stored: Iterable[str], expected: dict[str, int]) -> None:
    verdicts = check(stored, expected)
    bad = {
        src: str(v) for src, v in verdicts.items() if v.missing or v.duplicates or v.out_of_order
    }
    assert bad == {}, bad


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    return env


def agent_command(config: Path, log: Path) -> list[str]:
    return [sys.executable, "-m", "tests.logd.tail.agent_child", str(config), str(log)]


def write_config(path: Path, agent: dict[str, Any], tails: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"agent": agent, "tail": tails}))
    return path


async def wait_for(predicate: Any, *, limit_s: float = 30.0, what: str = "condition") -> None:
    """Poll `predicate()` until true; fail (not hang) after a generous liveness bound."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Running:
    """An in-process agent on a DurableLog: `async with Running(...) as r:`."""

    def __init__(self, tmp: Path, tails: list[dict[str, Any]], **agent: Any) -> None:
        from logd.clock import SystemClock
        from logd.tail.agent import TailAgent
        from logd.tail.options import agent_from_mapping

        agent.setdefault("scan_interval_ms", 100)
        agent.setdefault("rotate_wait_ms", 300)
        self.log_path = tmp / "durable.log"
        self.log = DurableLog(self.log_path)
        self.options = agent_from_mapping({"agent": agent, "tail": tails})
        self.agent = TailAgent(self.options, self.log.emit, self.log.checkpoints(), SystemClock())
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self._baseline = len(self.messages())
        self._task = asyncio.create_task(self.agent.run())
        await wait_for(lambda: self.agent.first_scan_done.is_set() or self._task.done())
        if self._task.done():
            self._task.result()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.log.close()

    def messages(self) -> list[str]:
        return messages(self.log_path)

    async def wait_messages(self, n: int, limit_s: float = 30.0) -> list[str]:
        """At least `n` messages are durable, and the turns that emitted them returned
        (so `agent.metrics` counts them: counters land a moment after the emit)."""
        await wait_for(lambda: len(self.messages()) >= n, limit_s=limit_s, what=f"{n} messages")
        got = self.messages()
        counted = len(got) - self._baseline
        await wait_for(
            lambda: self.agent.metrics.get("events_total", 0) >= counted,
            limit_s=limit_s,
            what="the emitting turns to return",
        )
        return got
