"""The sink contract: Sink, SinkOptions, SinkContext and the errors a sink raises.

A sink delivers batches to one destination. logd does everything else. These are the
MUST rules every sink, built-in or plugin, is held to (`sinks.testing.SinkContract`
checks what a test can check):

1. One instance per configured destination. logd calls `start()` once, then `send()`
   any number of times, then `close()`. `send` is never called after a failed `start`,
   and never runs concurrently on one instance, unless the class sets
   `concurrent_sends = True`: then batches of different log streams may be in `send` at
   once (bounded by the subscriptions' `max_in_flight`), never two of one stream. A log
   stream's batches arrive in order either way.
2. `send` returns only when the destination has the batch (durably, as far as the
   destination promises). Returning is the acknowledgement: logd moves the subscription
   cursor past these events only then.
3. A batch may arrive more than once (after a crash, a timeout or an ambiguous
   failure). `batch.id` is the same on every delivery: use it (and the event ids) to
   de-duplicate. Never mutate a batch.
4. logd owns batching, per-call timeouts, retries, backoff, cursors and the dead-letter
   store. A sink never sleeps for backoff, never retries on its own beyond what its
   client library does within one call, and never drops data.
5. Failures are typed. `RetryableError` (optionally with `retry_after` seconds): the
   destination could not take it now. `FatalError`: this batch can never be delivered,
   though the destination is fine; logd then bisects the batch (`Batch.split`) and
   dead-letters only the poison events. Destination-wide trouble (bad credentials, a
   full disk, a refused TLS certificate) is never fatal: raise `RetryableError` with a
   long `retry_after`, or `AuthorizationError`. Any other exception counts as
   retryable, "unclassified".
6. Map library errors at the edge, `raise ... from exc`: aiokafka's `exc.retriable` is
   retryable, a refused oversized record is `PayloadTooLargeError`; HTTP 408, 425, 429
   and 5xx, timeouts and connection errors are retryable, 401/403 `AuthorizationError`,
   400/413/422 and other 4xx fatal.
7. `close()` flushes and releases everything (sockets, files, tasks) and is idempotent;
   it also works on a sink that never started. Nothing is left running, nothing warns.
8. Log through `context.logger` (`logd.sink.<type>.<destination>`); never log secrets.
   Read secrets from `context.environ`, never from `os.environ` at import.

Errors, drawn::

    Exception
     ├── SinkError                      the outcome of one send()
     │    ├── RetryableError            try again later (retry_after: float | None)
     │    │    └── AuthorizationError   credentials refused; logd pauses the subscription
     │    └── FatalError                this batch, never the destination
     │         └── PayloadTooLargeError  refused for its size (size, limit); logd splits
     ├── SinkOptionsError (ValueError)  configuration problems, each with its key path
     └── SinkPluginError (ImportError)  an entry point that cannot be a sink
"""

from __future__ import annotations

import abc
import dataclasses
import logging
import time
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

from sinks.batch import Batch

#: Version of this contract; a plugin built for another one is refused at load.
SINK_API_VERSION = 1

Rendering = Literal["cloudwatch", "ndjson"]


# -- errors -----------------------------------------------------------------------------


class SinkError(Exception):
    """Base of what `send` raises."""


class RetryableError(SinkError):
    """The destination could not take the batch now; logd retries with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        """Seconds the destination asked to wait (a floor for logd's backoff), or None."""


class AuthorizationError(RetryableError):
    """The destination refused our credentials; logd pauses the subscription."""


class FatalError(SinkError):
    """This batch can never be delivered. The destination itself is fine."""


class PayloadTooLargeError(FatalError):
    """The rendered batch (or one event) is over the destination's size limit."""

    def __init__(self, message: str, *, size: int, limit: int) -> None:
        super().__init__(message)
        self.size = size
        self.limit = limit


class SinkOptionsError(ValueError):
    """Options that cannot configure a sink; every problem with its key path."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))

    @classmethod
    def at(cls, key: str, message: str) -> SinkOptionsError:
        """One problem at `key` (relative to the options table)."""
        return cls([(key, message)])

    def under(self, path: str) -> SinkOptionsError:
        """The same problems, with key paths prefixed by `path`."""
        if not path:
            return self
        return SinkOptionsError([(f"{path}.{where}", what) for where, what in self.problems])


class SinkPluginError(ImportError):
    """An entry point in `logd.sinks` that is missing, broken or not a sink."""


# -- options ----------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message


def _describe(value: object) -> str:
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    return type(value).__name__


def _convert(value: object, tp: Any, where: str) -> object:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any or tp is object:
        return value
    if origin is typing.Union or origin is types.UnionType:
        if value is None and type(None) in args:
            return None
        last: _Bad | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except _Bad as exc:
                last = exc
        assert last is not None  # noqa: S101 (a Union has a non-None member)
        raise last
    if origin is Literal:
        for choice in args:
            if type(value) is type(choice) and value == choice:
                return value
        allowed = ", ".join(repr(a) for a in args)
        raise _Bad(where, f"expected one of {allowed}, got {_describe(value)}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Bad(where, f"expected a boolean, got {_describe(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Bad(where, f"expected an integer, got {_describe(value)}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _Bad(where, f"expected a number, got {_describe(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise _Bad(where, f"expected a string, got {_describe(value)}")
    if tp is Path:
        if isinstance(value, str | Path):
            return Path(value)
        raise _Bad(where, f"expected a path string, got {_describe(value)}")
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, list | tuple):
            raise _Bad(where, f"expected an array, got {_describe(value)}")
        return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _Bad(where, f"expected a table, got {_describe(value)}")
        item = args[1] if len(args) == 2 else Any
        out: dict[str, object] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise _Bad(where, f"keys must be strings, got {_describe(k)}")
            out[k] = _convert(v, item, f"{where}.{k}")
        return out
    if isinstance(tp, type) and issubclass(tp, SinkOptions):
        if not isinstance(value, Mapping):
            raise _Bad(where, f"expected a table, got {_describe(value)}")
        return tp.from_dict(value, path=where)  # its SinkOptionsError lists every problem
    raise _Bad(where, f"unsupported option type {tp!r}")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SinkOptions:
    """Subclass it: one field per config key, each with a default and a docstring.

    Supported field types: str, int, float, bool, Path, Literal[...], X | None,
    tuple[X, ...] (an array) and dict[str, X] (a table). Cross-field rules go in
    `validate()`, raising `SinkOptionsError.at(key, message)`.
    """

    rendering: Rendering = "ndjson"
    """How batches are rendered: `cloudwatch` (the gzip JSON envelope) or `ndjson`."""

    def validate(self) -> None:
        """Check rules that span fields; raise SinkOptionsError. Default: nothing."""

    @classmethod
    def allowed_keys(cls) -> list[str]:
        return sorted(f.name for f in dataclasses.fields(cls) if f.init)

    @classmethod
    def from_dict(cls, data: Mapping[str, object], *, path: str = "") -> Self:
        """Parse a config table; every problem is reported at once, with its key path.

        Unknown keys list the allowed ones (Fluent Bit's config map), a wrong type names
        what was expected and what was found, `validate()` runs last.
        """
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        allowed = ", ".join(cls.allowed_keys())
        problems: list[tuple[str, str]] = []
        values: dict[str, Any] = {}

        def at(key: str) -> str:
            return f"{path}.{key}" if path else key

        for key, raw in data.items():
            if key not in fields:
                problems.append((at(str(key)), f"unknown key; allowed keys: {allowed}"))
                continue
            try:
                values[key] = _convert(raw, hints[key], at(key))
            except _Bad as exc:
                problems.append((exc.where, exc.message))
            except SinkOptionsError as exc:
                problems.extend(exc.problems)
        for name, f in fields.items():
            no_default = f.default is dataclasses.MISSING
            if name not in data and no_default and f.default_factory is dataclasses.MISSING:
                problems.append((at(name), "required key is missing"))
        if problems:
            raise SinkOptionsError(problems)
        options = cls(**values)
        try:
            options.validate()
        except SinkOptionsError as exc:
            raise exc.under(path) from None
        except ValueError as exc:
            raise SinkOptionsError([(path or "options", str(exc))]) from exc
        return options


# -- context and the sink ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SinkContext:
    """What logd hands a sink besides its options."""

    type: str
    """The sink type (entry point name), e.g. `kafka`."""
    name: str
    """The destination's name in the config, e.g. `central-kafka`."""
    logger: logging.Logger
    """`logd.sink.<type>.<name>`."""
    environ: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Environment for secret references (the daemon passes its own)."""
    now: Callable[[], float] = time.time
    """Wall clock in seconds (signing timestamps, time-based rotation); injectable."""

    @classmethod
    def create(
        cls,
        type: str,
        name: str,
        *,
        environ: Mapping[str, str] | None = None,
        now: Callable[[], float] = time.time,
    ) -> SinkContext:
        return cls(
            type=type,
            name=name,
            logger=logging.getLogger(f"logd.sink.{type}.{name}"),
            environ={} if environ is None else environ,
            now=now,
        )

    def secret(self, variable: str, *, key: str) -> str:
        """The value of environment variable `variable`, named by option `key`."""
        value = self.environ.get(variable)
        if value is None or value == "":
            raise SinkOptionsError.at(key, f"environment variable {variable} is not set")
        return value


OptionsT = TypeVar("OptionsT", bound=SinkOptions)


class Sink(abc.ABC, Generic[OptionsT]):
    """Delivers batches to one destination; see the module docstring for the rules."""

    options_class: ClassVar[type[SinkOptions]]
    """The options dataclass `[sinks.<name>]` is parsed into."""
    api_version: ClassVar[int] = SINK_API_VERSION
    """The contract version the sink was written for."""
    concurrent_sends: ClassVar[bool] = False
    """True if `send` may run concurrently for batches of different log streams."""

    def __init__(self, options: OptionsT, context: SinkContext) -> None:
        self.options = options
        self.context = context

    async def start(self) -> None:
        """Connect. Raise RetryableError if the destination is not reachable yet."""

    @abc.abstractmethod
    async def send(self, batch: Batch) -> None:
        """Deliver `batch`; return only when the destination has it."""

    async def close(self) -> None:
        """Flush and release everything. Idempotent; safe on a sink never started."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
