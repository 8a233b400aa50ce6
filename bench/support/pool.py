"""Realistic messages for the store benchmarks, from the shared generator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GEN = Path(os.environ.get("LOGD_SHARED", str(ROOT / "../shared"))) / "tools/gen_logs.py"
if not GEN.exists():
    GEN = Path("/work/shared/tools/gen_logs.py")


def write_pool(path: Path, lines: int, kind: str = "json") -> None:
    subprocess.run(
        [sys.executable, str(GEN), "--lines", str(lines), "--kind", kind, "--out", str(path)],
        check=True,
        capture_output=True,
    )


def read_pool(path: Path, batch: int = 1) -> list[str]:
    """The pool for batches of `batch` events, each batch within PutLogEvents' 1 MiB.

    A 10,000-event batch leaves 78 bytes per message on average (1,048,576 / 10,000
    - 26), so for large batches each realistic line is cut to its first bytes.
    """
    lines = path.read_text(encoding="utf-8").splitlines()
    limit = 1_048_576 // batch - 26 - 2
    if max(len(line.encode()) for line in lines) <= limit:
        return lines
    return [line.encode()[:limit].decode("utf-8", "ignore") for line in lines]


def take(pool: list[str], k: int, n: int) -> list[str]:
    """Batch number k of size n, cycling through the pool (references, not copies)."""
    start = (k * n) % len(pool)
    out = pool[start : start + n]
    while len(out) < n:
        out += pool[: n - len(out)]
    return out
