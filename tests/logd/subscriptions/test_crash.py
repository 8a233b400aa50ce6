"""R-10: Kafka unreachable for a while, the process holding the store and the
subscriptions killed with SIGKILL in the middle, then both come back.

The outage is a real one at the socket level: the broker (Tansu, in-memory storage, so
it must not be restarted) sits behind a loopback proxy that drops every connection and
stops listening, then listens again. Expected: nothing missing on the topic, order per
stream kept, duplicates only from batches in flight or not yet committed at the kill
(reported), ingestion never paused by the outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path

import orjson
import pytest

from logd.model import event_id
from tests.support.kafka import _accepts, broker_binary, free_port

from .test_delivery import consume

ROOT = Path(__file__).resolve().parents[3]


class Proxy:
    """TCP forwarder 127.0.0.1:port → target that can be cut and restored."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._writers -= {writer, up_writer}

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def close(self) -> None:
        await self.cut()


class Child:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.acked: list[tuple[str, int, int]] = []
        self.lines: list[str] = []
        self.reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := (await self.proc.stdout.readline()).decode():
            self.lines.append(line.strip())
            if line.startswith("ACK "):
                _, stream, first, n = line.split()
                self.acked.append((stream, int(first), int(n)))

    async def until(self, predicate, limit_s: float = 30.0) -> None:
        async with asyncio.timeout(limit_s):
            while not predicate():
                if self.proc.returncode is not None:
                    raise AssertionError(f"child exited: {self.lines[-5:]}")
                await asyncio.sleep(0.02)


async def spawn(data: Path, bootstrap: str, topic: str, events: int, log: Path) -> Child:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.logd.subscriptions.crash_child",
            str(data), bootstrap, topic, str(events),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    return Child(proc)


@pytest.fixture
async def broker_behind_proxy(tmp_path):
    port = free_port()
    proxy = Proxy(port)
    await proxy.start()
    url, advertised = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{proxy.port}"
    binary = await asyncio.to_thread(broker_binary)
    with (tmp_path / "tansu.log").open("wb") as out:
        broker = await asyncio.create_subprocess_exec(
            binary, "broker", "--listener-url", url,
            "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/",
            stdout=out, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(1500):
            if _accepts("127.0.0.1", port):
                break
            await asyncio.sleep(0.02)
        yield proxy
    finally:
        await proxy.close()
        broker.terminate()
        await broker.wait()


async def test_r10_outage_and_sigkill_lose_nothing(tmp_path, broker_behind_proxy):
    proxy = broker_behind_proxy
    bootstrap, topic, data = f"127.0.0.1:{proxy.port}", "r10", tmp_path / "data"
    log = tmp_path / "child.log"
    total = 1600
    child = await spawn(data, bootstrap, topic, total, log)
    try:
        await child.until(lambda: len(child.acked) >= 100)
        await proxy.cut()
        cut_at = len(child.acked)
        await child.until(lambda: len(child.acked) >= cut_at + 150)  # ingest goes on
        child.proc.kill()
        await child.proc.wait()
        await child.reading
    finally:
        if child.proc.returncode is None:
            child.proc.kill()
            await child.proc.wait()
    acked = child.acked
    assert len(acked) >= cut_at + 150
    await proxy.start()  # the broker is reachable again
    second = await spawn(data, bootstrap, topic, 0, log)
    try:
        await second.until(lambda: "DONE" in second.lines)
        expected = {(s, seq) for s, first, n in acked for seq in range(first, first + n)}
        records = []
        for _ in range(40):
            records = await consume(bootstrap, topic, 10**9, timeout_s=1.5)
            got = {(r.key.decode(), int(orjson.loads(r.value)["id"])) for r in records}
            if expected <= got:
                break
    finally:
        second.proc.terminate()
        await second.proc.wait()
        await second.reading
    events = [(r.key.decode(), orjson.loads(r.value)) for r in records]
    got_keys = {(s, int(e["id"])) for s, e in events}
    missing = expected - got_keys
    assert not missing, f"{len(missing)} acknowledged events never reached the topic"
    duplicates = len(events) - len(got_keys)
    for stream in ("a", "b"):
        seqs = [int(e["id"]) for s, e in events if s == stream]
        first_seen = list(dict.fromkeys(seqs))
        assert first_seen == sorted(first_seen), f"stream {stream} out of order"
        assert all(e["message"].startswith(stream) for s, e in events if s == stream)
        assert {event_id(q) for q in seqs} == {e["id"] for s, e in events if s == stream}
    # Duplicates are whole batches sent again with the boundaries written down before
    # their first attempt: every copy of an event came with the same idempotency key.
    keys: dict[str, set[bytes]] = {}
    for r in records:
        key = dict(r.headers)["logd-idempotency-key"]
        keys.setdefault(orjson.loads(r.value)["id"], set()).add(key)
    assert all(len(k) == 1 for k in keys.values()), "a re-sent event came in another batch"
    print(f"R-10: {len(expected)} acked, {len(events)} delivered, {duplicates} duplicates")
    assert duplicates <= 4 * 50  # at most the open and in-flight batches (max 50 events)
