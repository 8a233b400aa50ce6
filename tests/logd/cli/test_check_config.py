"""`logd check-config` as a real subprocess: exit codes and every problem with its line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "logd", "check-config", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_shipped_configs_are_ok() -> None:
    for name in ("logd.toml", "logd.example.toml"):
        result = run(str(ROOT / "config" / name))
        assert result.returncode == 0, result.stderr


def test_bad_config_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[api]\nlisen = "x"\nauth = 3\n\n[telemetry]\nlog_level = "loud"\n')
    result = run(str(path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert any(
        "api.lisen, line 2: unknown key 'lisen' in [api]; allowed: account_id" in line
        for line in lines
    )
    assert any(
        "api.auth, line 3: 'none' is not" not in line and "api.auth, line 3" in line
        for line in lines
    )
    assert any("telemetry.log_level, line 6: 'loud' is not one of" in line for line in lines)
    assert lines[-1].endswith("3 problems")


def test_schema_output_matches_the_shipped_file() -> None:
    result = run("--schema")
    assert result.returncode == 0
    assert result.stdout == (ROOT / "config" / "schema.json").read_text()
