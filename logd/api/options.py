"""Options of the HTTP API: listener, authentication, access keys and their permissions."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import ClassVar, Literal


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) → (host, port); ValueError when malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is outside 0-65535")
    return host.strip("[]"), port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessKeyOptions:
    """One access key the API accepts, with what it may do."""

    access_key_id: str = ""
    """The key id clients sign with (AWS_ACCESS_KEY_ID on their side)."""
    secret_env: str = ""
    """Name of the environment variable holding the secret key (never the secret itself)."""
    secret_file: str = ""
    """Path of a file whose first line is the secret key (use instead of secret_env)."""
    actions: tuple[str, ...] = ("logs:*",)
    """Allowed actions, IAM style: "logs:PutLogEvents", "logs:Describe*", "logs:*"."""
    resources: tuple[str, ...] = ("*",)
    """Log group name globs the actions apply to ("app/*"); "*" is every group."""

    def validate(self) -> None:
        if not self.access_key_id:
            raise ValueError("access_key_id must not be empty")
        if bool(self.secret_env) == bool(self.secret_file):
            raise ValueError("give exactly one of secret_env and secret_file")
        for action in self.actions:
            if not action.startswith("logs:") or len(action) == len("logs:"):
                raise ValueError(f"action {action!r} must look like 'logs:PutLogEvents'")


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiOptions:
    """The CloudWatch Logs JSON API listener."""

    reloadable: ClassVar[frozenset[str]] = frozenset({"keys"})

    listen: str = "127.0.0.1:4586"
    """Address the API binds, HOST:PORT. Port 0 picks a free port."""
    auth: Literal["none", "sigv4"] = "none"
    """"sigv4" verifies AWS Signature V4 against `keys`; "none" (loopback binds only)."""
    region: str = "us-east-1"
    """Region used in ARNs when a request carries no SigV4 credential scope."""
    account_id: str = "123456789012"
    """Account id used in ARNs."""
    partition: str = "aws"
    """ARN partition ("aws", "aws-cn", "aws-us-gov")."""
    max_body_bytes: int = 8_388_608
    """Largest request body accepted, in bytes (PutLogEvents' 1 MiB limit is separate)."""
    signature_max_skew_ms: int = 300_000
    """How far a request's X-Amz-Date may be from server time."""
    keys: tuple[AccessKeyOptions, ...] = ()
    """Access keys accepted when auth = "sigv4" ([[api.keys]] tables)."""

    def validate(self) -> None:
        host, _ = parse_listen(self.listen)
        if self.auth == "none" and not is_loopback(host):
            raise ValueError(
                f'auth = "none" is only allowed on a loopback address, not {host!r}; '
                'set auth = "sigv4" with [[api.keys]]'
            )
        if self.auth == "sigv4" and not self.keys:
            raise ValueError('auth = "sigv4" needs at least one [[api.keys]] entry')
        if len(self.account_id) != 12 or not self.account_id.isdigit():
            raise ValueError(f"account_id must be 12 digits, not {self.account_id!r}")
        if self.max_body_bytes < 1_100_000:
            raise ValueError("max_body_bytes must be at least 1100000 (one full PutLogEvents)")
        seen: set[str] = set()
        for key in self.keys:
            if key.access_key_id in seen:
                raise ValueError(f"access key {key.access_key_id!r} appears twice")
            seen.add(key.access_key_id)
