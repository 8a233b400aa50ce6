"""Child process: appends numbered lines to several files, rotating them, then reports.

    python -m tests.logd.tail.writer_child DIR --files N --rate LINES_PER_S --seconds S
        [--rotate rename|copytruncate|gzip|mix|none] [--rotate-every S] [--keep K]
        [--multiline] [--holder PID]

Line i of file f: ``src=f<f> seq=<i> <realistic noise from gen_logs.py>``. With
--multiline, some events are stack traces whose every line carries ``evt=`` and the
same src/seq. Rotation by rename shifts name.1 .. name.K (the oldest deleted) and
reopens; copytruncate copies to name.1 and truncates, recording how many lines were
written between the copy and the truncate (the documented loss window); gzip is
logrotate's `compress` without `delaycompress`: rename to name.1 and reopen, then
gzip name.1 to name.1.gz (shifting the older .gz files) and delete name.1. `mix` gives
file f the kind f % 3 (rename, copytruncate, gzip).

For gzip, with --holder (the agent's pid), the writer looks at the holder's open
descriptors just before deleting each name.1: a generation the holder does not have
open then was compressed before the agent got to it (or after it parked it), the
guarantee table's "compressed while logd was lagging"; its seq range is recorded as
`unheld`. Lines of a held generation must all be read through the descriptor.

At the end it writes DIR/expected.json: {"expected": {src: last seq},
"copytruncate_window": n, "kinds": {src: kind}, "rotations": {kind: n},
"unheld": {src: [[first, last], ...]}}.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import shutil
import time
from pathlib import Path

import orjson

from tests.logd.tail.support import shared_tool

KINDS = ("rename", "copytruncate", "gzip")


def _shift(path: Path, keep: int, suffix: str = "") -> None:
    """name.K<suffix> deleted, name.k<suffix> renamed to name.k+1<suffix> (k < K)."""
    path.with_name(f"{path.name}.{keep}{suffix}").unlink(missing_ok=True)
    for k in range(keep - 1, 0, -1):
        older = path.with_name(f"{path.name}.{k}{suffix}")
        if older.exists():
            older.rename(path.with_name(f"{path.name}.{k + 1}{suffix}"))


def _held(pid: int) -> set[str]:
    """The paths `pid` has open (as its /proc fd links name them now)."""
    out: set[str] = set()
    fds = Path(f"/proc/{pid}/fd")
    for fd in os.listdir(fds):
        try:
            out.add(os.readlink(fds / fd))
        except OSError:
            continue  # closed meanwhile
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rotate", default="none", choices=(*KINDS, "mix", "none"))
    ap.add_argument("--rotate-every", type=float, default=2.0)
    ap.add_argument("--keep", type=int, default=5)
    ap.add_argument("--multiline", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--holder", type=int, default=0)
    a = ap.parse_args()
    gen = shared_tool("gen_logs.py").Gen(a.seed, 1_714_521_600_000, 100.0)
    rng = random.Random(a.seed)
    paths = [a.dir / f"app-{i}.log" for i in range(a.files)]
    kinds = [KINDS[f % 3] if a.rotate == "mix" else a.rotate for f in range(a.files)]
    handles = [open(p, "ab", buffering=0) for p in paths]  # noqa: SIM115 -- rotated by hand
    seq = [0] * a.files
    first = [1] * a.files  # the first seq of each file's current generation
    rotations = dict.fromkeys(KINDS, 0)
    unheld: dict[str, list[list[int]]] = {}
    window = 0
    start = time.monotonic()
    next_rotation = start + a.rotate_every
    written = 0
    tick = 0.01
    while (now := time.monotonic()) - start < a.seconds:
        due = int((now - start) * a.rate) - written
        for _ in range(max(due, 0)):
            f = rng.randrange(a.files)
            seq[f] += 1
            if a.multiline and rng.random() < 0.1:
                lines = [f"2024-05-01 00:00:00 ERROR src=f{f} seq={seq[f]} evt={seq[f]} boom"]
                lines += [f"\tat frame{k} evt={seq[f]}" for k in range(rng.randrange(1, 30))]
                data = "\n".join(lines) + "\n"
            else:
                prefix = "2024-05-01 00:00:00 INFO " if a.multiline else ""
                data = f"{prefix}src=f{f} seq={seq[f]} {gen.json_line()}\n"
            handles[f].write(data.encode())
            written += 1
        if a.rotate != "none" and now >= next_rotation:
            next_rotation = now + a.rotate_every
            compress: list[int] = []
            for f, path in enumerate(paths):
                rotations[kinds[f]] += 1
                if kinds[f] == "copytruncate":
                    shutil.copyfile(path, path.with_name(f"{path.name}.1"))
                    os.truncate(path, 0)
                    continue
                handles[f].close()
                if kinds[f] == "rename":
                    _shift(path, a.keep)
                path.rename(path.with_name(f"{path.name}.1"))
                handles[f] = open(path, "ab", buffering=0)  # noqa: SIM115
                if kinds[f] == "gzip":
                    compress.append(f)
            held = _held(a.holder) if compress and a.holder else set()
            for f in compress:
                path, rotated = paths[f], paths[f].with_name(f"{paths[f].name}.1")
                if a.holder and os.path.realpath(rotated) not in held and first[f] <= seq[f]:
                    unheld.setdefault(f"f{f}", []).append([first[f], seq[f]])
                _shift(path, a.keep, ".gz")
                with rotated.open("rb") as src, gzip.open(f"{rotated}.gz", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                rotated.unlink()
            for f in range(a.files):
                if kinds[f] != "copytruncate":
                    first[f] = seq[f] + 1
        time.sleep(tick)
    for h in handles:
        h.close()
    expected_doc = {
        "expected": {f"f{f}": seq[f] for f in range(a.files)},
        "copytruncate_window": window,
        "kinds": {f"f{f}": kinds[f] for f in range(a.files)},
        "rotations": rotations,
        "unheld": unheld,
    }
    (a.dir / "expected.json").write_bytes(orjson.dumps(expected_doc))


if __name__ == "__main__":
    main()
