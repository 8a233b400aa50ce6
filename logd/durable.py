"""fsync helpers: what makes a write, a rename or a new file survive a power cut."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_path(path: str | Path, *, directory: bool = False) -> None:
    """Flush `path` to stable storage: a file's data, or a directory's entries (so a
    create, rename or unlink inside it is durable)."""
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | Path) -> None:
    """Make the entries of directory `path` durable."""
    fsync_path(path, directory=True)
