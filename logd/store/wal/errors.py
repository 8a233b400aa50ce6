"""WAL errors. The store maps them to `logd.errors` at its edge.

The tree::

    WalError
    ├── WalFull          the WAL is at max_bytes and on_full = "drop"
    ├── WalClosed        append, reader or commit after close()
    └── WalWriteError    write or fsync failed; the append is not durable (retryable)
"""

from __future__ import annotations


class WalError(Exception):
    """Base of every WAL error."""


class WalFull(WalError):
    """The WAL holds max_bytes and on_full = "drop": this append was dropped (counted)."""


class WalClosed(WalError):
    """The WAL is closed."""


class WalWriteError(WalError):
    """A write or fsync failed (ENOSPC, EIO): the append was not acknowledged.

    Its bytes may still reach the disk and be replayed after a restart (at-least-once);
    the writer continues in a new file, never after the failed bytes.
    """
