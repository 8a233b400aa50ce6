"""layout.py: names, keys, rendering and part boundaries against plain-Python models."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logd.errors import InvalidParameterException
from logd.export import layout
from tests.logd.export.helpers import iso


def test_keys_follow_cloudwatch_layout() -> None:
    assert layout.object_key("exportedlogs", "t-1", "web-1", 0, "keep") == (
        "exportedlogs/t-1/web-1/000000.gz"
    )
    assert layout.object_key("p/q", "t", "a/b", 12, "keep") == "p/q/t/a/b/000012.gz"
    assert layout.object_key("p", "t", "a/b", 1, "dash") == "p/t/a-b/000001.gz"
    assert layout.object_key("", "t", "s", 0, "keep") == "t/s/000000.gz"
    assert layout.manifest_key("exportedlogs", "t") == "exportedlogs/t.manifest.json"
    # Dot segments of a stream name never climb out of the task folder.
    assert layout.object_key("p", "t", "../../etc", 0, "keep") == "p/t/%2E%2E/%2E%2E/etc/000000.gz"
    assert layout.object_key("p", "t", "/x", 0, "keep") == "p/t/%00/x/000000.gz"


@pytest.mark.parametrize(
    ("given_prefix", "result"),
    [(None, "exportedlogs"), ("/a/b/", "a/b"), ("", ""), ("logs-2024", "logs-2024")],
)
def test_prefix_normalized(given_prefix: str | None, result: str) -> None:
    assert layout.normalize_prefix(given_prefix, "exportedlogs") == result


@pytest.mark.parametrize("bad", ["..", "../x", "a/../b", "a/./b", "a//b", "a\\b", "a\x00"])
def test_prefix_with_dot_segments_refused(bad: str) -> None:
    with pytest.raises(InvalidParameterException):
        layout.normalize_prefix(bad, "exportedlogs")


@pytest.mark.parametrize(
    "bad", ["..", "a", "A-b", "a/b", "-ab", "ab-", "a..b", "1.2.3.4", "x" * 64]
)
def test_bucket_names_checked(bad: str) -> None:
    with pytest.raises(InvalidParameterException):
        layout.validate_bucket(bad)


def test_bucket_names_accepted() -> None:
    for good in ("abc", "my-bucket.logs", "b-0123456789"):
        assert layout.validate_bucket(good) == good


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 253_402_300_799_999), st.text(max_size=30)), max_size=40))
def test_render_lines_matches_python(events: list[tuple[int, str]]) -> None:
    stamps = np.array([t for t, _ in events], dtype=np.int64)
    messages = pa.array([m for _, m in events], pa.string())
    expected = "".join(f"{iso(t)} {m}\n" for t, m in events).encode()
    assert layout.render_lines(stamps, messages).to_pybytes() == expected


def _greedy(sizes: list[int], filled: int, limit: int) -> list[int]:
    cuts, current = [], filled
    for i, size in enumerate(sizes):
        if current > 0 and current + size > limit:
            cuts.append(i)
            current = 0
        current += size
    return cuts


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(26, 400), max_size=60),
    st.integers(0, 500),
    st.integers(30, 1000),
)
def test_split_parts_is_the_greedy_rule(sizes: list[int], filled: int, limit: int) -> None:
    assert layout.split_parts(np.array(sizes, dtype=np.int64), filled, limit) == _greedy(
        sizes, filled, limit
    )


@given(st.lists(st.integers(26, 400), min_size=1, max_size=60), st.integers(1, 59))
def test_split_parts_does_not_depend_on_chunking(sizes: list[int], at: int) -> None:
    """Cutting the event sequence in two and carrying the open part gives the same parts."""
    at = min(at, len(sizes))
    limit = 700
    whole = layout.split_parts(np.array(sizes, dtype=np.int64), 0, limit)
    first = layout.split_parts(np.array(sizes[:at], dtype=np.int64), 0, limit)
    start = first[-1] if first else 0
    filled = sum(sizes[start:at])
    second = layout.split_parts(np.array(sizes[at:], dtype=np.int64), filled, limit)
    assert whole == first + [at + c for c in second]
