"""One followed file: its open descriptor, its settled checkpoint, and one read turn.

A turn reads chunks of `read_chunk_bytes` from the checkpoint offset (up to
`CHUNKS_PER_TURN` of a backlog), frames and decodes them, groups multi-line events,
stamps times, cuts the events into batches that obey PutLogEvents' rules (1 MiB with 26
bytes per event, 10,000 events, non-decreasing timestamps, a 24 h span), and emits the
batches in file order, each with the checkpoint of the file just after its last event.
While one chunk's emits wait for the sink (its fsync), the next chunk is read: one emit
in flight per file, never two. The in-memory checkpoint advances only after `emit`
returns, so what is durable and what the tailer believes never disagree.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from itertools import accumulate, pairwise, repeat
from operator import add

from logd.model import (
    DAY_MS,
    EVENT_OVERHEAD_BYTES,
    HOUR_MS,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    InputEvents,
)
from logd.tail.checkpoint import NORMAL, SPLITTING, FileCheckpoint, file_key
from logd.tail.copies import MARK_BYTES, Prefix
from logd.tail.fingerprint import HEAD_BYTES, matches, read_head
from logd.tail.multiline import Multiline
from logd.tail.options import TailOptions
from logd.tail.reader import Framer
from logd.tail.timestamps import TimestampParser

Emit = Callable[[str, str, InputEvents, tuple[str, bytes]], Awaitable[None]]
TOO_OLD_MS = 14 * DAY_MS
TOO_NEW_MS = 2 * HOUR_MS


@dataclass(slots=True)
class Entry:
    """A `[[tail]]` entry compiled: its options and the parsers its files share."""

    options: TailOptions
    group: str
    multiline: Multiline | None
    timestamps: TimestampParser | None

    @property
    def source_id(self) -> str:
        return self.options.source_id


@dataclass(slots=True, eq=False)
class TailedFile:
    entry: Entry
    path: str
    stream: str
    group: str
    cp: FileCheckpoint
    framer: Framer
    fd: int | None = None
    size: int = 0
    """Size at the last stat or read."""
    last_growth: float = 0.0
    last_active: float = 0.0
    rotated: bool = False
    """The path no longer names this file (renamed out of the glob, or replaced)."""
    deleted_at: float | None = None
    gone: bool = False
    """Finished for good (drained and released, or given up)."""
    queued: bool = False
    busy: bool = False
    open_group: bool = False
    dirty: bool = True
    mtime_ns: int = 0
    rotated_at_scan: int = 0
    prefix: Prefix | None = None
    """What was read of the current content (copies.py: recognising copies of it)."""
    before_truncate: Prefix | None = None
    """The same for the content before the last truncation or rewrite."""
    new_generation: bool = False
    """Set when a truncation or rewrite restarted the file at 0 (the agent checks whether
    the new content is a copy of another file's, then clears it)."""
    copy_of: Prefix | None = None
    """A recognised copy: the prefix of the file it copies (compared again each turn)."""
    copy_from: TailedFile | None = None
    """... and that file; the copy waits until it was truncated (or went away)."""
    copies: list[TailedFile] = field(default_factory=list)
    """Recognised copies of this file; after its truncate it waits until they are read."""
    maybe_copy: bool = False
    """New content (first seen, or restarted at 0) with no events emitted yet: it may be
    a copy still being written; compared with known prefixes again before each turn."""
    scan_after: int = 0
    """Truncated: wait until this many discovery scans have run (its copy may be found)."""
    unsaved: bool = False
    """The checkpoint moved without an emit (a copy starts past its known prefix): the
    agent records it after the turn."""

    @property
    def key(self) -> str:
        return file_key(self.entry.source_id, self.cp.dev, self.cp.ino)

    @property
    def identity(self) -> tuple[int, int]:
        return (self.cp.dev, self.cp.ino)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass(slots=True)
class TurnResult:
    more: bool = False
    counters: dict[str, int] = field(default_factory=dict)


def _bump(counters: dict[str, int], name: str, n: int = 1) -> None:
    if n:
        counters[name] = counters.get(name, 0) + n


def check_generation(f: TailedFile, counters: dict[str, int]) -> None:
    """Size below the offset is a truncation; a changed head is a new generation."""
    if f.fd is None:
        raise ValueError("check_generation needs an open file")
    st = os.fstat(f.fd)
    f.size, f.mtime_ns = st.st_size, st.st_mtime_ns
    cp = f.cp
    truncated = st.st_size < cp.offset
    if truncated or not matches(f.fd, cp.head):
        _bump(counters, "truncations_total" if truncated else "rewrites_total")
        f.cp = replace(cp, offset=0, line_state=NORMAL, part=0, head=read_head(f.fd, st.st_size))
        if f.prefix is not None and f.prefix.marks:
            f.before_truncate = f.prefix
        f.prefix = Prefix(f.cp.head)
        f.new_generation = True
    elif cp.head.length < HEAD_BYTES and st.st_size > cp.head.length:
        f.cp = replace(cp, head=read_head(f.fd, st.st_size))
        if f.prefix is not None:
            f.prefix.head = f.cp.head


#: Chunks one turn may read while the previous chunk's emit is in flight (a backlog is
#: read ahead, one chunk at a time, before the worker moves to another file).
CHUNKS_PER_TURN = 4
#: Loop steps given to an emit before reading ahead: enough for `Store.append` to queue
#: its record and for the store's committer to hand the write to its thread.
_HANDOFF_STEPS = 3


@dataclass(slots=True)
class _Prepared:
    """One chunk read and cut into emits: (events, checkpoint after them), in file order."""

    emits: list[tuple[InputEvents, FileCheckpoint]]
    end: FileCheckpoint
    counters: dict[str, int]
    full: bool
    progressed: bool
    open_group: bool
    data: bytes
    """The chunk read, from file offset `start` (marks for copies.py)."""
    start: int


async def turn(
    f: TailedFile,
    emit: Emit,
    *,
    chunk: int,
    now_ms: int,
    now: float,
    final: bool,
    flush_after_s: float,
    result: TurnResult | None = None,
    on_new_generation: Callable[[TailedFile], bool] | None = None,
) -> TurnResult:
    """Read, frame and emit what one turn allows; see the module docstring.

    Counters go to `result` (a new one if None) as the turn goes: those of each stored
    emit at once, those of reading a chunk once all of its emits are stored (a chunk
    whose emit failed is read again), so a caller sees them even if the turn raises.

    Pipelined: while a chunk's emits are in flight (the store waits for its fsync in a
    thread), the next chunk is read and cut from the checkpoint those emits will leave.
    Emits stay strictly one at a time and in file order, and `f.cp` moves only after
    each returns; a failed emit discards what was read ahead.
    """
    if f.fd is None:
        raise ValueError("turn needs an open file")
    res = result if result is not None else TurnResult()
    check_generation(f, res.counters)
    if f.new_generation and on_new_generation is not None:
        f.new_generation = False
        if on_new_generation(f):  # a copy of another file's content that must wait
            res.more = False
            return res
    f.new_generation = False
    prep = _prepare(f, f.cp, chunk, now_ms, now, final, flush_after_s)
    for n in range(CHUNKS_PER_TURN):
        sending = asyncio.ensure_future(_send(f, emit, prep, res.counters))
        ahead = None
        if prep.full and prep.progressed and n + 1 < CHUNKS_PER_TURN:
            for _ in range(_HANDOFF_STEPS):  # let the emit reach the sink's fsync first
                await asyncio.sleep(0)
            ahead = _prepare(f, prep.end, chunk, now_ms, now, final, flush_after_s)
        await sending
        for name, k in prep.counters.items():
            _bump(res.counters, name, k)
        f.open_group = prep.open_group
        res.more = prep.full and prep.progressed
        if ahead is None:
            break
        prep = ahead
    return res


async def _send(f: TailedFile, emit: Emit, prep: _Prepared, counters: dict[str, int]) -> None:
    for batch, cp in prep.emits:
        await emit(f.group, f.stream, batch, (f.key, cp.encode()))
        f.cp = cp
        at = cp.offset - prep.start
        if f.prefix is not None and cp.line_state == NORMAL and 0 < at <= len(prep.data):
            f.prefix.mark(cp.offset, prep.data[max(0, at - MARK_BYTES) : at])
        if len(batch):
            _bump(counters, "events_total", len(batch))
            _bump(counters, "emits_total")


def _prepare(
    f: TailedFile,
    cp: FileCheckpoint,
    chunk: int,
    now_ms: int,
    now: float,
    final: bool,
    flush_after_s: float,
) -> _Prepared:
    """Read one chunk from `cp` and cut it into emits (no I/O but the read)."""
    if f.fd is None:
        raise ValueError("prepare needs an open file")
    c: dict[str, int] = {}
    start = cp.offset
    data = os.pread(f.fd, chunk, start)
    if len(data):
        f.last_active = now
    full = len(data) == chunk
    records = f.framer.frame(data, start, cp.line_state, final=final)
    for action, n in records.long_lines.items():
        _bump(c, f"long_lines_{action}_total", n)
    messages, bad = f.framer.decode(records)
    if start == 0 and messages and f.framer.unit == 2:
        messages[0] = messages[0].lstrip("\ufeff")
    _bump(c, "decode_errors_total", bad)
    ends, cont = records.ends, records.cont
    settled, line_state = records.settled, records.line_state
    _bump(c, "read_lines_total", len(messages))
    ml = f.entry.multiline
    open_group = False
    if ml is not None and messages:
        flush = final or line_state != NORMAL or (now - f.last_growth) >= flush_after_s
        flush = flush or (full and records.settled - start >= f.framer.cap)
        grouped = ml.group(messages, ends, cont, start, flush=flush)
        messages, ends, cont = grouped.messages, grouped.ends, grouped.cont
        if grouped.open_start is not None:
            settled, line_state, open_group = grouped.open_start, NORMAL, True
    timestamps = _stamp(f, cp, messages, cont, now_ms, c)
    keep = _admit(f.entry.options.out_of_window, messages, timestamps, now_ms, c)
    if keep is not None:
        messages = [m for m, k in zip(messages, keep, strict=True) if k]
        timestamps = [t for t, k in zip(timestamps, keep, strict=True) if k]
        ends = [e for e, k in zip(ends, keep, strict=True) if k]
        if cont is not None:
            cont = [x for x, k in zip(cont, keep, strict=True) if k]
    emits = _plan(f, cp, messages, timestamps, ends, cont, settled, line_state)
    if full and len(emits) > 1:
        # More follows: the short last batch starts the next chunk instead, so emits are
        # full batches (one fsync each) rather than a full one and a short one per chunk.
        emits.pop()
    end = emits[-1][1] if emits else cp
    return _Prepared(emits, end, c, full, end.offset > start, open_group, data, start)


def _stamp(
    f: TailedFile,
    cp: FileCheckpoint,
    messages: list[str],
    cont: list[bool] | None,
    now_ms: int,
    c: dict[str, int],
) -> list[int]:
    parser = f.entry.timestamps
    read_ms = max(now_ms, cp.last_ts)  # read times never go backwards within a file
    if parser is None and cont is None:
        return [read_ms] * len(messages)
    out: list[int] = []
    failed = 0
    prev = cp.part_ts if cp.line_state == SPLITTING else read_ms
    for i, msg in enumerate(messages):
        if cont is not None and cont[i]:
            out.append(prev)
            continue
        ts = parser.parse(msg, read_ms) if parser is not None else read_ms
        if ts is None:
            failed += 1
            ts = read_ms
        out.append(ts)
        prev = ts
    _bump(c, "timestamp_failures_total", failed)
    return out


def _admit(
    policy: str, messages: list[str], ts: list[int], now_ms: int, c: dict[str, int]
) -> list[bool] | None:
    """Which events go on: empty messages never (CloudWatch refuses them); events outside
    the acceptance window per the entry's policy. None: all of them (the usual case)."""
    if not messages:
        return None
    low, high = now_ms - TOO_OLD_MS, now_ms + TOO_NEW_MS
    empty = "" in messages
    outside = policy != "keep" and (min(ts) < low or max(ts) > high)
    if not empty and not outside:
        return None
    keep = [True] * len(messages)
    for i, msg in enumerate(messages):
        if not msg:
            keep[i] = False
            _bump(c, "empty_lines_total")
        elif outside and not low <= ts[i] <= high:
            _bump(c, "out_of_window_total")
            if policy == "drop":
                keep[i] = False
                _bump(c, "out_of_window_dropped_total")
            else:
                ts[i] = now_ms
    return keep


def _cuts(messages: list[str], ts: list[int], monotone: bool) -> list[int]:
    """Exclusive end indices of batches obeying PutLogEvents' limits, in order."""
    n = len(messages)
    sizes = list(accumulate(map(add, map(len, messages), repeat(EVENT_OVERHEAD_BYTES)), initial=0))
    if not "".join(messages).isascii():
        sizes = list(
            accumulate((len(m.encode()) + EVENT_OVERHEAD_BYTES for m in messages), initial=0)
        )
    ordered = monotone or all(a <= b for a, b in pairwise(ts))
    cuts: list[int] = []
    i = 0
    while i < n:
        j = bisect_right(sizes, sizes[i] + MAX_BATCH_BYTES) - 1
        j = min(j, i + MAX_BATCH_EVENTS, n)
        j = max(j, i + 1)
        if not monotone and (not ordered or ts[j - 1] - ts[i] > DAY_MS):
            lo = hi = ts[i]
            k = i + 1
            while k < j and ts[k] >= ts[k - 1] and max(hi, ts[k]) - lo <= DAY_MS:
                hi = max(hi, ts[k])
                k += 1
            j = k
        cuts.append(j)
        i = j
    return cuts


def _plan(
    f: TailedFile,
    cp: FileCheckpoint,
    messages: list[str],
    ts: list[int],
    ends: list[int],
    cont: list[bool] | None,
    settled: int,
    line_state: int,
) -> list[tuple[InputEvents, FileCheckpoint]]:
    """The emits of one chunk: batches within PutLogEvents' limits, each with the
    checkpoint just after its last event (the last one: everything settled)."""
    if not messages:
        if settled != cp.offset or line_state != cp.line_state:
            return [(InputEvents(), replace(cp, offset=settled, line_state=line_state))]
        return []
    read_times = f.entry.timestamps is None
    cuts = _cuts(messages, ts, read_times)
    out: list[tuple[InputEvents, FileCheckpoint]] = []
    start = 0
    for n, end in enumerate(cuts):
        if n == len(cuts) - 1:
            offset, state = settled, line_state
        else:
            offset = ends[end - 1]
            state = SPLITTING if cont is not None and cont[end] else NORMAL
        last_ts = max(cp.last_ts, ts[end - 1]) if read_times else cp.last_ts
        new = replace(cp, offset=offset, line_state=state, last_ts=last_ts)
        if state == SPLITTING:
            new.part_ts = ts[end - 1]
        out.append((InputEvents(ts[start:end], messages[start:end]), new))
        cp = new
        start = end
    return out
