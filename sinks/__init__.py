"""The sink plugin author's whole API.

A sink is a `Sink` subclass with an `options_class` (a `SinkOptions` dataclass),
registered under the `logd.sinks` entry-point group. It receives `Batch`es and raises
`RetryableError` or `FatalError`; logd does the rest. The rules are in `sinks.base`, the
guide in docs/sinks.md, the test kit in `sinks.testing`.
"""

from sinks.base import (
    SINK_API_VERSION,
    AuthorizationError,
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    Sink,
    SinkContext,
    SinkError,
    SinkOptions,
    SinkOptionsError,
    SinkPluginError,
)
from sinks.batch import CONTROL_MESSAGE, DATA_MESSAGE, Batch

__all__ = [
    "CONTROL_MESSAGE",
    "DATA_MESSAGE",
    "SINK_API_VERSION",
    "AuthorizationError",
    "Batch",
    "FatalError",
    "PayloadTooLargeError",
    "RetryableError",
    "Sink",
    "SinkContext",
    "SinkError",
    "SinkOptions",
    "SinkOptionsError",
    "SinkPluginError",
]
