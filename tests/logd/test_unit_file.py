"""config/logd.service carries what systemd integration needs (expectations O1)."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_unit_is_notify_sandboxed_and_stops_after_the_drain() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(ROOT / "config" / "logd.service")
    service = parser["Service"]
    assert service["Type"] == "notify"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["StateDirectory"] == "logd"
    assert service["DynamicUser"] == "yes"
    assert "check-config" in service["ExecStartPre"]
    stop_s = int(service["TimeoutStopSec"].rstrip("s"))
    from logd.settings import DaemonOptions

    assert stop_s * 1000 > DaemonOptions().shutdown_timeout_ms
