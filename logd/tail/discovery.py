"""Which files an entry follows: its globs (with `**`) minus its excludes, and where to watch.

A scan only ever adds files. A file missing from a scan is never taken as deleted (a
scan can fail on EMFILE or EACCES): deletion is seen on the open descriptor (st_nlink
== 0) or by a stat of the file's own path.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable, Sequence

_MAGIC = ("*", "?", "[")


def static_prefix(pattern: str) -> str:
    """The deepest directory of `pattern` without glob characters."""
    parts = pattern.split(os.sep)
    fixed: list[str] = []
    for part in parts[:-1]:
        if any(c in part for c in _MAGIC):
            break
        fixed.append(part)
    return os.sep.join(fixed) or (os.sep if pattern.startswith(os.sep) else ".")


def excluded(path: str, excludes: Sequence[str]) -> bool:
    name = os.path.basename(path)
    return any(fnmatch.fnmatchcase(path, x) or fnmatch.fnmatchcase(name, x) for x in excludes)


def scan(patterns: Iterable[str], excludes: Sequence[str]) -> list[str]:
    """Regular files matching any pattern and no exclude, in a stable order."""
    found: set[str] = set()
    for pattern in patterns:
        for path in glob.iglob(pattern, recursive=True):
            if path in found or excluded(path, excludes):
                continue
            try:
                if not os.path.isfile(path):
                    continue
            except OSError:
                continue
            found.add(path)
    return sorted(found)


def watch_dirs(patterns: Iterable[str], files: Iterable[str]) -> set[str]:
    """Directories whose changes matter: the static prefix of each glob, every directory
    under a `**`, and the directory of every followed file."""
    dirs = {os.path.dirname(f) or "." for f in files}
    for pattern in patterns:
        base = static_prefix(pattern)
        if os.path.isdir(base):
            dirs.add(base)
        if "**" in pattern and os.path.isdir(base):
            for root, subdirs, _ in os.walk(base):
                dirs.update(os.path.join(root, d) for d in subdirs)
        else:
            for d in glob.iglob(os.path.dirname(pattern) or "."):
                if os.path.isdir(d):
                    dirs.add(d)
    return dirs
