"""Shared helpers for the store tests: a store on a temp dir with a manual clock."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from logd.clock import ManualClock
from logd.model import InputEvents
from logd.store.options import StoreOptions
from logd.store.store import Store

ROOT = Path(__file__).resolve().parents[3]
NOW = 1_700_000_000_000
GEN_LOGS = Path(os.environ.get("LOGD_SHARED", str(ROOT / "../shared"))) / "tools/gen_logs.py"
if not GEN_LOGS.exists():
    GEN_LOGS = Path("/work/shared/tools/gen_logs.py")

#: Background work never runs on its own in tests unless a test asks for it.
QUIET = {
    "seal_interval_ms": 3_600_000,
    "retention_sweep_interval_ms": 3_600_000,
    "segment_delete_grace_ms": 0,
}


async def open_store(path: Path, clock: ManualClock, **options: object) -> Store:
    merged = {**QUIET, **options}
    return await Store.open(path, StoreOptions(**merged), clock)  # type: ignore[arg-type]


async def make_group(store: Store, group: str = "g", *streams: str, **kw: object) -> None:
    store.catalog.create_group(group, now_ms=store.clock.now_ms(), **kw)  # type: ignore[arg-type]
    for stream in streams or ("s",):
        store.catalog.create_stream(group, stream, now_ms=store.clock.now_ms())


def batch(timestamps: list[int], prefix: str = "m") -> InputEvents:
    return InputEvents(list(timestamps), [f"{prefix}-{i}" for i in range(len(timestamps))])


def rows(store: Store, groups: list[str], **kw: object) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for b in store.scan(groups, 0, 2**62, **kw):  # type: ignore[arg-type]
        out += b.to_pylist()
    return sorted(out, key=lambda r: (str(r.get("group")), int(r.get("seq") or 0)))


def realistic(lines: int, kind: str = "json", seed: int = 1) -> list[str]:
    """Lines from the shared generator (deterministic)."""
    out = subprocess.run(
        [sys.executable, str(GEN_LOGS), "--lines", str(lines), "--kind", kind, "--seed", str(seed)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.splitlines()
