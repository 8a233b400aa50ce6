"""Fixtures for the API's end-to-end tests: one real `logd serve` per test module."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.daemon import Daemon

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """An anonymous (auth = "none") daemon shared by the tests of one module."""
    folder = tmp_path_factory.mktemp("logd")
    with Daemon(folder, f'[export]\ndefault_root = "{folder / "exports"}"\n') as running:
        yield running


@pytest.fixture
def logs(daemon: Daemon) -> Any:
    return daemon.client()


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> str:
    """A log group name of this test's own (tests share a daemon)."""
    return "t/" + re.sub(r"[^A-Za-z0-9_.#/-]", "-", request.node.name)[:80]


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    """(code, message) of the ClientError `call(**kwargs)` must raise."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000
