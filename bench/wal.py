"""WAL append throughput under each fsync policy, against raw write+fsync of the same bytes.

Concurrent tasks append fixed-size records; each policy's figure counts only appends that
returned (durable). The raw baseline writes the very same framed bytes with one
os.write + os.fsync per record, the naive durable append. Also times the recovery of a
10 MB WAL (R-03 asks < 1 s). Durability is fdatasync where the OS has it, in both.

    python3 bench/wal.py [--quick] [--payload-bytes 200] [--tasks 64]

Last line: RESULT appends_per_s=... mb_per_s=... ratio_vs_raw=... (the default "group").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logd.store.wal import Wal, WalOptions
from logd.store.wal.record import encode_record


async def run_policy(
    directory: Path, policy: str, appends: int, payload: bytes, tasks: int
) -> tuple[float, int]:
    wal, _ = Wal.open(directory, WalOptions(fsync=policy))  # type: ignore[arg-type]
    left = appends

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await wal.append(payload)

    fsyncs = wal.writer.fsyncs
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    elapsed = time.perf_counter() - start
    fsyncs = wal.writer.fsyncs - fsyncs
    await wal.close()
    return elapsed, fsyncs


#: The WAL's own durability call, so that the baseline differs only in batching.
_sync = getattr(os, "fdatasync", os.fsync)


def run_raw(directory: Path, appends: int, payload: bytes) -> float:
    record = encode_record(payload)
    fd = os.open(directory / "raw.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        start = time.perf_counter()
        for _ in range(appends):
            os.write(fd, record)
            _sync(fd)
        return time.perf_counter() - start
    finally:
        os.close(fd)


async def time_recovery(directory: Path, total_bytes: int) -> tuple[float, int]:
    wal, _ = Wal.open(directory, WalOptions())
    payloads = [os.urandom(1000) for _ in range(1000)]
    written = 0
    while written < total_bytes:
        await wal.append_many(payloads)
        written += len(payloads) * 1008
    await wal.close()
    start = time.perf_counter()
    wal, report = Wal.open(directory, WalOptions())
    elapsed = time.perf_counter() - start
    await wal.close()
    return elapsed, report.records


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer appends (< 1 minute)")
    parser.add_argument("--payload-bytes", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=64, help="concurrent appenders")
    args = parser.parse_args()
    appends = 3000 if args.quick else 20000
    payload = os.urandom(args.payload_bytes)
    framed = len(encode_record(payload))
    print(f"{appends} appends of {args.payload_bytes} B from {args.tasks} tasks")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="logd-bench-wal-") as tmp:
        base = Path(tmp)
        raw_s = run_raw(base, appends, payload)
        raw_rate = appends / raw_s
        raw_mb = raw_rate * framed / 1e6
        print(f"{'raw write+fsync':>16}: {raw_rate:10.0f} appends/s  {raw_mb:7.2f} MB/s")
        for policy in ("always", "group", "interval"):
            elapsed, fsyncs = await run_policy(base / policy, policy, appends, payload, args.tasks)
            rate = appends / elapsed
            figures[policy] = rate
            print(
                f"{policy:>16}: {rate:10.0f} appends/s  {rate * framed / 1e6:7.2f} MB/s  "
                f"{fsyncs / appends:.3f} fsyncs/append  x{rate / raw_rate:.1f} vs raw"
            )
        recovery_s, records = await time_recovery(base / "recovery", 10_000_000)
        print(f"recovery of a 10 MB WAL ({records} records): {recovery_s:.3f} s")
    group = figures["group"]
    print(
        f"RESULT appends_per_s={group:.0f} mb_per_s={group * framed / 1e6:.2f} "
        f"ratio_vs_raw={group / raw_rate:.2f} always_appends_per_s={figures['always']:.0f} "
        f"interval_appends_per_s={figures['interval']:.0f} recovery_10mb_s={recovery_s:.3f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
