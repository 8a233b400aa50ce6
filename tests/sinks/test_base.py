"""The contract's pieces: option parsing with key paths, the context, the error tree."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

import sinks
from sinks import (
    AuthorizationError,
    FatalError,
    PayloadTooLargeError,
    RetryableError,
    SinkContext,
    SinkError,
    SinkOptions,
    SinkOptionsError,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Inner(SinkOptions):
    level: int = 1
    """A nested number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Demo(SinkOptions):
    url: str
    """Required."""
    retries: int = 3
    """An integer."""
    ratio: float = 0.5
    """A number."""
    enabled: bool = True
    """A boolean."""
    mode: Literal["a", "b"] = "a"
    """A choice."""
    servers: tuple[str, ...] = ()
    """An array."""
    headers: dict[str, str] = field(default_factory=dict)
    """A table."""
    where: Path | None = None
    """A path or nothing."""
    inner: Inner = field(default_factory=Inner)
    """A nested table."""

    def validate(self) -> None:
        if self.retries > 10:
            raise SinkOptionsError.at("retries", "at most 10")


def problems(data, path="sinks.demo"):
    with pytest.raises(SinkOptionsError) as info:
        Demo.from_dict(data, path=path)
    return info.value.problems


def test_parses_every_supported_type():
    o = Demo.from_dict(
        {
            "url": "u",
            "retries": 4,
            "ratio": 1,
            "enabled": False,
            "mode": "b",
            "servers": ["x", "y"],
            "headers": {"A": "1"},
            "where": "/tmp/x",
            "inner": {"level": 2},
            "rendering": "cloudwatch",
        }
    )
    assert o == Demo(
        url="u",
        retries=4,
        ratio=1.0,
        enabled=False,
        mode="b",
        servers=("x", "y"),
        headers={"A": "1"},
        where=Path("/tmp/x"),
        inner=Inner(level=2),
        rendering="cloudwatch",
    )
    assert isinstance(o.ratio, float)
    assert Demo.from_dict({"url": "u"}).rendering == "ndjson"


def test_unknown_key_lists_the_allowed_ones():
    [(where, what)] = problems({"url": "u", "retires": 1})
    assert where == "sinks.demo.retires"
    assert what.startswith("unknown key; allowed keys: ")
    assert "enabled, headers, inner, mode, ratio, rendering, retries, servers, url, where" in what


def test_every_problem_is_reported_with_its_key_path():
    got = problems(
        {
            "retries": "3",
            "enabled": 1,
            "mode": "c",
            "servers": ["ok", 2],
            "headers": {"A": 1},
            "inner": {"level": True, "x": 0},
        }
    )
    assert dict(got) == {
        "sinks.demo.retries": "expected an integer, got string '3'",
        "sinks.demo.enabled": "expected a boolean, got integer 1",
        "sinks.demo.mode": "expected one of 'a', 'b', got string 'c'",
        "sinks.demo.servers[1]": "expected a string, got integer 2",
        "sinks.demo.headers.A": "expected a string, got integer 1",
        "sinks.demo.inner.level": "expected an integer, got boolean true",
        "sinks.demo.inner.x": "unknown key; allowed keys: level, rendering",
        "sinks.demo.url": "required key is missing",
    }


def test_bool_is_not_a_number_and_literal_types_are_exact():
    assert dict(problems({"url": "u", "ratio": True})) == {
        "sinks.demo.ratio": "expected a number, got boolean true"
    }


def test_validate_runs_last_with_the_path():
    assert problems({"url": "u", "retries": 11}) == [("sinks.demo.retries", "at most 10")]
    with pytest.raises(SinkOptionsError, match=r"^retries: at most 10$"):
        Demo.from_dict({"url": "u", "retries": 11})


def test_options_are_frozen():
    o = Demo.from_dict({"url": "u"})
    with pytest.raises(AttributeError):
        o.url = "v"  # type: ignore[misc]


def test_context_names_the_logger_and_reads_secrets_from_its_environ():
    ctx = SinkContext.create("kafka", "central", environ={"PW": "s3cret"})
    assert ctx.logger.name == "logd.sink.kafka.central"
    assert ctx.secret("PW", key="sasl_password_env") == "s3cret"
    with pytest.raises(SinkOptionsError, match="sasl_password_env: environment variable NOPE"):
        ctx.secret("NOPE", key="sasl_password_env")


def test_error_tree():
    assert issubclass(RetryableError, SinkError)
    assert issubclass(FatalError, SinkError)
    assert issubclass(AuthorizationError, RetryableError)
    assert issubclass(PayloadTooLargeError, FatalError)
    assert RetryableError("x", retry_after=3.5).retry_after == 3.5
    assert RetryableError("x").retry_after is None
    e = PayloadTooLargeError("big", size=10, limit=5)
    assert (e.size, e.limit, str(e)) == (10, 5, "big")
    assert issubclass(sinks.SinkPluginError, ImportError)
    assert issubclass(SinkOptionsError, ValueError)


class Bare(sinks.Sink[SinkOptions]):
    options_class = SinkOptions

    async def send(self, batch: sinks.Batch) -> None:
        self.got = batch


async def test_default_hooks_and_async_with():
    sink = Bare(SinkOptions(), SinkContext.create("bare", "b"))
    async with sink as entered:
        assert entered is sink
    await sink.close()
