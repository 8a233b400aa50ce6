"""The write-ahead log: durable, ordered records with named cursors.

On-disk format (all integers little-endian)
-------------------------------------------
A WAL directory holds numbered files ``<number:016d>.wal``, ``cursors/`` and, once a
corrupt file has been passed by every cursor, ``quarantine/``.

Each WAL file starts with a 24-byte header::

    magic b"LOGDWAL\\0" (8) | u32 version = 1 | u64 file number | u32 crc32 of the 20 bytes before

followed by records, back to back::

    u32 length | u32 crc32 | payload (length bytes)

where crc32 is ``zlib.crc32`` (IEEE 802.3) over the 4 length bytes, then the payload.
A zero-filled region is never a record: a zero length with a zero checksum fails the
check (the CRC of four zero bytes is 0x2144DF1C), so the zeros a filesystem can leave
after a power loss read as a torn tail. Cursor files are described in `cursors.py`.

Positions
---------
`Position(file, offset)` is where a record ENDS: its file number and the offset just past
its last byte, which is also where the next record of that file starts. Positions
compare as tuples; every record's position is greater than every earlier record's.
A cursor at position p has finished every record up to and including the one ending
at p; "records after p" start at or past p.

Invariants
----------
1. An append returns only after an fsync (fdatasync) covers its record, under every
   policy ("always", "group", "interval"); readers and `records()` see only such
   durable records.
2. Records are appended only by the one writer thread, only to the newest file, and
   never after bytes of unknown state: after recovery, and after a failed write or
   fsync, writing continues in a NEW file. A new file's directory entry is fsynced
   before any record in it is acknowledged.
3. Recovery keeps the longest valid prefix of every file: it stops a file's scan at the
   first frame that is incomplete or fails its CRC, counts the bytes it skips (torn:
   an unfinished write or zeros to the end; corrupt: anything else), never raises on
   bad bytes and never yields bytes that were not written as a record. Later files are
   still read. Recovery reads each file once, in O(largest record) memory.
4. File numbers only grow; the newest file is never deleted, so numbers never repeat.
5. A WAL file is deleted only when it is not the newest and every registered cursor has
   passed all of its records (a file without valid records needs no cursor), and only
   after the cursors that allowed it are fsynced (write temp, fsync, rename, fsync the
   directory). With no cursor registered, no file holding records is deleted. A file
   in which recovery found corrupt bytes is moved to ``quarantine/`` instead.
6. The bytes on disk plus the bytes queued stay under `max_bytes`: appends beyond it wait
   (`on_full = "block"`) or raise `WalFull` and are counted (`on_full = "drop"`).
"""

from logd.store.wal.cursors import Cursor
from logd.store.wal.errors import WalClosed, WalError, WalFull, WalWriteError
from logd.store.wal.log import Wal
from logd.store.wal.options import WalOptions
from logd.store.wal.reader import WalReader
from logd.store.wal.record import Position
from logd.store.wal.recovery import RecoveryReport

__all__ = [
    "Cursor",
    "Position",
    "RecoveryReport",
    "Wal",
    "WalClosed",
    "WalError",
    "WalFull",
    "WalOptions",
    "WalReader",
    "WalWriteError",
]
