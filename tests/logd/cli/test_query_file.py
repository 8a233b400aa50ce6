"""`logd query --file`: Insights over a plain file, no daemon, as a real child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

LINES = [
    '{"timestamp":"2024-05-01T10:00:00Z","level":"INFO","ms":5,"user":"ann"}',
    '{"timestamp":"2024-05-01T10:00:01Z","level":"ERROR","ms":7,"user":"bob"}',
    '{"timestamp":"2024-05-01T10:00:02Z","level":"ERROR","ms":9,"user":"ann"}',
    "a plain text line",
]


def logd(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "logd", "query", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stats_over_a_file_as_jsonl(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("\n".join(LINES) + "\n")
    done = logd(
        "--file",
        str(log),
        "filter ispresent(level) | stats count(*) as n, sum(ms) as total by level",
        "-o",
        "jsonl",
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows == [
        {"level": "ERROR", "n": "2", "total": "16"},
        {"level": "INFO", "n": "1", "total": "5"},
    ]
    assert "2 rows; 3 records matched, 4 scanned" in done.stderr


def test_time_range_limit_and_truncation_warning(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("\n".join(LINES) + "\n")
    done = logd(
        "--file", str(log), "fields user | sort @timestamp asc", "--start", "2024-05-01 10:00:01",
        "--end", "2024-05-01 10:00:02", "--limit", "1", "-o", "csv",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["user", "bob"]
    assert "from 2024-05-01T10:00:01.000+00:00 to 2024-05-01T10:00:02.000+00:00" in done.stderr
    assert "warning: results truncated at 1 rows" in done.stderr


def test_malformed_query_shows_the_caret(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text(LINES[0] + "\n")
    done = logd("--file", str(log), "filter level =")
    assert done.returncode == 1
    assert "line 1, column 15:" in done.stderr
    assert "filter level =\n              ^" in done.stderr
    assert done.stdout == ""
