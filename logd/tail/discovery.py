"""Which files an entry follows: its globs (with `**`) minus its excludes, and where to watch.

A scan only ever adds files. A file missing from a scan is never taken as deleted (a
scan can fail on EMFILE or EACCES): deletion is seen on the open descriptor (st_nlink
== 0) or by a stat of the file's own path.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from collections.abc import Iterable, Sequence

_MAGIC = ("*", "?", "[")
#: Suffixes rotation adds to a log's name: logrotate's ``.1`` and its dateext forms
#: (``-20240501``, ``.2024-05-01``, with an optional time).
_ROTATED = re.compile(
    r"^(?P<base>.+?)(?:\.(?P<n>\d{1,3})|[.-](?P<date>\d{8}(?:[-_]?\d{2,6})?|\d{4}-\d{2}-\d{2}(?:[-_T][\d:]+)?))$"
)


def family(path: str) -> tuple[str, int]:
    """The path a file was rotated from, judged by its name, and its age rank among
    files of that path with the same mtime (lower = older): ``app.log.2`` ->
    (``app.log``, -2); ``app.log-20240501`` -> (``app.log``, 0); ``app.log`` ->
    (``app.log``, 1)."""
    head, name = os.path.split(path)
    m = _ROTATED.match(name)
    if m is None:
        return path, 1
    base = os.path.join(head, m.group("base"))
    return base, -int(m.group("n")) if m.group("n") else 0


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
