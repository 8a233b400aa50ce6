"""File identity: (device, inode) plus a hash of the head that grows with the file.

The head is the first min(size, 1 KiB) bytes. While a file is shorter than 1 KiB its
head hash is re-evaluated as it grows, so small files are read at once and are never
confused with one another; two files with identical heads still differ by inode. The
same inode with a different head is a new generation of the file (inode reuse, or a
rewrite in place) and is read from 0.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

HEAD_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Head:
    length: int
    digest: bytes

    def complete(self) -> bool:
        return self.length >= HEAD_BYTES


EMPTY_HEAD = Head(0, hashlib.blake2b(b"", digest_size=8).digest())


def read_head(fd: int, size: int) -> Head:
    """Hash the first min(size, HEAD_BYTES) bytes of the open file `fd`."""
    want = min(size, HEAD_BYTES)
    data = os.pread(fd, want, 0) if want else b""
    return Head(len(data), hashlib.blake2b(data, digest_size=8).digest())


def matches(fd: int, head: Head) -> bool:
    """Does the open file still start with the bytes `head` was taken from?"""
    if head.length == 0:
        return True
    data = os.pread(fd, head.length, 0)
    return len(data) == head.length and hashlib.blake2b(data, digest_size=8).digest() == (
        head.digest
    )
