"""sd_notify without libsystemd: datagrams to $NOTIFY_SOCKET.

The protocol (sd_notify(3)): newline-separated ``KEY=VALUE`` assignments in one
AF_UNIX datagram to the path in ``NOTIFY_SOCKET``; a leading ``@`` means the Linux
abstract namespace (the ``@`` becomes a NUL byte). With no socket configured every call
is a no-op, so the daemon runs the same outside systemd. ``WATCHDOG_USEC`` (and
``WATCHDOG_PID``, when set, naming this process) asks for ``WATCHDOG=1`` at least that
often; logd pings at half the interval from its event loop, so a stalled loop is killed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping


class Notifier:
    """Sends sd_notify messages; every method is a no-op without a socket."""

    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec
        self._socket: socket.socket | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], pid: int) -> Notifier:
        watchdog: int | None = None
        usec = env.get("WATCHDOG_USEC", "")
        owner = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not owner or owner == str(pid)):
            watchdog = int(usec)
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1 (half of WATCHDOG_USEC), or None."""
        return None if self.watchdog_usec is None else self.watchdog_usec / 2_000_000

    @staticmethod
    def _target(address: str) -> str | bytes:
        if address.startswith("@"):
            return b"\0" + address[1:].encode()
        return address

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` lines (keys upper-cased); False when not under systemd."""
        if self.address is None:
            return False
        payload = "\n".join(f"{key.upper()}={value}" for key, value in fields.items())
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.sendto(payload.encode(), self._target(self.address))
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify(ready=1, status=status) if status else self.notify(ready=1)

    def reloading(self) -> bool:
        return self.notify(reloading=1, monotonic_usec=time.monotonic_ns() // 1000)

    def stopping(self) -> bool:
        return self.notify(stopping=1)

    def watchdog(self) -> bool:
        return self.notify(watchdog=1)

    def status(self, text: str) -> bool:
        return self.notify(status=text)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
