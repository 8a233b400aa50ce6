"""The tail agent: files → events + checkpoints, through `emit`, exactly once.

Invariants:
- Every emit carries the checkpoint of the one file its events came from, and the
  tailer's in-memory checkpoint moves only after `emit` returns. With the store's
  append (events and checkpoint in one WAL record) a recovered WAL always holds a
  checkpoint consistent with the events stored: restart resumes right after them.
- A file's events are emitted in file order, one emit at a time per file; up to
  `workers` files are read and emitted concurrently. When `emit` blocks (the WAL's
  backpressure), the workers block, so reading pauses and memory stays at about
  2 x `workers` x `read_chunk_bytes` (a chunk being emitted, the next read ahead).
- Discovery only adds files. Deletion is seen on the descriptor, rotation by the path
  naming another inode; a file out of its glob is drained, kept `rotate_wait_ms`, then
  released with a tombstone checkpoint (garbage collection of its state).
- Open descriptors stay within `max_open_files`: idle files are closed least recently
  active first and reopened by identity (a changed identity at the path means the old
  file went away while closed; its unread bytes, when known, are counted as lost). A
  process that runs out of descriptors first (EMFILE/ENFILE: `ulimit -n` below the
  budget plus the rest of the process) lowers the budget to what it holds, less an
  eighth, for the rest of the run, and parks idle files to match; otherwise every file
  open would stay open and no new file could ever be opened.

The exceptions to exactly-once are the guarantee table in docs/tail.md, each counted in
`metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
from collections.abc import Mapping

from logd.clock import Clock
from logd.model import InputEvents
from logd.tail import discovery
from logd.tail.checkpoint import (
    NORMAL,
    CorruptCheckpoint,
    FileCheckpoint,
    source_of,
    started_key,
)
from logd.tail.copies import Prefix, copy_offset, mark_from_file
from logd.tail.fingerprint import matches, read_head
from logd.tail.multiline import Multiline
from logd.tail.naming import HostFacts, check_group, check_stream, render
from logd.tail.options import AgentOptions, TailOptions
from logd.tail.reader import Framer
from logd.tail.tailer import Emit, Entry, TailedFile, TurnResult, turn
from logd.tail.timestamps import TimestampParser, format_to_pattern
from logd.tail.watch import Inotify, network_fs

log = logging.getLogger("logd.tail")
_OPEN_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
#: Scans that must miss a stored file before its state is dropped (a file renamed during
#: one scan is found by the next).
_STORED_MISSES = 3


def compile_entry(options: TailOptions, facts: HostFacts, now_ms: int) -> Entry:
    ts = None
    if options.timestamp_format or options.timestamp_key:
        ts = TimestampParser(
            options.timestamp_format, key=options.timestamp_key, timezone=options.timezone
        )
    ml = None
    if options.multiline_start_pattern:
        pattern = options.multiline_start_pattern
        if "{timestamp_format}" in pattern:
            pattern = pattern.replace(
                "{timestamp_format}", format_to_pattern(options.timestamp_format or "rfc3339")
            )
        ml = Multiline(
            pattern, max_lines=options.multiline_max_lines, max_bytes=options.max_event_bytes
        )
    group = check_group(render(options.log_group, facts, "", now_ms))
    return Entry(options, group, ml, ts)


class TailAgent:
    def __init__(
        self,
        options: AgentOptions,
        emit: Emit,
        checkpoints: Mapping[str, bytes],
        clock: Clock,
        facts: HostFacts | None = None,
    ) -> None:
        self.options = options
        self.clock = clock
        self._emit = emit
        self.facts = facts or HostFacts.detect(
            hostname=options.hostname, instance_id=options.instance_id
        )
        now = clock.now_ms()
        self.entries = [compile_entry(t, self.facts, now) for t in options.tails]
        self.metrics: dict[str, int] = {}
        self._stored: dict[str, FileCheckpoint] = {}
        self._started: set[str] = set()
        for key, value in checkpoints.items():
            source = source_of(key)
            if source is None or not value:
                continue
            if key == started_key(source):
                self._started.add(source)
                continue
            try:
                self._stored[key] = FileCheckpoint.decode(value)
            except CorruptCheckpoint as exc:
                self._bump("checkpoint_corrupt_total")
                log.error(
                    "Tail checkpoint is corrupt and is ignored",
                    extra={"key": key, "error": str(exc)},
                )
        self.files: dict[tuple[str, int, int], TailedFile] = {}
        self._by_path: dict[str, TailedFile] = {}
        self._ready: asyncio.Queue[TailedFile] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._rescan = True
        self._inotify: Inotify | None = None
        self._unreadable: set[str] = set()
        self._misses: dict[str, int] = {}
        self._scans = 0
        self._origins: dict[tuple[str, str], list[TailedFile]] = {}
        self._gens: dict[tuple[str, str], int] = {}
        self._fresh: list[TailedFile] = []
        """Next generation per (source, origin path): the order files took that path."""
        for key, cp in self._stored.items():
            self._note_gen((source_of(key) or "", cp.origin or cp.path), cp.gen)
        self.first_scan_done = asyncio.Event()
        self.max_open = options.max_open_files
        """The descriptor budget in force: `max_open_files`, lowered if the process runs
        out of descriptors before it."""

    # -- metrics --------------------------------------------------------------------------
    def _bump(self, name: str, n: int = 1) -> None:
        if n:
            self.metrics[name] = self.metrics.get(name, 0) + n

    def gauges(self) -> dict[str, int]:
        live = [f for f in self.files.values() if not f.gone]
        return {
            "files_watched": len(live),
            "files_open": sum(1 for f in live if f.fd is not None),
            "files_unreadable": len(self._unreadable),
            "dirs_watched": self._inotify.watched if self._inotify else 0,
            "file_lag_bytes": sum(max(f.size - f.cp.offset, 0) for f in live),
        }

    # -- lifecycle ------------------------------------------------------------------------
    async def run(self) -> None:
        """Follow files until cancelled."""
        self._start_watch()
        try:
            await self._initial_scan()
            async with asyncio.TaskGroup() as tg:
                for _ in range(self.options.workers):
                    tg.create_task(self._worker())
                tg.create_task(self._ticker())
        finally:
            if self._inotify is not None:
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_reader(self._inotify.fd)
                self._inotify.close()
                self._inotify = None
            for f in self.files.values():
                f.close()

    def _start_watch(self) -> None:
        mode = self.options.watch_mode
        if mode == "poll":
            return
        if mode == "auto":
            bases = [discovery.static_prefix(p) for e in self.entries for p in e.options.paths]
            if any(network_fs(b) for b in bases):
                return
        try:
            self._inotify = Inotify(self._on_change)
        except OSError as exc:
            self._bump("watch_errors_total")
            log.warning("inotify unavailable, polling only", extra={"error": str(exc)})
            return
        asyncio.get_running_loop().add_reader(self._inotify.fd, self._inotify.poll)

    def _on_change(self, path: str, new_name: bool) -> None:
        f = self._by_path.get(path)
        if f is not None:
            self._mark(f)
        if new_name or f is None:
            self._rescan = True
            self._wake.set()

    # -- discovery ------------------------------------------------------------------------
    async def _initial_scan(self) -> None:
        seen: set[str] = set()
        for entry in self.entries:
            first_start = entry.source_id not in self._started
            for path in discovery.scan(entry.options.paths, entry.options.exclude):
                f = self._adopt(entry, path, at_start=True, first_start=first_start)
                if f is not None:
                    seen.add(f.key)
                    if f.cp.offset and f.key not in self._stored:  # tail or ignore_older
                        await self._emit(f.group, f.stream, _no_events(), (f.key, f.cp.encode()))
            if first_start:
                await self._emit(
                    entry.group, "logd-agent", _no_events(), (started_key(entry.source_id), b"1")
                )
                self._started.add(entry.source_id)
        self._order_fresh()
        await self._collect_stored(seen, first=True)
        self._rescan = False
        self._refresh_watches()
        self.first_scan_done.set()

    async def _collect_stored(self, seen: set[str], *, first: bool) -> None:
        """Stored checkpoints no scan found: adopt them at their last path if they are
        still there; forget them (tombstone, counted) after `_STORED_MISSES` scans."""
        for key, cp in list(self._stored.items()):
            if key in seen:
                continue
            owner = next((e for e in self.entries if source_of(key) == e.source_id), None)
            if owner is None:
                continue  # an entry no longer configured keeps its state (A27)
            try:
                st = os.stat(cp.path)
            except FileNotFoundError:
                st = None
            except OSError:
                continue  # not a deletion: a scan error
            same = st is not None and (st.st_dev, st.st_ino) == (cp.dev, cp.ino)
            if same and self._adopt(owner, cp.path, at_start=True, first_start=False):
                continue
            misses = self._misses[key] = self._misses.get(key, 0) + 1
            if misses >= _STORED_MISSES:
                self._bump("lost_files_total")  # gone (or out of the glob) while we were down
                del self._stored[key]
                await self._emit(owner.group, cp.stream or "logd-agent", _no_events(), (key, b""))

    def _adopt(
        self, entry: Entry, path: str, *, at_start: bool, first_start: bool
    ) -> TailedFile | None:
        """Start following `path` (or note its new name); None if unreadable or known."""
        self._budget(None)
        try:
            fd = self._open(path, None)
        except OSError as exc:
            if path not in self._unreadable:
                self._unreadable.add(path)
                log.error(
                    "Cannot open a tailed file",
                    extra={"path": path, "errno": exc.errno, "uid": os.getuid()},
                )
            return None
        self._unreadable.discard(path)
        st = os.fstat(fd)
        ident = (entry.source_id, st.st_dev, st.st_ino)
        known = self.files.get(ident)
        if known is not None and not known.gone:
            os.close(fd)
            if known.path != path and (known.rotated or known.path not in self._by_path):
                self._move(known, path)
            return None
        now_ms, now = self.clock.now_ms(), self.clock.monotonic()
        framer = Framer(
            entry.options.max_event_bytes,
            entry.options.long_lines,
            entry.options.encoding,
            entry.options.truncate_marker,
        )
        if framer.unit == 2:
            framer.set_byte_order(os.pread(fd, 2, 0))
        key = f"tail:{entry.source_id}:{st.st_dev}:{st.st_ino}"
        stored = self._stored.pop(key, None)
        self._misses.pop(key, None)
        cp = FileCheckpoint(path, st.st_dev, st.st_ino, read_head(fd, st.st_size))
        if stored is not None and st.st_size >= stored.offset and matches(fd, stored.head):
            cp = stored
            cp.path = path
            if stored.head.length < cp.head.length:
                cp.head = read_head(fd, st.st_size)
        elif stored is not None:
            self._bump("truncations_total" if st.st_size < stored.offset else "rewrites_total")
        elif at_start and first_start and entry.options.read_from == "tail":
            cp.offset = _line_start(fd, st.st_size)
        if (
            stored is None
            and entry.options.ignore_older_s > 0
            and st.st_mtime < now_ms / 1000 - entry.options.ignore_older_s
        ):
            cp.offset = _line_start(fd, st.st_size)
            self._bump("ignored_older_total")
        stream = cp.stream or check_stream(
            render(entry.options.log_stream, self.facts, path, now_ms)
        )
        cp.stream = stream
        f = TailedFile(entry, path, stream, entry.group, cp, framer, fd=fd, size=st.st_size)
        f.last_growth = f.last_active = now
        f.mtime_ns = st.st_mtime_ns
        fresh = not cp.origin
        if fresh:  # first seen now: the newest generation of the path it rotated from
            cp.origin = discovery.family(path)[0]
            cp.gen = self._gens.get((entry.source_id, cp.origin), 0)
        origin = (entry.source_id, cp.origin)
        f.prefix = Prefix(cp.head)
        mark_from_file(f.prefix, fd, cp.offset)
        if stored is None and cp.offset == 0:
            f.maybe_copy = True
            self._recognise_copy(f)
        self._note_gen(origin, cp.gen)
        self._origins.setdefault(origin, []).append(f)
        self.files[ident] = f
        self._by_path[path] = f
        if fresh:  # scheduled once its scan has ordered it (queued keeps _mark away)
            f.queued = True
            self._fresh.append(f)
        else:
            self._mark(f)
        return f

    def _recognise_copy(self, f: TailedFile) -> None:
        """`f` starts a new generation (first seen, or rewritten): if it is a copy of
        content read from another file of its origin (copytruncate), start it past that
        content (copies.py); counted in `copies_total`."""
        if f.fd is None:
            return
        known: dict[int, tuple[Prefix, TailedFile]] = {}
        for g in self._origins.get((f.entry.source_id, f.cp.origin), ()):
            if g is not f and not g.gone:
                for p in (g.prefix, g.before_truncate):
                    if p is not None:
                        known[id(p)] = (p, g)
        if not known:
            return
        found = copy_offset(f.fd, os.fstat(f.fd).st_size, [p for p, _ in known.values()])
        if found is None:
            return
        f.maybe_copy = False
        f.copy_of, f.copy_from = found[1], known[id(found[1])][1]
        f.copy_from.copies = [c for c in f.copy_from.copies if not c.gone] + [f]
        f.cp.offset = 0
        self._skip_copied(f, found[0])
        self._bump("copies_total")

    def _new_generation(self, f: TailedFile) -> bool:
        """Inside a turn, `f` restarted at 0: is it a copy, and must it wait? A file that
        is not a copy may have just been copied (copytruncate): it waits for one scan,
        which finds the copy if the glob matches it, so the copy's lines come first."""
        f.copy_of = f.copy_from = None
        f.maybe_copy = True
        self._recognise_copy(f)
        if f.copy_from is None:
            f.scan_after = self._scans + 1
            self._wake.set()
        return self._copy_waits(f)

    def _skip_copied(self, f: TailedFile, start: int) -> None:
        if start <= f.cp.offset or f.cp.line_state != NORMAL or f.fd is None:
            return
        self._bump("copy_bytes_skipped_total", start - f.cp.offset)
        f.cp.offset, f.cp.part = start, 0
        # The head must cover what is skipped: a copy rewritten again is a new generation.
        f.cp.head = read_head(f.fd, os.fstat(f.fd).st_size)
        f.unsaved = True
        if f.prefix is not None:
            mark_from_file(f.prefix, f.fd, start)

    def _recheck_copy(self, f: TailedFile) -> None:
        """Its original may have been read further before its truncate: skip that too.
        A new file with no events yet may have become a copy (it was still written)."""
        if f.maybe_copy and f.copy_of is None and f.cp.offset == 0:
            self._recognise_copy(f)
        if f.copy_of is None or f.fd is None:
            return
        found = copy_offset(f.fd, os.fstat(f.fd).st_size, [f.copy_of])
        if found is not None:
            self._skip_copied(f, found[0])

    def _order_fresh(self) -> None:
        """Files first seen in one scan and rotated from one path (several rotations
        while the agent was down or lagging) take their generations oldest first: by
        mtime, then by the rotation suffix (``.2`` before ``.1`` before the live name)."""
        groups: dict[tuple[str, str], list[TailedFile]] = {}
        for f in self._fresh:
            groups.setdefault((f.entry.source_id, f.cp.origin), []).append(f)
        fresh, self._fresh = self._fresh, []
        for origin, files in groups.items():
            gens = sorted(f.cp.gen for f in files)
            files.sort(key=_age)
            for f, gen in zip(files, gens, strict=True):
                f.cp.gen = gen
            self._merge_unseen(origin, files)
        for f in fresh:
            f.queued = False
            self._mark(f)

    def _merge_unseen(self, origin: tuple[str, str], files: list[TailedFile]) -> None:
        """A new file found under a rotated name may be older than files the agent
        already follows: it took the path and left it unseen (between two scans, while
        the agent was down, or renamed during the scan that found its successor). It
        then goes before every known file of the origin that is younger by mtime (or,
        at the same mtime, by rotation suffix); known files keep their order, and the
        generations are renumbered to match (persisted with each file's next emit)."""
        new = set(files)
        known = [g for g in self._origins.get(origin, ()) if g not in new and not g.gone]
        if not known or all(discovery.family(f.path)[1] >= 1 for f in files):
            return
        for g in known:
            if g.fd is not None:
                with contextlib.suppress(OSError):
                    g.mtime_ns = os.fstat(g.fd).st_mtime_ns
        known.sort(key=lambda g: (g.cp.gen, g.mtime_ns, g.cp.ino))
        merged: list[TailedFile] = []
        pending = list(files)  # oldest first
        for g in known:
            while pending and _younger(g, pending[0]):
                merged.append(pending.pop(0))
            merged.append(g)
        merged += pending
        base = min(g.cp.gen for g in merged)
        for i, g in enumerate(merged):
            g.cp.gen = base + i
        self._note_gen(origin, base + len(merged) - 1)

    def _note_gen(self, origin: tuple[str, str], gen: int) -> None:
        self._gens[origin] = max(self._gens.get(origin, 0), gen + 1)

    def _waits(self, f: TailedFile) -> bool:
        """Is an older file of the same origin (rotated from the same path) unread? Then
        `f` waits, so the lines of one path stay in order across rotations. Older means
        an earlier generation at the path (the order the agent saw files take it);
        mtime and inode only break ties between states written before generations."""
        for g in self._origins.get((f.entry.source_id, f.cp.origin), ()):
            older = (g.cp.gen, g.mtime_ns, g.cp.ino) < (f.cp.gen, f.mtime_ns, f.cp.ino)
            if older and not g.gone and g.fd is not None:
                with contextlib.suppress(OSError):
                    st = os.fstat(g.fd)  # a size seen before its last write
                    g.size, g.mtime_ns = st.st_size, st.st_mtime_ns
            # Written after `f` was: both are live (not one rotation), nothing to wait for.
            older = older and g.mtime_ns <= f.mtime_ns
            if older and not g.gone and (g.busy or g.cp.offset < g.size or g.open_group):
                return True
        return False

    def _copy_waits(self, f: TailedFile) -> bool:
        """Order around a copytruncate: a new file waits while another file of its origin
        is mid-turn (it may be a copy of bytes being read); a recognised copy waits until
        its original was truncated (until then the original may still be read past where
        the copy would start); the truncated original then waits until its copies are
        read, so the lines the copy adds come before the original's new ones."""
        if self._scans < f.scan_after:
            return True
        if f.maybe_copy and f.cp.offset == 0 and f.copy_of is None:
            # Not (yet) a copy: unless a file of its origin is mid-turn, whose bytes in
            # flight are not marked yet; then compare again after that turn.
            for peer in self._origins.get((f.entry.source_id, f.cp.origin), ()):
                if peer is not f and peer.busy and not peer.gone:
                    return True
        g = f.copy_from
        if g is not None and not g.gone and g.prefix is f.copy_of:
            return True
        for c in f.copies:
            if c.gone or c.copy_of is f.prefix:
                continue
            if c.busy or c.cp.offset < c.size:
                return True
        return False

    def _move(self, f: TailedFile, path: str) -> None:
        """`f` found under a new name: it left its old path (counted once, here if no
        stat noticed it first)."""
        self._left_path(f)
        f.path, f.rotated = path, False
        f.cp.path = path
        self._by_path[path] = f

    def _left_path(self, f: TailedFile) -> None:
        """`f`'s path no longer names it (renamed or replaced): one rotation, counted
        however it was noticed (a scan finding another file at the path, the stat pass,
        or the file found under its new name), once per name the file leaves."""
        if self._by_path.get(f.path) is f:
            del self._by_path[f.path]
        if f.rotated:
            return
        f.rotated = True
        f.rotated_at_scan = self._scans
        self._bump("rotations_total")

    async def _scan(self) -> None:
        seen: set[str] = set()
        for entry in self.entries:
            for path in discovery.scan(entry.options.paths, entry.options.exclude):
                current = self._by_path.get(path)
                if current is not None and not current.rotated and not current.gone:
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    if (st.st_dev, st.st_ino) == current.identity:
                        continue
                    self._left_path(current)  # the path names another file now
                f = self._adopt(entry, path, at_start=False, first_start=False)
                if f is not None:
                    seen.add(f.key)
        self._order_fresh()
        await asyncio.sleep(0)
        if self._stored:
            await self._collect_stored(seen, first=False)
        self._scans += 1
        self._refresh_watches()

    def _refresh_watches(self) -> None:
        if self._inotify is None:
            return
        patterns = [p for e in self.entries for p in e.options.paths]
        dirs = discovery.watch_dirs(patterns, self._by_path)
        for d in dirs:
            self._inotify.watch(d)
        self._inotify.unwatch_missing(dirs)

    # -- scheduling -----------------------------------------------------------------------
    def _mark(self, f: TailedFile) -> None:
        f.dirty = True
        if not f.queued and not f.busy and not f.gone:
            f.queued = True
            self._ready.put_nowait(f)

    async def _worker(self) -> None:
        while True:
            f = await self._ready.get()
            f.queued = False
            if f.gone:
                continue
            f.busy, f.dirty = True, False
            try:
                more = await self._turn(f)
            finally:
                f.busy = False
            if (more or f.dirty) and not f.gone:
                self._mark(f)
            await asyncio.sleep(0)

    async def _turn(self, f: TailedFile) -> bool:
        opts = self.options
        if self._waits(f) or self._copy_waits(f):
            return False  # the reconcile pass asks again
        if f.fd is None and not self._reopen(f):
            return False
        now = self.clock.monotonic()
        # Out of the glob for good: deleted, or rotated and a whole scan since has not
        # found it under another matching name; then idle for rotate_wait.
        out = f.deleted_at is not None or (f.rotated and self._scans >= f.rotated_at_scan + 2)
        final = out and now - f.last_growth >= opts.rotate_wait_ms / 1000
        result = TurnResult()
        size_before = f.size
        try:
            self._recheck_copy(f)
            if self._copy_waits(f):
                return False
            await turn(
                f,
                self._emit,
                chunk=opts.read_chunk_bytes,
                now_ms=self.clock.now_ms(),
                now=now,
                final=final,
                flush_after_s=f.entry.options.multiline_flush_timeout_ms / 1000,
                result=result,
                on_new_generation=self._new_generation,
            )
            if result.counters.get("events_total"):
                f.maybe_copy = False
            if f.unsaved:  # a copy started past its known prefix: record where
                await self._emit(f.group, f.stream, _no_events(), (f.key, f.cp.encode()))
                f.unsaved = False
        except OSError as exc:
            self._bump("read_errors_total")
            log.warning("Read error on a tailed file", extra={"path": f.path, "error": str(exc)})
            f.close()
            return False
        finally:  # what was stored counts, even when a later emit of the turn failed
            for name, n in result.counters.items():
                self._bump(name, n)
        if f.size > size_before:
            f.last_growth = now
        if final and f.cp.offset >= f.size and not result.more:
            await self._release(f)
        return result.more

    def _reopen(self, f: TailedFile) -> bool:
        self._budget(f)
        try:
            fd = self._open(f.path, f)
        except FileNotFoundError:
            fd = -1
        except OSError:
            return False
        if fd >= 0:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == f.identity:
                f.fd = fd
                return True
            os.close(fd)
            self._left_path(f)  # replaced at its path while it was closed
        # The file left its path while it was closed and no scan found it elsewhere.
        self._bump("lost_bytes_vanished_total", max(f.size - f.cp.offset, 0))
        f.gone = True
        self._forget(f)
        return False

    def _open(self, path: str, keep: TailedFile | None) -> int:
        """Open `path`; out of descriptors below the budget, lower it, park idle files
        (not `keep`) and try once more."""
        try:
            return os.open(path, _OPEN_FLAGS)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            held = sum(1 for f in self.files.values() if f.fd is not None and not f.gone)
            lowered = max(held - held // 8, 4)
            if lowered >= self.max_open:
                raise
            self.max_open = lowered
            self._bump("fd_budget_lowered_total")
            log.warning(
                "Out of file descriptors below max_open_files: budget lowered",
                extra={
                    "max_open_files": self.options.max_open_files,
                    "budget": lowered,
                    "error": str(exc),
                },
            )
            self._budget(keep)
        return os.open(path, _OPEN_FLAGS)

    def _budget(self, keep: TailedFile | None) -> None:
        if len(self.files) + 1 < self.max_open:
            return
        open_files = [f for f in self.files.values() if f.fd is not None and not f.gone]
        excess = len(open_files) + 1 - self.max_open
        if excess <= 0:
            return
        excess += self.max_open // 8  # close a few more: amortise the scan
        idle = sorted(
            (f for f in open_files if f is not keep and not f.busy and f.deleted_at is None),
            key=lambda f: f.last_active,
        )
        for f in idle[:excess]:
            f.close()
            self._bump("files_parked_total")

    async def _release(self, f: TailedFile) -> None:
        """A drained file out of its glob (or deleted): close it and drop its state."""
        f.gone = True
        f.close()
        self._forget(f)
        await self._emit(f.group, f.stream, _no_events(), (f.key, b""))
        self._bump("files_released_total")

    def _forget(self, f: TailedFile) -> None:
        if self._by_path.get(f.path) is f:
            del self._by_path[f.path]
        self.files.pop((f.entry.source_id, f.cp.dev, f.cp.ino), None)
        peers = self._origins.get((f.entry.source_id, f.cp.origin))
        if peers is not None and f in peers:
            peers.remove(f)
            if not peers:
                del self._origins[(f.entry.source_id, f.cp.origin)]
                if not any(
                    (source_of(k), cp.origin or cp.path) == (f.entry.source_id, f.cp.origin)
                    for k, cp in self._stored.items()
                ):  # a stored file not found yet keeps its place in the order
                    self._gens.pop((f.entry.source_id, f.cp.origin), None)

    async def _ticker(self) -> None:
        interval = self.options.scan_interval_ms / 1000
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_wait(interval))
            self._wake.clear()
            await self._scan()
            self._rescan = False
            self._reconcile()

    def _next_wait(self, interval: float) -> float:
        now = self.clock.monotonic()
        wait = interval
        for f in self.files.values():
            if f.open_group:
                due = f.last_growth + f.entry.options.multiline_flush_timeout_ms / 1000 - now
                wait = min(wait, max(due, 0.01))
        return wait

    def _reconcile(self) -> None:
        """The periodic stat pass that alone keeps the agent correct without inotify."""
        now = self.clock.monotonic()
        hold = self.options.deleted_hold_max_ms / 1000
        for f in list(self.files.values()):
            if f.gone:
                continue
            try:
                st = os.fstat(f.fd) if f.fd is not None else os.stat(f.path)
            except OSError:
                st = None
            if f.fd is not None and st is not None:
                if st.st_nlink == 0 and f.deleted_at is None:
                    f.deleted_at = now
                    f.rotated = True
                elif not f.rotated:
                    try:
                        at_path = os.stat(f.path)
                        left = (at_path.st_dev, at_path.st_ino) != f.identity
                    except FileNotFoundError:
                        left = True
                    except OSError:
                        left = False
                    if left:
                        self._left_path(f)
                        self._rescan = True
            if f.deleted_at is not None and now - f.deleted_at > hold and not f.busy:
                lost = max((st.st_size if st else f.size) - f.cp.offset, 0)
                self._bump("lost_bytes_deleted_total", lost)
                log.error(
                    "Released a deleted file before it was read",
                    extra={"path": f.path, "lost_bytes": lost},
                )
                f.gone = True
                f.close()
                self._forget(f)
                continue
            size = st.st_size if st is not None else f.size
            if st is not None:
                f.mtime_ns = st.st_mtime_ns
            if size != f.size or size != f.cp.offset or f.rotated or f.open_group:
                if size != f.size:
                    f.last_growth = now
                f.size = size
                if size != f.cp.offset or f.rotated or f.open_group:
                    self._mark(f)


def _age(f: TailedFile) -> tuple[int, int]:
    """Older first: by mtime, then by rotation suffix (``.2``, ``.1``, the live name)."""
    return (f.mtime_ns, discovery.family(f.path)[1])


def _younger(known: TailedFile, unseen: TailedFile) -> bool:
    """Did `known` take the path after `unseen`? Only an unseen file under a rotated name
    can be older than a known one; ties keep the new file last (the usual case)."""
    if discovery.family(unseen.path)[1] >= 1:
        return False
    if known.mtime_ns != unseen.mtime_ns:
        return known.mtime_ns > unseen.mtime_ns
    if known.rotated:
        return False  # its current name is unknown: no suffix to compare
    return discovery.family(known.path)[1] > discovery.family(unseen.path)[1]


def _no_events() -> InputEvents:
    return InputEvents()


def _line_start(fd: int, size: int) -> int:
    """The offset just after the last newline before `size` (where 'tail' starts)."""
    start = max(size - 65536, 0)
    data = os.pread(fd, size - start, start)
    nl = data.rfind(b"\n")
    return start + nl + 1 if nl >= 0 else (size if start else 0)
