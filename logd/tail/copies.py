"""copytruncate copies: a new file that holds a prefix already read from another file.

logrotate's copytruncate copies `app.log` to `app.log.1` and then truncates `app.log`.
When the glob also matches the copy, reading the copy from 0 would store again every
line already read from the original. Instead, a file starting a new generation (first
seen, or rewritten in place, e.g. a copy written over an older copy) is compared with
the files of the same entry and origin path: if it starts with the head of one of them
and holds, at one of that file's recent read offsets, the very bytes just before that
offset, it is a copy. It is then read from that offset only: the lines the writer added
between our last read and the copy are read from the copy (they would otherwise be
lost to the truncate), and nothing is read twice. If we had already read the original
past the copy's end, the copy is wholly known and skipped.

What each followed file remembers for this (`Prefix`, in memory only): its head and the
last bytes before each of its last few settled offsets (`MARKS` offsets, `MARK_BYTES`
bytes each), for its current content and for the content before its last truncation
(the copy is usually found after the truncate). After a restart a file has one mark,
taken at its saved offset when it is adopted. A recognised copy is compared with its
original again before each of its turns: the original may have been read further
before its truncate (the copy then skips that too). A new file that is not (yet) a copy
is compared again before each turn until it emits its first events: a copy is usually
first seen empty or half written.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from logd.tail.fingerprint import Head, matches

MARKS = 16
MARK_BYTES = 256


@dataclass(slots=True)
class Prefix:
    """What was read from one generation of a file: its head and recent offset marks."""

    head: Head
    marks: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=MARKS))

    @property
    def read_to(self) -> int:
        return self.marks[-1][0] if self.marks else 0

    def mark(self, offset: int, before: bytes) -> None:
        """The bytes `before` end at the settled offset `offset` (a line start)."""
        if offset > 0 and before and (not self.marks or offset > self.marks[-1][0]):
            self.marks.append((offset, before[-MARK_BYTES:]))


def mark_from_file(prefix: Prefix, fd: int, offset: int) -> None:
    """A mark at `offset` read from the file itself (a file adopted with saved state)."""
    if offset <= 0:
        return
    start = max(0, offset - MARK_BYTES)
    data = os.pread(fd, offset - start, start)
    if len(data) == offset - start:
        prefix.mark(offset, data)


def copy_offset(fd: int, size: int, known: Iterable[Prefix]) -> tuple[int, Prefix] | None:
    """Where to start reading the new file `fd` (of `size` bytes) if it is a copy of one
    of the `known` prefixes, and which one; else None. The offset is a line start of the
    copy, or its end."""
    best: tuple[int, Prefix] | None = None
    for prefix in known:
        if not prefix.marks or prefix.head.length == 0 or prefix.head.length > size:
            continue
        if not matches(fd, prefix.head):
            continue
        if all(offset > size for offset, _ in prefix.marks):
            # A copy still being written, shorter than anything we verified: its head is
            # ours, and we read past its end. Known so far; checked again as it grows.
            start = size
            if best is None or start > best[0]:
                best = (start, prefix)
            continue
        for offset, before in reversed(prefix.marks):
            if offset > size:
                continue
            got = os.pread(fd, len(before), offset - len(before))
            if got != before:
                continue
            # Read past the copy's end already: every byte of the copy is known.
            start = size if prefix.read_to > size else offset
            if best is None or start > best[0]:
                best = (start, prefix)
            break
    return best
