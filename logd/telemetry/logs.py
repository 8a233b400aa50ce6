"""logd's own log lines: one JSON object per line on stderr (journald captures it).

Messages are sentences; data goes in fields: ``log.info("Listening.", extra=fields(
listen="127.0.0.1:4586"))`` becomes ``{"ts": "...", "level": "info", "logger":
"logd.app", "msg": "Listening.", "listen": "127.0.0.1:4586"}``. ERROR means data loss or
operator action, WARNING a recovered problem. Nothing is configured at import: the
composition root calls `configure`.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

_FIELDS = "logd_fields"
_RESERVED = {"ts", "level", "logger", "msg"}


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call: structured fields printed beside the message."""
    return {_FIELDS: values}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in getattr(record, _FIELDS, {}).items():
            line[f"field_{key}" if key in _RESERVED else key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extra = " ".join(f"{k}={v}" for k, v in getattr(record, _FIELDS, {}).items())
        text = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        text = f"{text} {extra}" if extra else text
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def configure(level: str = "info", log_format: str = "json", stream: TextIO | None = None) -> None:
    """Send the ``logd`` logger tree to `stream` (stderr) in `log_format`; idempotent."""
    root = logging.getLogger("logd")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False


def set_level(level: str) -> None:
    logging.getLogger("logd").setLevel(level.upper())
