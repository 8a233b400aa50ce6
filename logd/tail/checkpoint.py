"""The per-file checkpoint: what rides in the WAL record with the events it produced.

One checkpoint key per tailed file identity: ``tail:<source id>:<dev>:<inode>``. Append is
per (group, stream) and one WAL record holds one checkpoint, so a record's checkpoint
describes exactly the one file its events came from. A vanished file's key is written
once more with an empty value (a tombstone), which garbage-collects its state. The key
``tail:<source id>:started`` records that the entry has had its first start (so
`read_from = tail` applies only then).

Value (versioned, orjson): ``{"v": 1, "path", "dev", "ino", "hl", "hh", "off", "ls",
"part", "pts", "lts", "st", "org", "gen"}``: the head length and hash (fingerprint.py),
the byte offset up to which every byte is settled (emitted, or dropped by a counted
policy), the line state (0 at a line start, 1 inside a long line being split into parts,
2 discarding the rest of a truncated or dropped long line), the next part number and the
parts' shared timestamp, the last timestamp emitted (read times never go backwards in a
file) and the stream the file writes to, the path it was first seen at and its
generation at that path (all kept when the file is renamed: files of one origin are read
in generation order, the order in which the agent saw them take the path; neither
mtimes, which tie at the file system's timestamp granularity, nor inode numbers, which
are reused, order a rotation).
The offset never passes an unterminated line or an unfinished multi-line event: those
bytes are read again after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from logd.tail.fingerprint import Head

VERSION = 1
NORMAL, SPLITTING, DISCARDING = 0, 1, 2


class CorruptCheckpoint(ValueError):
    """A stored checkpoint value cannot be decoded; the file falls back to no state."""


@dataclass(slots=True)
class FileCheckpoint:
    path: str
    dev: int
    ino: int
    head: Head
    offset: int = 0
    line_state: int = NORMAL
    part: int = 0
    part_ts: int = 0
    last_ts: int = 0
    stream: str = ""
    origin: str = ""
    gen: int = 0

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "v": VERSION,
                "path": self.path,
                "dev": self.dev,
                "ino": self.ino,
                "hl": self.head.length,
                "hh": self.head.digest.hex(),
                "off": self.offset,
                "ls": self.line_state,
                "part": self.part,
                "pts": self.part_ts,
                "lts": self.last_ts,
                "st": self.stream,
                "org": self.origin,
                "gen": self.gen,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> FileCheckpoint:
        try:
            raw = orjson.loads(data)
            if raw.get("v") != VERSION:
                raise CorruptCheckpoint(f"unknown checkpoint version {raw.get('v')!r}")
            return cls(
                path=str(raw["path"]),
                dev=int(raw["dev"]),
                ino=int(raw["ino"]),
                head=Head(int(raw["hl"]), bytes.fromhex(raw["hh"])),
                offset=int(raw["off"]),
                line_state=int(raw["ls"]),
                part=int(raw["part"]),
                part_ts=int(raw["pts"]),
                last_ts=int(raw["lts"]),
                stream=str(raw.get("st", "")),
                origin=str(raw.get("org", "")),
                gen=int(raw.get("gen", 0)),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, CorruptCheckpoint):
                raise
            raise CorruptCheckpoint(f"undecodable checkpoint: {exc}") from exc


def file_key(source_id: str, dev: int, ino: int) -> str:
    return f"tail:{source_id}:{dev}:{ino}"


def started_key(source_id: str) -> str:
    return f"tail:{source_id}:started"


def source_of(key: str) -> str | None:
    """The source id of a tail key, or None for a key that is not ours."""
    if not key.startswith("tail:"):
        return None
    source, _, _rest = key[5:].rpartition(":")
    if _rest == "started":
        return source
    source, _, _dev = source.rpartition(":")
    return source or None
