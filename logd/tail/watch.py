"""Change notification: one inotify instance (ctypes, Linux) watching directories.

inotify only shortens latency. The agent's periodic stat reconcile alone is correct
(network, FUSE and overlay file systems deliver no events, and inotify can drop them on
queue overflow), so every failure here (no inotify, instance or watch limits) falls
back to polling, counted in `watch_errors`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct
from collections.abc import Callable

IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
IN_ONLYDIR = 0x01000000
MASK = (
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | (IN_DELETE)
)
NEW_NAME = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_Q_OVERFLOW
_EVENT = struct.Struct("iIII")
_POLL_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse", "fuseblk", "9p", "sshfs", "glusterfs"}


def network_fs(path: str) -> bool:
    """Is `path` on a file system that delivers no inotify events (by /proc/mounts)?"""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            best, kind = "", ""
            real = os.path.realpath(path)
            for line in mounts:
                parts = line.split()
                if (
                    len(parts) >= 3
                    and (real == parts[1] or real.startswith(parts[1].rstrip("/") + "/"))
                    and len(parts[1]) >= len(best)
                ):
                    best, kind = parts[1], parts[2]
    except OSError:
        return False
    return kind in _POLL_FS or kind.startswith("fuse.")


class Inotify:
    """One instance; `poll()` drains events into `on_change(path, new_name)` calls."""

    def __init__(self, on_change: Callable[[str, bool], None]) -> None:
        self._on_change = on_change
        self.errors = 0
        self._wds: dict[int, str] = {}
        self._dirs: dict[str, int] = {}
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self.fd: int = fd

    def watch(self, directory: str) -> bool:
        if directory in self._dirs:
            return True
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(directory), MASK | IN_ONLYDIR)
        if wd < 0:
            self.errors += 1  # ENOSPC (max_user_watches), EACCES...: polling covers it
            return False
        self._wds[wd] = directory
        self._dirs[directory] = wd
        return True

    def unwatch_missing(self, keep: set[str]) -> None:
        for directory in [d for d in self._dirs if d not in keep and not os.path.isdir(d)]:
            wd = self._dirs.pop(directory)
            self._wds.pop(wd, None)
            self._libc.inotify_rm_watch(self.fd, wd)

    @property
    def watched(self) -> int:
        return len(self._dirs)

    def poll(self) -> None:
        """Read every queued event (non-blocking)."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            pos = 0
            while pos + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, pos)
                name = data[pos + _EVENT.size : pos + _EVENT.size + length].rstrip(b"\0")
                pos += _EVENT.size + length
                if mask & IN_Q_OVERFLOW:
                    self._on_change("", True)
                    continue
                directory = self._wds.get(wd)
                if directory is None:
                    continue
                path = os.path.join(directory, os.fsdecode(name)) if name else directory
                self._on_change(path, bool(mask & NEW_NAME))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
