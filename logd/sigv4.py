"""AWS Signature Version 4: sign and verify, as pure functions.

Nothing here reads a clock, the environment or a socket: the caller passes the time,
the secret and the request parts. Both sides of logd use it: the API verifies
(``logd/api/auth.py`` turns a `SigV4Error` into the wire error) and ``logd/client.py``
signs. The algorithm, step by step (AWS "Create a signed AWS API request"):

1. canonical request = method, URI-encoded path, sorted encoded query, canonical
   headers (lower-case names, values with whitespace runs collapsed, repeated headers
   joined by ``,``), the signed header list, hex SHA-256 of the payload;
2. string to sign = ``AWS4-HMAC-SHA256``, the ``X-Amz-Date`` timestamp, the credential
   scope ``<yyyymmdd>/<region>/<service>/aws4_request``, hex SHA-256 of (1);
3. signing key = HMAC chain ``"AWS4"+secret`` → date → region → service → ``aws4_request``;
4. signature = hex HMAC-SHA256(signing key, (2)).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import quote, unquote

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
#: How far a request's X-Amz-Date may be from server time (AWS JSON services: 5 min).
MAX_SKEW_MS = 5 * 60 * 1000

ErrorKind = Literal["incomplete", "mismatch", "expired", "not_yet_current"]


class SigV4Error(Exception):
    """A request's signature cannot be accepted; `kind` says why."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class Authorization:
    """The parts of an ``Authorization: AWS4-HMAC-SHA256 ...`` header."""

    access_key: str
    date: str  # yyyymmdd
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256


def _trim(value: str) -> str:
    return " ".join(value.split())


def canonical_query(query: str) -> str:
    """Sorted ``key=value`` pairs, each part URI-encoded once (RFC 3986 unreserved kept)."""
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append(
            (quote(unquote(key), safe="-_.~"), quote(unquote(value.replace("+", " ")), safe="-_.~"))
        )
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(headers: Iterable[tuple[str, str]], signed: Iterable[str]) -> str:
    """``name:value`` lines for the `signed` header names, each line newline-terminated."""
    wanted = sorted({name.lower() for name in signed})
    values: dict[str, list[str]] = {name: [] for name in wanted}
    for name, value in headers:
        lname = name.lower()
        if lname in values:
            values[lname].append(_trim(value))
    return "".join(f"{name}:{','.join(values[name])}\n" for name in wanted)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    signed_headers: Iterable[str],
    body_hash: str,
) -> str:
    """`path` is the raw path as sent on the wire; non-S3 services encode it once more."""
    signed = sorted({name.lower() for name in signed_headers})
    return "\n".join(
        [
            method.upper(),
            quote(path or "/", safe="/~"),
            canonical_query(query),
            canonical_headers(headers, signed),
            ";".join(signed),
            body_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(key: bytes, to_sign: str) -> str:
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def format_amz_date(now_ms: int) -> str:
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime(TIMESTAMP_FORMAT)


def parse_amz_date(value: str) -> int:
    """Milliseconds for an ``X-Amz-Date`` value; ValueError when malformed."""
    parsed = datetime.strptime(value, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def sign(
    *,
    method: str,
    host: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    access_key: str,
    secret: str,
    region: str,
    service: str,
    now_ms: int,
) -> dict[str, str]:
    """The headers to add to a request (``Host``, ``X-Amz-Date``, ``Authorization``)."""
    amz_date = format_amz_date(now_ms)
    all_headers = {**headers, "Host": host, "X-Amz-Date": amz_date}
    names = sorted(name.lower() for name in all_headers)
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    canonical = canonical_request(
        method, path, query, all_headers.items(), names, payload_hash(body)
    )
    sig = signature(
        signing_key(secret, amz_date[:8], region, service),
        string_to_sign(amz_date, scope, canonical),
    )
    auth = (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={sig}"
    )
    return {"Host": host, "X-Amz-Date": amz_date, "Authorization": auth}


def parse_authorization(value: str) -> Authorization:
    """Split an Authorization header; `SigV4Error("incomplete")` when it is malformed."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SigV4Error("incomplete", f"Unsupported authorization type: {algorithm or value!r}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key.strip()] = val.strip()
    missing = [k for k in ("Credential", "SignedHeaders", "Signature") if not parts.get(k)]
    if missing:
        raise SigV4Error(
            "incomplete",
            f"Authorization header requires '{missing[0]}' parameter. Authorization={value}",
        )
    credential = parts["Credential"].split("/")
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise SigV4Error(
            "incomplete",
            "Credential should be scoped to a valid region and service, and "
            "terminated by 'aws4_request'. " + f"Credential={parts['Credential']}",
        )
    access_key, date, region, service, _ = credential
    return Authorization(
        access_key=access_key,
        date=date,
        region=region,
        service=service,
        signed_headers=tuple(parts["SignedHeaders"].split(";")),
        signature=parts["Signature"],
    )


def check_skew(amz_date: str, now_ms: int, max_skew_ms: int = MAX_SKEW_MS) -> None:
    """`SigV4Error("expired"/"not_yet_current")` outside ±`max_skew_ms`, AWS's wording."""
    try:
        request_ms = parse_amz_date(amz_date)
    except ValueError:
        raise SigV4Error("incomplete", f"Invalid X-Amz-Date: {amz_date}") from None
    minutes = max_skew_ms // 60_000
    if request_ms < now_ms - max_skew_ms:
        raise SigV4Error(
            "expired",
            f"Signature expired: {amz_date} is now earlier than "
            f"{format_amz_date(now_ms - max_skew_ms)} ({format_amz_date(now_ms)} - {minutes} min.)",
        )
    if request_ms > now_ms + max_skew_ms:
        raise SigV4Error(
            "not_yet_current",
            f"Signature not yet current: {amz_date} is still later than "
            f"{format_amz_date(now_ms + max_skew_ms)} ({format_amz_date(now_ms)} + {minutes} min.)",
        )


def verify(
    auth: Authorization,
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    secret: str,
    now_ms: int,
    max_skew_ms: int = MAX_SKEW_MS,
) -> None:
    """Raise `SigV4Error` unless `auth` signs this request with `secret` at about `now_ms`."""
    header_list = list(headers)
    lower = {name.lower(): value for name, value in header_list}
    amz_date = lower.get("x-amz-date")
    if amz_date is None:
        raise SigV4Error(
            "incomplete",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    if "host" not in auth.signed_headers:
        raise SigV4Error("incomplete", "'Host' must be a 'SignedHeader' in the AWS Authorization.")
    check_skew(amz_date, now_ms, max_skew_ms)
    if amz_date[:8] != auth.date:
        raise SigV4Error(
            "mismatch",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
            "of date from HTTP.",
        )
    body_hash = payload_hash(body)
    claimed = lower.get("x-amz-content-sha256")
    if claimed is not None and claimed != body_hash:
        raise SigV4Error(
            "mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    canonical = canonical_request(method, path, query, header_list, auth.signed_headers, body_hash)
    to_sign = string_to_sign(amz_date, auth.scope, canonical)
    expected = signature(signing_key(secret, auth.date, auth.region, auth.service), to_sign)
    if not hmac.compare_digest(expected, auth.signature):
        raise SigV4Error(
            "mismatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. "
            "Consult the service documentation for details.",
        )
