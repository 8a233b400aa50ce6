"""Reusable memory for a scan unit's message column.

Each unit's messages are gathered into one contiguous string column, so that parts can
take their rows from it. Allocating that column afresh per unit (hundreds of MiB) makes
the kernel fault it in anew each time, and on a virtual machine whose free pages go
back to the host that costs more system time than the copy itself. `ColumnBuffers`
keeps a few byte buffers and concatenates into one that no live column still uses.
"""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Buffers kept for reuse: the unit being read, the one its parts still render, a spare.
KEEP = 3

_OFFSETS = {pa.string(): np.int32, pa.large_string(): np.int64}


def _offsets(chunk: pa.Array) -> np.ndarray:
    kind = _OFFSETS[chunk.type]
    width = np.dtype(kind).itemsize
    return np.frombuffer(
        chunk.buffers()[1], dtype=kind, count=len(chunk) + 1, offset=chunk.offset * width
    )


class ColumnBuffers:
    """Concatenates string columns into reused memory (not thread-safe: one reader)."""

    def __init__(self) -> None:
        self._buffers: list[np.ndarray] = []

    def _free(self, size: int) -> np.ndarray:
        # A buffer is in use while an Arrow buffer exports a view of it: the list, the
        # loop variable and getrefcount's argument are the only references of a free one.
        for buffer in self._buffers:
            if len(buffer) >= size and sys.getrefcount(buffer) <= 3:
                return buffer
        for i, buffer in enumerate(self._buffers):
            if sys.getrefcount(buffer) <= 3:  # free but too small: replace it
                del buffer
                self._buffers[i] = np.empty(size + size // 8, dtype=np.uint8)
                return self._buffers[i]
        fresh = np.empty(size + size // 8, dtype=np.uint8)
        if len(self._buffers) < KEEP:
            self._buffers.append(fresh)
        return fresh

    def concat(self, column: pa.ChunkedArray) -> pa.Array:
        """The chunks as one array without nulls (a null is ""), in reused memory."""
        if column.type not in _OFFSETS:
            return pc.fill_null(column.combine_chunks(), "")
        chunks = [c.fill_null("") if c.null_count else c for c in column.chunks if len(c)]
        offsets = [_offsets(c) for c in chunks]
        total = sum(int(o[-1] - o[0]) for o in offsets)
        rows = sum(len(c) for c in chunks)
        large = total > np.iinfo(np.int32).max
        out_offsets = np.empty(rows + 1, dtype=np.int64 if large else np.int32)
        out_offsets[0] = 0
        data = self._free(total)
        pos = row = 0
        for chunk, offs in zip(chunks, offsets, strict=True):
            size = int(offs[-1] - offs[0])
            data[pos : pos + size] = np.frombuffer(
                chunk.buffers()[2], dtype=np.uint8, count=size, offset=int(offs[0])
            )
            out_offsets[row + 1 : row + len(chunk) + 1] = offs[1:] - offs[0] + pos
            pos += size
            row += len(chunk)
        kind = pa.large_string() if large else pa.string()
        return pa.Array.from_buffers(
            kind, rows, [None, pa.py_buffer(out_offsets), pa.py_buffer(data[:total])]
        )
