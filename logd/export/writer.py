"""Stream events in order → parts of bounded size → gzip objects at a destination.

Compression is parallel: each part's events are cut, at event boundaries, into members
of at most `compression_chunk_bytes` of text (`member_segments`); `GzipPool`'s threads
render each member (Arrow take + join) and compress it as an independent gzip member
(Arrow and zlib-ng release the GIL), and the members are concatenated: a concatenation of
gzip members is itself a valid gzip file (RFC 1952 §2.2), read whole by gunzip, Python's
gzip module and S3 consumers. Deflate is zlib-ng's (the zlib format, about 1.6 times
faster than zlib per core at level 6, with slightly smaller output); its gzip header
carries no name and mtime 0, so the same events, options and zlib-ng version give the
same bytes. Texts exist a member at a time (a few MiB, freed once hashed), never as a
whole part.

Objects are finished (text hashed in order, body written, recorded) by `upload_threads`
workers while the caller reads and sorts the next units; `inflight_bytes` bounds the
memory.
On resume an object whose text hashes to what an earlier run recorded, and which is
still at the destination with the recorded size, is kept rather than rewritten.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pyarrow as pa
from zlib_ng import zlib_ng

from logd.export.destinations import CONTENT_TYPE, Destination
from logd.export.layout import object_key, render_lines, split_parts
from logd.export.options import ExportOptions
from logd.export.plan import Run
from logd.export.records import ObjectRecord

#: A text to compress: bytes or an Arrow buffer (both export the buffer protocol).
Buffer: TypeAlias = bytes | pa.Buffer


#: Text bytes per newline-count step: a small temporary, reused by the allocator.
_COUNT_STEP = 1024 * 1024


def gzip_member(data: memoryview | bytes, level: int) -> bytes:
    """One complete gzip member (header, deflate stream, CRC-32, size)."""
    compressor = zlib_ng.compressobj(level, zlib_ng.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def count_newlines(data: memoryview) -> int:
    """`\\n` bytes in `data` (numpy compares release the GIL)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    return sum(
        int(np.count_nonzero(raw[i : i + _COUNT_STEP] == 10))
        for i in range(0, len(raw), _COUNT_STEP)
    )


class GzipPool:
    """Threads that render and compress a part's members, several parts at once.

    A job renders a member's events and compresses them in one go, so texts are made
    (and freed) a member at a time, in small buffers the allocator reuses.
    """

    def __init__(self, *, level: int, chunk_bytes: int, threads: int) -> None:
        self.level = level
        self.chunk_bytes = chunk_bytes
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gzip")

    def render(self, segments: list[_Piece], *, compress: bool) -> Future[_Member]:
        return self._pool.submit(render_member, segments, self.level if compress else None)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


#: (messages, rows of it in order, their timestamps, their line sizes): a slice of a
#: part, not yet rendered.
_Piece = tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]
#: A rendered member: its text, its gzip member (empty when not compressed), newlines.
_Member = tuple[Buffer, bytes, int]


def _render(pieces: list[_Piece]) -> Buffer:
    """Text of events in order (Arrow's take and join release the GIL). One piece, the
    usual case, is the joined column's value buffer itself: no further copy."""
    texts = [
        render_lines(stamps, messages.take(pa.array(index)))
        for messages, index, stamps, _ in pieces
    ]
    return texts[0] if len(texts) == 1 else b"".join(texts)


def render_member(segments: list[_Piece], level: int | None) -> _Member:
    """One member's text, its gzip member at `level` (None: do not compress) and the
    text's newlines (the part's line count)."""
    text = _render(segments)
    view = memoryview(text).cast("B")
    member = b"" if level is None else gzip_member(view, level)
    return text, member, count_newlines(view)


def member_segments(pieces: list[_Piece], chunk_bytes: int) -> list[list[_Piece]]:
    """A part's events cut into members of at most `chunk_bytes` of text (an event
    larger than that alone), by `split_parts`' greedy rule over the whole part: a pure
    function of the part's events, however they arrived."""
    sizes = np.concatenate([piece[3] for piece in pieces])
    cuts = [0, *split_parts(sizes, 0, chunk_bytes), len(sizes)]
    firsts = np.cumsum([0, *(len(piece[1]) for piece in pieces)])
    out: list[list[_Piece]] = []
    for start, end in itertools.pairwise(cuts):
        segments = []
        for (messages, index, stamps, lines), first in zip(pieces, firsts, strict=False):
            lo, hi = max(start - first, 0), min(end - first, len(index))
            if lo < hi:
                segments.append((messages, index[lo:hi], stamps[lo:hi], lines[lo:hi]))
        out.append(segments)
    return out


@dataclass(slots=True)
class _OpenPart:
    stream: str
    part: int = 0
    pieces: list[_Piece] = field(default_factory=list)
    size: int = 0
    events: int = 0
    oldest: int = 0
    newest: int = 0
    first_seq: int = 0
    last_seq: int = 0


class ObjectWriter:
    """Writes one task's objects. Feed it each stream's events in (timestamp, seq)
    order with `add`, streams one after the other, then `close()`."""

    def __init__(
        self,
        *,
        destination: Destination,
        options: ExportOptions,
        prefix: str,
        task_id: str,
        gzip: GzipPool,
        previous: Mapping[str, ObjectRecord],
        on_object: Callable[[ObjectRecord], None],
        should_stop: Callable[[], None],
    ) -> None:
        self._destination = destination
        self._options = options
        self._prefix = prefix
        self._task_id = task_id
        self._gzip = gzip
        self._previous = previous
        self._on_object = on_object
        self._should_stop = should_stop
        self._open: _OpenPart | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=options.upload_threads, thread_name_prefix="export-object"
        )
        self._futures: list[Future[ObjectRecord]] = []
        self._inflight = 0
        self._cond = threading.Condition()
        self.records: list[ObjectRecord] = []

    def add(self, run: Run) -> None:
        """A stream's events, continuing any earlier `add` for the same stream."""
        if self._open is None or self._open.stream != run.stream:
            self._close_stream()
            self._open = _OpenPart(stream=run.stream)
        current = self._open
        sizes = run.sizes
        bounds = [0, *split_parts(sizes, current.size, self._options.max_object_bytes), len(sizes)]
        for number, (start, end) in enumerate(itertools.pairwise(bounds)):
            if number > 0:
                self._flush()
                current = self._open = _OpenPart(stream=run.stream, part=current.part + 1)
            if end == start:
                continue
            ts = run.timestamps[start:end]
            current.pieces.append((run.messages, run.index[start:end], ts, sizes[start:end]))
            current.size += int(sizes[start:end].sum())
            if current.events == 0:
                current.oldest, current.first_seq = int(ts[0]), int(run.seqs[start])
            current.events += end - start
            current.newest, current.last_seq = int(ts[-1]), int(run.seqs[end - 1])

    def _close_stream(self) -> None:
        if self._open is not None and self._open.events:
            self._flush()
        self._open = None

    def _flush(self) -> None:
        part = self._open
        if part is None or not part.events:
            return
        self._should_stop()
        self._raise_failures()
        pieces, size = part.pieces, part.size
        part.pieces = []
        with self._cond:
            # Bound the memory: wait while earlier objects are in flight (but always
            # admit one, however large, so progress never stalls).
            while self._inflight and self._inflight + size > self._options.inflight_bytes:
                self._cond.wait(timeout=0.5)
                self._raise_failures()
            self._inflight += size
        key = object_key(
            self._prefix, self._task_id, part.stream, part.part, self._options.stream_name_slash
        )
        meta = (part.stream, part.part, part.events, part.oldest, part.newest)
        seqs = (part.first_seq, part.last_seq)
        self._futures.append(self._pool.submit(self._finish, key, pieces, size, meta, seqs))

    def _finish(
        self,
        key: str,
        pieces: list[_Piece],
        size: int,
        meta: tuple[str, int, int, int, int],
        seqs: tuple[int, int],
    ) -> ObjectRecord:
        try:
            earlier = self._previous.get(key)
            segments = member_segments(pieces, self._gzip.chunk_bytes)
            # A fresh object renders and compresses in one pass; one an earlier run
            # recorded is rendered and hashed first, and compressed only if it changed.
            body, newlines, content_sha, text_bytes = self._members(segments, earlier is None)
            if (
                earlier is not None
                and earlier.content_sha256 == content_sha
                and self._destination.size(key) == earlier.compressed_bytes
            ):
                record = earlier
            else:
                if earlier is not None:
                    body, newlines, content_sha, text_bytes = self._members(segments, True)
                sha = hashlib.sha256(body).hexdigest()
                self._destination.put(key, body, sha256=sha, content_type=CONTENT_TYPE)
                stream, part, events, oldest, newest = meta
                record = ObjectRecord(
                    key=key,
                    stream=stream,
                    part=part,
                    events=events,
                    lines=newlines,  # every line ends with one
                    oldest=oldest,
                    newest=newest,
                    first_seq=seqs[0],
                    last_seq=seqs[1],
                    compressed_bytes=len(body),
                    uncompressed_bytes=text_bytes,
                    sha256=sha,
                    content_sha256=content_sha,
                )
            self._on_object(record)
            return record
        finally:
            with self._cond:
                self._inflight -= size
                self._cond.notify_all()

    def _members(self, segments: list[list[_Piece]], compress: bool) -> tuple[bytes, int, str, int]:
        """Gzip body, newlines, text SHA-256 and text bytes of a part. Members render
        and compress in the pool; the text is hashed here in order, member by member,
        and each member's text is freed once hashed."""
        pending = collections.deque(
            self._gzip.render(segment, compress=compress) for segment in segments
        )
        digest = hashlib.sha256()
        members, newlines, text_bytes = [], 0, 0
        try:
            while pending:
                # Popped, so that the future (which keeps its result) frees the text.
                text, member, count = pending.popleft().result()
                digest.update(text)
                text_bytes += len(text)
                members.append(member)
                newlines += count
                del text
        finally:
            for future in pending:
                future.cancel()
        return b"".join(members), newlines, digest.hexdigest(), text_bytes

    def _raise_failures(self) -> None:
        for future in self._futures:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]

    def close(self) -> list[ObjectRecord]:
        """Flush the open part, wait for every object; the records, in key order."""
        try:
            self._close_stream()
            self.records = [f.result() for f in self._futures]
        finally:
            self.abort()
        return sorted(self.records, key=lambda r: (r.stream, r.part))

    def abort(self) -> None:
        """Stop: objects already started finish (each is atomic), no new ones start."""
        for future in self._futures:
            future.cancel()
        self._pool.shutdown(wait=True)
