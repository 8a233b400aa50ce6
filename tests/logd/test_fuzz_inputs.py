"""S-08: property tests (Hypothesis, small CI budget) for the parsers the tail agent and
the daemon expose to configuration files and file contents: the config loader, the
timestamp formats and parser, and PutLogEvents' event decoder. Each fails only with its
own error type, never with a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logd import errors
from logd import settings as config
from logd.api.ops.events import _columns
from logd.tail.timestamps import TimestampParser, format_to_pattern

BUDGET = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SECTIONS = ["daemon", "api", "store", "export", "queries", "telemetry", "subscriptions", "agent"]
KEYS = ["data_dir", "listen", "auth", "fsync", "wal_max_bytes", "log_level", "timeout_ms",
        "scan_interval_ms", "paths", "log_group", "nosuch", "max_open_files"]  # fmt: skip
VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "").replace('"', "") + '"'),
    st.sampled_from(["true", "false", "[]", '["a", 1]', "{}", "1.5", "nan", '"${NOPE}"']),
    st.text(max_size=8),  # often not TOML at all
)


@st.composite
def toml_documents(draw: Any) -> str:
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        header = draw(st.sampled_from([*SECTIONS, "tail", "sinks.x", "api.keys"]))
        array = header in ("tail", "api.keys") and draw(st.booleans())
        lines.append(f"[[{header}]]" if array else f"[{header}]")
        for _ in range(draw(st.integers(0, 4))):
            lines.append(f"{draw(st.sampled_from(KEYS))} = {draw(VALUES)}")
    return "\n".join(lines) + "\n"


@BUDGET
@given(toml_documents())
def test_config_fails_only_with_settings_error(text: str) -> None:
    problems: list[config.Problem] = []
    try:
        config.parse(text, env={})
    except config.SettingsError as exc:
        problems = exc.problems or [config.Problem("", None, "")]
    assert all(p.message for p in problems)


DIRECTIVE = st.sampled_from([*"YmdHMSfzbBaAjyIpeTFDRQ%", "", "x", "-", ":"])


@BUDGET
@given(st.lists(st.tuples(st.booleans(), DIRECTIVE), max_size=8), st.text(max_size=60))
def test_timestamp_formats_fail_only_as_value_errors_and_parse_never_raises(
    parts: list[tuple[bool, str]], line: str
) -> None:
    fmt = "".join(("%" if directive else "") + ch for directive, ch in parts)
    try:
        format_to_pattern(fmt)
        parser = TimestampParser(fmt)
    except ValueError:
        return
    result = parser.parse(line, 1_700_000_000_000)
    assert result is None or isinstance(result, int)


EVENT = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=3),
                               st.none(), st.booleans()),
        "message": st.one_of(st.text(max_size=20), st.integers(), st.none(), st.lists(st.none())),
        "extra": st.integers(),
    },
)  # fmt: skip


class _Ctx:
    """Only what `_columns` reads of an OpContext: the model validator."""

    def __init__(self) -> None:
        from logd.api.validation import Validator

        self.validator = Validator()


CTX = _Ctx()


@BUDGET
@given(st.one_of(st.lists(EVENT, max_size=6), st.integers(), st.text(max_size=5), st.none()))
def test_put_log_events_decoder_fails_only_with_api_errors(events: Any) -> None:
    body = {"logGroupName": "g", "logStreamName": "s", "logEvents": events}
    try:
        decoded = _columns(CTX, body)  # type: ignore[arg-type]
    except errors.LogdError:
        return
    assert len(decoded.timestamps) == len(decoded.messages) == len(events)
    assert all(isinstance(t, int) for t in decoded.timestamps)
