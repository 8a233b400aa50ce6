"""The webhook sink: each batch as one signed HTTP POST (aiohttp).

Bodies (subscriptions-and-export.md §8.2): `cloudwatch` rendering (the default) sends
`application/json` `{"awslogs": {"data": "<base64 gzip payload>"}}`, exactly a Lambda
event; `ndjson` sends `application/x-ndjson`. `compression = "gzip"` compresses the
body and says so in `Content-Encoding`. Success is any 2xx; redirects are not followed.

Signing (Stripe's model), recomputed on every attempt with a fresh timestamp:

| Header | Value |
|---|---|
| `X-Logd-Timestamp` | Unix seconds at signing |
| `X-Logd-Signature` | `v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` per secret |
| `X-Logd-Delivery` | `batch.id`, the same on every attempt |
| `X-Logd-Attempt` | `batch.attempt` |
| `X-Logd-Event` | `DATA_MESSAGE` or `CONTROL_MESSAGE` |

The body signed is the body as sent (after gzip); with several secrets (rotation) the
signatures are comma-separated. Receivers check with `verify()`.

Outcomes: 2xx delivered; 408, 425, 429, 5xx, timeouts and connection errors retryable,
honouring `Retry-After` in seconds or as an HTTP date; 401/403 `AuthorizationError`;
413 `PayloadTooLargeError` (logd halves the batch); 400, 422 and any other 4xx fatal for
the batch; a 3xx (a moved endpoint) retryable.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import hmac
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import aiohttp

from sinks.base import (
    AuthorizationError,
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    Sink,
    SinkContext,
    SinkOptions,
    SinkOptionsError,
)
from sinks.batch import Batch

#: Receivers reject signatures older or newer than this (Stripe's default).
DEFAULT_TOLERANCE_S = 300
#: Retry-After floor when the endpoint refuses our credentials without one.
AUTH_RETRY_AFTER_S = 600.0
_RESERVED = {"content-type", "content-encoding", "content-length", "host"}
_RETRYABLE_4XX = {408, 425, 429}


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookOptions(SinkOptions):
    """`[sinks.<name>]` with `type = "webhook"`."""

    url: str
    """Endpoint; `https://`, or `http://` with `allow_insecure = true`."""
    rendering: Literal["cloudwatch", "ndjson"] = "cloudwatch"
    """`cloudwatch`: a Lambda-style awslogs event; `ndjson`: a line per event."""
    allow_insecure: bool = False
    """Allow plain `http://` URLs."""
    compression: Literal["none", "gzip"] = "none"
    """Compress bodies with gzip (`Content-Encoding: gzip`)."""
    timeout_s: float = 10.0
    """Whole request, connect to last byte of the response."""
    connect_timeout_s: float = 5.0
    """Connecting, including TLS."""
    headers: dict[str, str] = field(default_factory=dict)
    """Static headers sent with every request."""
    headers_from_env: dict[str, str] = field(default_factory=dict)
    """Header name → environment variable holding its value (tokens, API keys)."""
    signing_secrets_env: tuple[str, ...] = ()
    """Environment variables holding HMAC secrets; one `v1=` signature per secret."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Largest body sent; a larger one is refused as too large before sending."""
    tls_verify: bool = True
    """Verify the server's certificate."""
    tls_ca_file: str | None = None
    """CA bundle for the server's certificate; None = system CAs."""
    tls_cert_file: str | None = None
    """Client certificate for mutual TLS."""
    tls_key_file: str | None = None
    """Client key for mutual TLS."""

    def validate(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SinkOptionsError.at("url", f"expected an http(s) URL, got {self.url!r}")
        if parts.scheme == "http" and not self.allow_insecure:
            raise SinkOptionsError.at("url", "plain http needs allow_insecure = true")
        for key in ("timeout_s", "connect_timeout_s"):
            if getattr(self, key) <= 0:
                raise SinkOptionsError.at(key, "must be positive")
        if self.max_body_bytes < 1:
            raise SinkOptionsError.at("max_body_bytes", "must be positive")
        for key, table in (("headers", self.headers), ("headers_from_env", self.headers_from_env)):
            for name in table:
                lowered = name.lower()
                if lowered in _RESERVED or lowered.startswith("x-logd-"):
                    raise SinkOptionsError.at(f"{key}.{name}", "this header is set by logd")
                if not name or any(c in name for c in "\r\n:"):
                    raise SinkOptionsError.at(f"{key}.{name}", "not a valid header name")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise SinkOptionsError.at("tls_cert_file", "tls_cert_file and tls_key_file go together")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>." + body` under `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def verify(
    secret: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    now: float,
) -> bool:
    """True if `body` carries a valid `v1` signature by any of the secrets, made within
    `tolerance_s` of `now` (Unix seconds). Compare over the raw body as received."""
    secrets = [secret] if isinstance(secret, str) else list(secret)
    stamp = _header(headers, "X-Logd-Timestamp")
    signature = _header(headers, "X-Logd-Signature")
    if stamp is None or signature is None or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance_s:
        return False
    offered = [p.strip()[3:] for p in signature.split(",") if p.strip().startswith("v1=")]
    return any(
        hmac.compare_digest(sign(s, timestamp, body), candidate)
        for s in secrets
        for candidate in offered
    )


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def classify(status: int, retry_after: float | None, detail: str) -> Exception | None:
    """The contract's error for an HTTP status, or None for success."""
    if 200 <= status < 300:
        return None
    what = f"webhook answered HTTP {status}: {detail}".rstrip(": ")
    if status in (401, 403):
        return AuthorizationError(what, retry_after=retry_after or AUTH_RETRY_AFTER_S)
    if status in _RETRYABLE_4XX or status >= 500:
        return RetryableError(what, retry_after=retry_after)
    if status == 413:
        return PayloadTooLargeError(what, size=-1, limit=-1)
    if 400 <= status < 500:
        return FatalError(what)
    return RetryableError(what, retry_after=retry_after or 60.0)


class WebhookSink(Sink[WebhookOptions]):
    """POSTs each batch to one URL, signed; batches of different streams in parallel."""

    options_class = WebhookOptions
    concurrent_sends = True

    def __init__(self, options: WebhookOptions, context: SinkContext) -> None:
        super().__init__(options, context)
        self._session: aiohttp.ClientSession | None = None
        self._secrets = [
            context.secret(var, key=f"signing_secrets_env[{i}]")
            for i, var in enumerate(options.signing_secrets_env)
        ]
        self._headers = dict(options.headers)
        for name, var in options.headers_from_env.items():
            self._headers[name] = context.secret(var, key=f"headers_from_env.{name}")

    def _ssl(self) -> ssl.SSLContext | bool:
        o = self.options
        if not o.tls_verify:
            return False
        if o.tls_ca_file is None and o.tls_cert_file is None:
            return True
        context = ssl.create_default_context(cafile=o.tls_ca_file)
        if o.tls_cert_file is not None:
            context.load_cert_chain(o.tls_cert_file, o.tls_key_file)
        return context

    async def start(self) -> None:
        if self._session is not None:
            return
        o = self.options
        timeout = aiohttp.ClientTimeout(total=o.timeout_s, connect=o.connect_timeout_s)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(ssl=self._ssl())
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def render(self, batch: Batch) -> tuple[bytes, dict[str, str]]:
        """The body as sent and its content headers."""
        if self.options.rendering == "cloudwatch":
            body, headers = batch.to_awslogs_event(), {"Content-Type": "application/json"}
        else:
            body, headers = batch.to_ndjson(), {"Content-Type": "application/x-ndjson"}
        if self.options.compression == "gzip":
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return body, headers

    async def send(self, batch: Batch) -> None:
        if self._session is None:
            raise RetryableError("the webhook sink is not started")
        body, headers = self.render(batch)
        limit = self.options.max_body_bytes
        if len(body) > limit:
            raise PayloadTooLargeError(
                f"webhook body of {len(body)} bytes is over max_body_bytes {limit} "
                f"({len(batch)} events)",
                size=len(body),
                limit=limit,
            )
        now = self.context.now()
        stamp = int(now)
        headers.update(self._headers)
        headers["X-Logd-Timestamp"] = str(stamp)
        headers["X-Logd-Delivery"] = batch.id
        headers["X-Logd-Attempt"] = str(batch.attempt)
        headers["X-Logd-Event"] = batch.message_type
        if self._secrets:
            headers["X-Logd-Signature"] = ",".join(
                f"v1={sign(s, stamp, body)}" for s in self._secrets
            )
        url = self.options.url
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                detail = (await response.content.read(256)).decode("utf-8", "replace")
                status = response.status
                retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        except TimeoutError as exc:
            raise RetryableError(f"webhook timed out after {self.options.timeout_s} s") from exc
        except aiohttp.ClientSSLError as exc:
            raise RetryableError(f"webhook TLS failure: {exc}", retry_after=60.0) from exc
        except aiohttp.ClientError as exc:
            raise RetryableError(f"webhook request failed: {exc!r}") from exc
        error = classify(status, retry_after, detail.strip()[:200])
        if error is not None:
            raise error
