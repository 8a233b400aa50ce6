"""The dead-letter store: events a sink refused for good, kept with the reason.

Layout: ``<root>/<sha256(subscription)[:16]>/dead.ndjson``, one JSON record per line and
per dead-lettered batch (subscriptions-and-export.md §7.3). The directory name is a hash,
never the subscription's name, so no user-supplied string becomes a path. Each append is
written and fsynced before the subscription's cursor moves past its events.

Writers (the daemon's dispatchers, `logd dlq replay|purge` from another process) take
an exclusive `flock` on `<dir>/lock` around every append and rewrite, so a replay
running beside the daemon never loses a letter appended meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from logd.durable import fsync_dir


def _dir_name(subscription: str) -> str:
    return hashlib.sha256(subscription.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    subscription: str
    sink: str
    reason: str
    error_class: str
    attempts: int
    first_attempt_at: int
    dead_lettered_at: int
    idempotency_key: str
    log_group: str
    log_stream: str
    events: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "subscription": self.subscription,
            "deadLetteredAt": self.dead_lettered_at,
            "sink": self.sink,
            "reason": self.reason,
            "class": self.error_class,
            "attempts": self.attempts,
            "firstAttemptAt": self.first_attempt_at,
            "lastError": self.reason,
            "idempotencyKey": self.idempotency_key,
            "logGroup": self.log_group,
            "logStream": self.log_stream,
            "events": self.events,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeadLetter:
        return cls(
            subscription=data["subscription"],
            sink=data["sink"],
            reason=data["reason"],
            error_class=data["class"],
            attempts=data["attempts"],
            first_attempt_at=data["firstAttemptAt"],
            dead_lettered_at=data["deadLetteredAt"],
            idempotency_key=data["idempotencyKey"],
            log_group=data["logGroup"],
            log_stream=data["logStream"],
            events=data["events"],
        )


class DeadLetterStore:
    """Blocking file I/O: call from a thread (the dispatcher uses asyncio.to_thread)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, subscription: str) -> Path:
        return self.root / _dir_name(subscription) / "dead.ndjson"

    @contextlib.contextmanager
    def _locked(self, subscription: str) -> Iterator[Path]:
        path = self._file(subscription)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.parent / "lock", os.O_WRONLY | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield path
        finally:
            os.close(fd)  # releases the lock

    def append(self, letter: DeadLetter) -> None:
        new_dir = not self._file(letter.subscription).parent.exists()
        with self._locked(letter.subscription) as path:
            line = orjson.dumps(letter.to_json()) + b"\n"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        if new_dir:
            fsync_dir(path.parent.parent)

    def subscriptions(self) -> list[str]:
        """Names of the subscriptions that have dead letters, sorted."""
        names = []
        if not self.root.exists():
            return []
        for path in self.root.glob("*/dead.ndjson"):
            with path.open("rb") as fh:
                first = fh.readline()
            if first.endswith(b"\n"):
                names.append(str(orjson.loads(first)["subscription"]))
        return sorted(names)

    def remove(self, subscription: str, done: Iterable[tuple[str, int]]) -> int:
        """Drop the letters identified by (idempotency key, dead-lettered at); the rest,
        including letters appended meanwhile, stay. Returns how many were dropped."""
        gone = set(done)
        with self._locked(subscription):
            letters = list(self.letters(subscription))
            keep = [x for x in letters if (x.idempotency_key, x.dead_lettered_at) not in gone]
            if len(keep) != len(letters):
                self._rewrite(subscription, keep)
        return len(letters) - len(keep)

    def letters(self, subscription: str) -> Iterator[DeadLetter]:
        path = self._file(subscription)
        if not path.exists():
            return
        with path.open("rb") as fh:
            for raw in fh:
                if raw.endswith(b"\n"):  # a torn last line was never acknowledged
                    yield DeadLetter.from_json(orjson.loads(raw))

    def count_events(self, subscription: str) -> int:
        return sum(len(letter.events) for letter in self.letters(subscription))

    def replace(self, subscription: str, keep: list[DeadLetter]) -> None:
        """Atomically rewrite a subscription's store with only `keep` (after a replay)."""
        with self._locked(subscription):
            self._rewrite(subscription, keep)

    def _rewrite(self, subscription: str, keep: list[DeadLetter]) -> None:
        path = self._file(subscription)
        if not path.exists():
            return
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            for letter in keep:
                fh.write(orjson.dumps(letter.to_json()) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)

    def purge(self, subscription: str) -> int:
        with self._locked(subscription) as path:
            count = sum(1 for _ in self.letters(subscription))
            if path.exists():
                path.unlink()
                fsync_dir(path.parent)
        return count
