"""Child process: appends numbered lines to several files, rotating them, then reports.

    python -m tests.logd.tail.writer_child DIR --files N --rate LINES_PER_S --seconds S
        [--rotate rename|copytruncate|none] [--rotate-every S] [--keep K] [--multiline]

Line i of file f: ``src=f<f> seq=<i> <realistic noise from gen_logs.py>``. With
--multiline, some events are stack traces whose every line carries ``evt=`` and the
same src/seq. Rotation by rename shifts name.1 .. name.K (the oldest deleted) and
reopens; copytruncate copies to name.1 and truncates, recording how many lines were
written between the copy and the truncate (the documented loss window). At the end it
writes DIR/expected.json: {src: last seq} and {"copytruncate_window": n}.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import time
from pathlib import Path

import orjson

from tests.logd.tail.support import shared_tool


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rotate", default="none")
    ap.add_argument("--rotate-every", type=float, default=2.0)
    ap.add_argument("--keep", type=int, default=5)
    ap.add_argument("--multiline", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    gen = shared_tool("gen_logs.py").Gen(a.seed, 1_714_521_600_000, 100.0)
    rng = random.Random(a.seed)
    paths = [a.dir / f"app-{i}.log" for i in range(a.files)]
    handles = [open(p, "ab", buffering=0) for p in paths]  # noqa: SIM115 -- rotated by hand
    seq = [0] * a.files
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
            for f, path in enumerate(paths):
                if a.rotate == "rename":
                    handles[f].close()
                    oldest = path.with_name(f"{path.name}.{a.keep}")
                    oldest.unlink(missing_ok=True)
                    for k in range(a.keep - 1, 0, -1):
                        older = path.with_name(f"{path.name}.{k}")
                        if older.exists():
                            older.rename(path.with_name(f"{path.name}.{k + 1}"))
                    path.rename(path.with_name(f"{path.name}.1"))
                    handles[f] = open(path, "ab", buffering=0)  # noqa: SIM115
                else:
                    shutil.copyfile(path, path.with_name(f"{path.name}.1"))
                    os.truncate(path, 0)
        time.sleep(tick)
    for h in handles:
        h.close()
    expected = {f"f{f}": seq[f] for f in range(a.files)}
    expected_doc = {"expected": expected, "copytruncate_window": window}
    (a.dir / "expected.json").write_bytes(orjson.dumps(expected_doc))


if __name__ == "__main__":
    main()
