"""`logd check-config` as a real subprocess: exit codes and every problem with its line."""

from __future__ import annotations

import importlib.util
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


def test_every_kind_of_problem_is_listed_at_once(tmp_path: Path) -> None:
    """I-10: unknown key, wrong type, invalid regex, strftime and zone, a missing sink
    plugin and a missing codec library, all in one run, each with its key path and line."""
    path = tmp_path / "bad.toml"
    path.write_text(
        f'[daemon]\ndata_dir = "{tmp_path / "data"}"\n\n'  # 1-2
        '[agent]\nmax_open_files = "many"\nscan_intervl_ms = 5\n\n'  # 4-6
        '[[tail]]\npaths = ["/x/*.log"]\nlog_group = "a"\nmultiline_start_pattern = "(open"\n\n'
        '[[tail]]\npaths = ["/x/*.log"]\nlog_group = "b"\ntimestamp_format = "%Y-%Q"\n\n'
        '[[tail]]\npaths = ["/x/*.log"]\nlog_group = "c"\ntimezone = "Nowhere/City"\n\n'
        '[sinks.w]\ntype = "nosuchplugin"\n\n'  # 23-24
        '[sinks.k]\ntype = "kafka"\nbootstrap_servers = ["127.0.0.1:9"]\ntopic = "t"\n'
        'compression = "lz4"\n'  # 26-30
    )
    result = run(str(path))
    assert result.returncode == 1
    lines = [line.removeprefix(f"{path}: ") for line in result.stderr.splitlines()]
    expected = [
        "agent.max_open_files, line 5: expected an integer, got string 'many'",
        "agent.scan_intervl_ms, line 6: unknown key 'scan_intervl_ms' in [agent]",
        "tail[0].multiline_start_pattern, line 11: not a valid RE2 pattern (missing ): (open)",
        "tail[1].timestamp_format, line 16: unsupported directive %Q in '%Y-%Q'",
        "tail[2].timezone, line 21: unknown time zone 'Nowhere/City'",
        "sinks.w.type, line 24: no sink type 'nosuchplugin'",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, lines)
    codec = importlib.util.find_spec("cramjam") is None
    if codec:
        assert "sinks.k.compression, line 30: 'lz4' needs the cramjam package" in lines[-2]
    assert lines[-1] == f"{len(expected) + codec} problems"
    assert "Traceback" not in result.stderr


def test_duplicate_keys_give_their_line(tmp_path: Path) -> None:
    """I-10: TOML itself refuses a duplicate key; check-config says where, exit 1."""
    path = tmp_path / "dup.toml"
    path.write_text('[api]\nlisten = "127.0.0.1:1"\n\n[store]\nfsync = "group"\nfsync = "always"\n')
    result = run(str(path))
    assert result.returncode == 1
    assert "line 6" in result.stderr.splitlines()[0]


def test_self_tailing_globs_are_warned_about(tmp_path: Path) -> None:
    """I-10: a tail glob reaching into the data directory is a warning, not an error."""
    data = tmp_path / "data"
    path = tmp_path / "self.toml"
    path.write_text(
        f'[daemon]\ndata_dir = "{data}"\n\n'
        f'[[tail]]\npaths = ["{tmp_path}/*.log", "{tmp_path}/**"]\nlog_group = "a"\n\n'
        f'[[tail]]\npaths = ["{tmp_path}/*"]\nlog_group = "b"\n'
    )
    result = run(str(path))
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.splitlines()
    assert len(warnings) == 1, warnings  # `*` does not reach into data/, `**` does
    assert warnings[0].startswith(f"{path}: warning: tail[0].paths[1], line 5: ")
    assert "matches files in the data directory" in warnings[0]
