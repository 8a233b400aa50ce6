"""The shared conformance cases, read as they are from /work/shared (or $LOGD_SHARED)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

_REPO = Path(__file__).resolve().parents[3]


def shared_dir() -> Path:
    env = os.environ.get("LOGD_SHARED")
    if env:
        return Path(env)
    sibling = _REPO.parent.parent / "shared"  # /work/wt/<name> -> /work/shared
    return sibling if sibling.is_dir() else Path("/work/shared")


CASES_PATH = shared_dir() / "conformance" / "filter_patterns.json"


def load_cases() -> list[dict[str, Any]]:
    if not CASES_PATH.is_file():
        return []
    data = json.loads(CASES_PATH.read_text(encoding="utf-8"))
    assert data["version"] == 1
    cases: list[dict[str, Any]] = data["cases"]
    return cases


CASES = load_cases()
needs_cases = pytest.mark.skipif(not CASES, reason=f"conformance file absent: {CASES_PATH}")


def case_params(cases: list[dict[str, Any]]) -> list[Any]:
    """pytest params with the case id as test id; one placeholder when the file is absent."""
    if not cases:
        return [pytest.param(None, id="no-conformance-file")]
    return [pytest.param(c, id=c["id"]) for c in cases]
