"""A small synchronous client for logd's own API (and CloudWatch Logs itself).

It speaks the JSON protocol with the standard library's HTTP client and signs with
`logd.sigv4` when credentials are given. Wire errors come back as `logd.errors.*`
classes of the same name (`LogdError` for a ``__type`` logd does not define), so the
CLI has one exit-code table. Endpoint and credentials are parameters; the CLI reads
flags, ``LOGD_ENDPOINT``/``AWS_*`` and the config file.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from logd import errors, sigv4


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


class Client:
    def __init__(
        self,
        endpoint: str,
        *,
        credentials: Credentials | None = None,
        region: str = "us-east-1",
        timeout_s: float = 30.0,
    ) -> None:
        parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"endpoint must be http(s)://HOST[:PORT], not {endpoint!r}")
        self.endpoint = endpoint
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self.credentials = credentials
        self.region = region
        self.timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout_s)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, operation: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST one operation; the response body, or the wire error raised."""
        payload = orjson.dumps(body or {})
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"Logs_20140328.{operation}",
        }
        if self.credentials is not None:
            if self.credentials.session_token:
                headers["X-Amz-Security-Token"] = self.credentials.session_token
            headers.update(
                sigv4.sign(
                    method="POST", host=self._netloc, path="/", query="", headers=headers,
                    body=payload, access_key=self.credentials.access_key_id,
                    secret=self.credentials.secret_access_key, region=self.region,
                    service="logs", now_ms=time.time_ns() // 1_000_000,
                )
            )  # fmt: skip
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", "/", body=payload, headers=headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self.close()  # a kept-alive connection the server closed: retry once
                if attempt == 2:
                    raise
        result = orjson.loads(data) if data else {}
        if response.status != 200:
            type_name = str(result.get("__type", "LogdError")).rsplit("#", 1)[-1]
            message = str(result.get("message") or result.get("Message") or type_name)
            cls = getattr(errors, type_name, None)
            if not (isinstance(cls, type) and issubclass(cls, errors.LogdError)):
                cls = errors.LogdError
            raise cls(message)
        out: dict[str, Any] = result
        return out
