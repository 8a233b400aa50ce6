"""Bytes of a file → records (complete lines) with their end offsets, and records → text.

The hot path is one `bytes.split` per chunk and one decode of the whole block: no
per-line Python objects beyond the lists themselves. Offsets are byte offsets in the
file. A line is complete only at its newline: the unterminated tail of a chunk is left
unread (re-read next turn) unless the file is final (rotated or deleted and drained).

Long lines: every record decodes to at most `cap` UTF-8 bytes. A longer line is split
into parts (a part of a line still being written is emitted once `cap` bytes of it
exist; the framing state then says SPLITTING), truncated with a marker (the rest of the
line is discarded: DISCARDING) or dropped. A part never cuts a UTF-8 sequence.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add

from logd.tail.checkpoint import DISCARDING, NORMAL, SPLITTING


@dataclass(slots=True)
class Records:
    raw_: list[bytes] | None
    """Record bytes (see `raw`); None when only `messages` were made (the fast path)."""
    ends: list[int]
    """File offset just after each record (its newline included)."""
    settled: int
    """File offset through which every byte is accounted for by these records."""
    line_state: int = NORMAL
    cont: list[bool] | None = None
    """cont[i]: record i is a later part of the line record i-1 (or, for i = 0, of the
    line the previous turn left SPLITTING). None: no parts in this turn."""
    block: bytes | None = None
    """Fast path: the records joined by newlines, decoded in one call."""
    long_lines: dict[str, int] = field(default_factory=dict)
    messages: list[str] | None = None
    """Fast path: the records already decoded (valid ASCII text, no `\\r`)."""

    @property
    def raw(self) -> list[bytes]:
        """Record bytes, newline excluded (a `\\r` before it is stripped at decode)."""
        if self.raw_ is None:
            self.raw_ = self.block.split(b"\n") if self.block is not None else []
        return self.raw_


class Framer:
    """Splits a file's bytes into records under one entry's long-line policy and codec."""

    def __init__(self, cap: int, policy: str, encoding: str, marker: str) -> None:
        self.cap = cap
        self.policy = policy
        info = codecs.lookup(encoding)
        self.codec = info.name
        self.unit = 2 if self.codec.startswith("utf-16") else 1
        if self.codec == "utf-16":  # BOM-detected per file; little-endian until told
            self.codec = "utf-16-le"
        self.nl = "\n".encode(self.codec)
        self.marker = marker.encode(self.codec) if marker else b""

    def set_byte_order(self, bom: bytes) -> None:
        """UTF-16 with a BOM: follow it (FE FF = big-endian)."""
        if self.unit == 2 and bom[:2] == b"\xfe\xff":
            self.codec = "utf-16-be"
            self.nl = "\n".encode(self.codec)
            self.marker = self.marker.decode("utf-16-le").encode(self.codec)

    # -- framing ------------------------------------------------------------------------
    def frame(self, data: bytes, base: int, line_state: int, *, final: bool) -> Records:
        pos = 0
        out = Records([], [], base, line_state)
        if line_state == DISCARDING:
            nl = self._find(data, 0)
            if nl < 0:
                out.settled = base + len(data)
                return out
            pos = nl + len(self.nl)
            out.line_state = NORMAL
        last = self._rfind(data, pos)
        continuing = out.line_state == SPLITTING
        if last >= pos:
            block = data[pos:last]
            if continuing or not self._ascii_block(out, block, base + pos):
                lines = self._split(block)
                longest = max(map(len, lines))
                if longest <= self.cap // 3 and not continuing:
                    out.raw_ = lines
                    out.ends = list(
                        accumulate(
                            map(add, map(len, lines), repeat(len(self.nl))), initial=base + pos
                        )
                    )[1:]
                    out.block = block
                else:
                    self._slow_lines(out, lines, base + pos, continuing)
            pos = last + len(self.nl)
            out.line_state = NORMAL
            continuing = False
        out.settled = base + pos
        rest = data[pos:]
        if rest and final:
            self._slow_lines(out, [rest], base + pos, continuing, trailing_nl=False)
            out.settled = base + len(data)
            out.line_state = NORMAL
        elif len(rest) > self.cap:
            self._long_partial(out, rest, base + pos, continuing)
        return out

    def _ascii_block(self, out: Records, block: bytes, start: int) -> bool:
        """The common case in one pass per step, with no per-line bytes objects: a block
        of UTF-8 that is all ASCII (byte and character lengths agree), no `\\r`, no line
        near the cap. Fills `out` and returns True, or returns False for the general path."""
        if self.codec != "utf-8":
            return False
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return False
        if not text.isascii() or "\r" in text:
            return False
        messages = text.split("\n")
        if max(map(len, messages)) > self.cap // 3:
            return False
        out.raw_ = None
        out.ends = list(accumulate(map(add, map(len, messages), repeat(1)), initial=start))[1:]
        out.block = block
        out.messages = messages
        return True

    def _find(self, data: bytes, start: int) -> int:
        if self.unit == 1:
            return data.find(self.nl, start)
        i = data.find(self.nl, start)
        while i >= 0 and (i - start) % 2:
            i = data.find(self.nl, i + 1)
        return i

    def _rfind(self, data: bytes, start: int) -> int:
        if self.unit == 1:
            return data.rfind(self.nl, start)
        i, last = self._find(data, start), -1
        while i >= 0:
            last, i = i, self._find(data, i + 2)
        return last

    def _split(self, block: bytes) -> list[bytes]:
        if self.unit == 1:
            return block.split(self.nl)
        out, start = [], 0
        i = self._find(block, 0)
        while i >= 0:
            out.append(block[start:i])
            start = i + 2
            i = self._find(block, start)
        out.append(block[start:])
        return out

    def _slow_lines(
        self,
        out: Records,
        lines: list[bytes],
        start: int,
        continuing: bool,
        *,
        trailing_nl: bool = True,
    ) -> None:
        """Lines some of which may need splitting: per-line handling, with cont flags."""
        cont = out.cont if out.cont is not None else [False] * len(out.raw)
        nl = len(self.nl) if trailing_nl else 0
        offset = start
        for i, line in enumerate(lines):
            end = offset + len(line) + nl
            first_is_part = continuing and i == 0
            pieces = self.pieces(line) if len(line) > self.cap // 3 else [line]
            if len(pieces) == 1 and not first_is_part:
                out.raw.append(line)
                out.ends.append(end)
                cont.append(False)
            elif self.policy == "split" or first_is_part:
                self._count(out, "split")
                at = offset
                for j, piece in enumerate(pieces):
                    at += len(piece)
                    out.raw.append(piece)
                    out.ends.append(end if j == len(pieces) - 1 else at)
                    cont.append(j > 0 or first_is_part)
            elif self.policy == "truncate":
                self._count(out, "truncate")
                out.raw.append(self._truncated(line))
                out.ends.append(end)
                cont.append(False)
            else:
                self._count(out, "drop")
            offset = end
        out.cont = cont

    def _long_partial(self, out: Records, rest: bytes, start: int, continuing: bool) -> None:
        """An unterminated line already longer than the cap: act on it now."""
        cont = out.cont if out.cont is not None else [False] * len(out.raw)
        if self.policy == "split" or continuing:
            self._count(out, "split")
            at = start
            while len(rest) > self.cap:
                piece = self.pieces(rest, first_only=True)[0]
                at += len(piece)
                out.raw.append(piece)
                out.ends.append(at)
                cont.append(continuing)
                continuing = True
                rest = rest[len(piece) :]
            out.settled = at
            out.line_state = SPLITTING
        else:
            if self.policy == "truncate":
                out.raw.append(self._truncated(rest))
                out.ends.append(start + len(rest))
                cont.append(False)
            self._count(out, self.policy)
            out.settled = start + len(rest)
            out.line_state = DISCARDING
        out.cont = cont

    def _truncated(self, line: bytes) -> bytes:
        keep = self.cap - len(self.marker)
        return self.pieces(line, first_only=True, cap=keep)[0] + self.marker

    def _count(self, out: Records, action: str) -> None:
        out.long_lines[action] = out.long_lines.get(action, 0) + 1

    def pieces(self, line: bytes, *, first_only: bool = False, cap: int = 0) -> list[bytes]:
        """Cut `line` into pieces that each decode to at most `cap` UTF-8 bytes."""
        cap = cap or self.cap
        out: list[bytes] = []
        start = 0
        while start < len(line):
            k = min(cap, len(line) - start)
            while True:
                if self.unit == 2:
                    k -= k % 2
                elif start + k < len(line):  # never cut inside a UTF-8 sequence
                    back = 0
                    while back < 3 and (line[start + k - back] & 0xC0) == 0x80:
                        back += 1
                    if back < 3 and back < k:
                        k -= back
                size = len(line[start : start + k].decode(self.codec, "replace").encode())
                if size <= cap:
                    break
                k = max(self.unit, k * cap // size - 4)
            out.append(line[start : start + k])
            start += k
            if first_only:
                out.append(line[start:])
                return out
        return out or [b""]

    # -- decoding -------------------------------------------------------------------------
    def decode(self, records: Records) -> tuple[list[str], int]:
        """Messages of the records (trailing \\r stripped) and how many had bad bytes."""
        errors = 0
        codec = self.codec
        if records.messages is not None and records.cont is None:
            return records.messages, 0
        if records.block is not None and records.cont is None:
            try:
                text = records.block.decode(codec)
            except UnicodeDecodeError:
                text = records.block.decode(codec, "replace")
                errors = self._count_errors(records.raw)
            if "\r" in text:
                text = text.replace("\r\n", "\n")
                messages = text.split("\n")
                if messages[-1].endswith("\r"):
                    messages[-1] = messages[-1][:-1]
                return messages, errors
            return text.split("\n"), errors
        messages = []
        for raw in records.raw:
            try:
                msg = raw.decode(codec)
            except UnicodeDecodeError:
                msg = raw.decode(codec, "replace")
                errors += 1
            messages.append(msg[:-1] if msg.endswith("\r") else msg)
        return messages, errors

    def _count_errors(self, lines: list[bytes]) -> int:
        bad = 0
        for line in lines:
            try:
                line.decode(self.codec)
            except UnicodeDecodeError:
                bad += 1
        return bad
