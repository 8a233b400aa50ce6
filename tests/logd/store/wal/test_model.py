"""Model-based test: random appends, cursor commits, torn tails and restarts against a list.

The model is the list of acknowledged payloads with their positions. Whatever the steps,
the WAL replays exactly the model's records from the oldest file still on disk, cursors
come back where they were committed, and a file disappears only once every cursor has
passed it.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from logd.store.wal import Position, Wal
from logd.store.wal.recovery import wal_file_name
from tests.logd.store.wal.helpers import small

OPTIONS = small(segment_bytes=4096, max_bytes=1 << 20)
CURSORS = ("sealer", "sub")
T = TypeVar("T")


class WalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.directory = Path(tempfile.mkdtemp(prefix="logd-wal-model-"))
        self.wal, _ = Wal.open(self.directory, OPTIONS)
        self.acked: list[tuple[Position, bytes]] = []
        self.committed: dict[str, Position | None] = {}
        for name in CURSORS:
            self.committed[name] = self.wal.cursor(name).position
        self.counter = 0

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def payload(self, size: int) -> bytes:
        self.counter += 1
        return b"%d:" % self.counter + bytes([self.counter % 251]) * size

    @rule(size=st.integers(0, 900))
    def append(self, size: int) -> None:
        payload = self.payload(size)
        position = self.run(self.wal.append(payload))
        self.acked.append((position, payload))

    @rule(sizes=st.lists(st.integers(0, 600), min_size=1, max_size=8))
    def append_many(self, sizes: list[int]) -> None:
        payloads = [self.payload(s) for s in sizes]
        positions = self.run(self.wal.append_many(payloads))
        self.acked.extend(zip(positions, payloads, strict=True))

    @precondition(lambda self: self.acked)
    @rule(name=st.sampled_from(CURSORS), data=st.data())
    def commit(self, name: str, data: st.DataObject) -> None:
        current = self.committed[name]
        ahead = [p for p, _ in self.acked if current is None or p >= current]
        if ahead:
            position = data.draw(st.sampled_from(ahead))
            self.wal.cursor(name).commit(position)
            self.committed[name] = position

    @rule(tail=st.sampled_from([b"", bytes(100), b"\x07" * 5, b"\x30\x00\x00\x00garbage"]))
    def restart(self, tail: bytes) -> None:
        """Close, leave an unacknowledged torn tail on the newest file, open again."""
        newest = self.wal.files()[-1]
        self.run(self.wal.close())
        with open(self.directory / wal_file_name(newest), "ab") as f:
            f.write(tail)
        self.wal, report = Wal.open(self.directory, OPTIONS)
        assert report.corrupt_bytes + report.torn_bytes >= len(tail)
        assert self.wal.cursors() == self.committed

    @invariant()
    def replays_exactly_the_acknowledged_records_still_kept(self) -> None:
        # Deletion runs in the housekeeper thread: a flush waits for the work queued so
        # far, so that the loop's list of files matches the directory.
        self.run(self.wal.cursor(CURSORS[0]).flush())
        kept = self.wal.files()
        assert sorted(int(p.name[:16]) for p in self.directory.glob("*.wal")) == kept
        assert list(self.wal.records()) == [(p, b) for p, b in self.acked if p.file in kept]
        cursors = [self.committed[n] for n in CURSORS]
        for p, _ in self.acked:  # a record is gone only once every cursor passed it
            if p.file not in kept:
                assert all(c is not None and c >= p for c in cursors)
        for number in kept[:-1]:  # and an older file stays only while a cursor needs it
            last = max((p for p, _ in self.acked if p.file == number), default=None)
            assert last is not None
            assert any(c is None or c < last for c in cursors)

    def teardown(self) -> None:
        try:
            self.run(self.wal.close())
        finally:
            self.loop.close()
            shutil.rmtree(self.directory, ignore_errors=True)


WalMachine.TestCase.settings = settings(max_examples=20, stateful_step_count=25, deadline=None)
TestWalModel = WalMachine.TestCase
