"""Stream events in order → parts of bounded size → gzip objects at a destination.

Compression is parallel: each part's text is cut into `compression_chunk_bytes` pieces,
compressed as independent gzip members in a thread pool (zlib releases the GIL) and
concatenated; a concatenation of gzip members is itself a valid gzip file (RFC 1952
§2.2), read whole by gunzip, Python's gzip module and S3 consumers. zlib's gzip header
carries no name and mtime 0, so the same text and options give the same bytes.

Objects are finished (hashed, compressed, written, recorded) by `upload_threads`
workers while the caller renders the next parts; `inflight_bytes` bounds the memory.
On resume an object whose text hashes to what an earlier run recorded, and which is
still at the destination with the recorded size, is kept rather than rewritten.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from logd.export.destinations import CONTENT_TYPE, Destination
from logd.export.layout import object_key, render_lines, split_parts
from logd.export.options import ExportOptions
from logd.export.plan import Run
from logd.export.records import ObjectRecord


def gzip_member(data: memoryview | bytes, level: int) -> bytes:
    """One complete gzip member (header, deflate stream, CRC-32, size)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


class GzipPool:
    """Compresses large texts as concatenated gzip members, members in parallel."""

    def __init__(self, *, level: int, chunk_bytes: int, threads: int) -> None:
        self.level = level
        self.chunk_bytes = chunk_bytes
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gzip")

    def compress(self, data: bytes) -> bytes:
        view = memoryview(data)
        if len(data) <= self.chunk_bytes:
            return gzip_member(view, self.level)
        futures = [
            self._pool.submit(gzip_member, view[i : i + self.chunk_bytes], self.level)
            for i in range(0, len(data), self.chunk_bytes)
        ]
        return b"".join(f.result() for f in futures)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


#: (messages, rows of it in order, their timestamps): a slice of a part, not yet rendered.
_Piece = tuple[pa.Array, np.ndarray, np.ndarray]


def _render(pieces: list[_Piece]) -> tuple[bytes, int]:
    """A part's text and the newlines inside its messages (runs in a worker thread:
    Arrow's take, join and count release the GIL)."""
    texts, newlines = [], 0
    for messages, index, stamps in pieces:
        chunk = messages.take(pa.array(index))
        texts.append(render_lines(stamps, chunk))
        newlines += int(pc.sum(pc.count_substring(chunk, "\n")).as_py() or 0)
    return b"".join(texts), newlines


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
            current.pieces.append((run.messages, run.index[start:end], ts))
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
            data, newlines = _render(pieces)
            content_sha = hashlib.sha256(data).hexdigest()
            stream, part, events, oldest, newest = meta
            lines = events + newlines
            earlier = self._previous.get(key)
            if (
                earlier is not None
                and earlier.content_sha256 == content_sha
                and self._destination.size(key) == earlier.compressed_bytes
            ):
                record = earlier
            else:
                body = self._gzip.compress(data)
                sha = hashlib.sha256(body).hexdigest()
                self._destination.put(key, body, sha256=sha, content_type=CONTENT_TYPE)
                record = ObjectRecord(
                    key=key,
                    stream=stream,
                    part=part,
                    events=events,
                    lines=lines,
                    oldest=oldest,
                    newest=newest,
                    first_seq=seqs[0],
                    last_seq=seqs[1],
                    compressed_bytes=len(body),
                    uncompressed_bytes=len(data),
                    sha256=sha,
                    content_sha256=content_sha,
                )
            self._on_object(record)
            return record
        finally:
            with self._cond:
                self._inflight -= size
                self._cond.notify_all()

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
