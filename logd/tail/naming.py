"""Log group and stream names from templates: {hostname} {filename} {path} {instance_id} ...

Rendered names are checked against CloudWatch's name rules; a bad character is an error,
never a silent rewrite.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from logd.model import LOG_GROUP_NAME_RE, LOG_STREAM_NAME_RE

_FIELD = re.compile(r"\{([a-z_]+)(?::([^}]*))?\}")
FIELDS = ("hostname", "local_hostname", "ip_address", "instance_id", "filename", "path", "date")


class NamingError(ValueError):
    """A template names an unknown field, or renders to a name CloudWatch refuses."""


@dataclass(frozen=True, slots=True)
class HostFacts:
    """The machine-level template values, looked up once by the composition root."""

    hostname: str
    local_hostname: str
    ip_address: str
    instance_id: str

    @classmethod
    def detect(cls, *, hostname: str = "", instance_id: str = "") -> HostFacts:
        host = hostname or socket.gethostname()
        try:
            ip = socket.gethostbyname(host)
        except OSError:
            ip = "127.0.0.1"
        if not instance_id:
            try:
                instance_id = Path("/etc/machine-id").read_text().strip()
            except OSError:
                instance_id = ""
        return cls(host, host.split(".")[0], ip, instance_id or host)


def check_template(template: str) -> None:
    for match in _FIELD.finditer(template):
        if match.group(1) not in FIELDS:
            raise NamingError(f"unknown template field {{{match.group(1)}}}; allowed: {FIELDS}")


def render(template: str, facts: HostFacts, path: str, now_ms: int) -> str:
    """The template with every field replaced (`date` takes a strftime format, UTC)."""

    def field(match: re.Match[str]) -> str:
        name, arg = match.group(1), match.group(2)
        if name == "filename":
            return os.path.basename(path)
        if name == "path":
            return path
        if name == "date":
            when = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
            return when.strftime(arg or "%Y-%m-%d")
        if name in ("hostname", "local_hostname", "ip_address", "instance_id"):
            value: str = getattr(facts, name)
            return value
        raise NamingError(f"unknown template field {{{name}}}; allowed: {FIELDS}")

    return _FIELD.sub(field, template)


def check_group(name: str) -> str:
    if not 1 <= len(name) <= 512 or not LOG_GROUP_NAME_RE.fullmatch(name):
        raise NamingError(f"log group name {name!r} breaks CloudWatch's rules [.-_/#A-Za-z0-9]")
    return name


def check_stream(name: str) -> str:
    if not 1 <= len(name) <= 512 or not LOG_STREAM_NAME_RE.fullmatch(name):
        raise NamingError(f"log stream name {name!r} breaks CloudWatch's rules (no : or *)")
    return name
