"""Tail agent throughput: a writer appends realistic lines to 1, 10 and 100 files while the
agent tails them into the REAL store (`Store` on a temporary data directory, fsync
"group", through `logd.tail.store_sink.StoreSink`), as inside the daemon.

    python3 bench/tail.py [--quick] [--sink store|log] [--no-rsyslog] [--lines N] [--files 1,10]

`--sink log` uses the tests' file-backed DurableLog instead (the emit seam alone).

Two phases per file count:
- throughput: the writer appends as fast as it can; lines/s and MB/s from the first
  write until every line is stored, agent CPU seconds per million lines over that time
  and, as "sealed", until every line is also sealed into segments (sealing runs below
  ingest's priority, so part of it may come after the last line is stored);
- delay: the writer appends at a fixed rate well below capacity (`--rate` lines/s,
  spread over the files) with a probe line stamped every few milliseconds; the delay
  from the probe's write until `emit` returns, which is when the batch is durable and in
  the memtable, i.e. visible to queries (p50/p99). Measured under the throughput phase
  this would only be the backlog's age: that phase's writer outruns any reader.

rsyslog baseline (if `rsyslogd` is installed): the bench starts its own rsyslogd with
its own config and work directory (imfile in inotify mode -> omfile, `%msg%` only),
never the system instance; the same writer moves the same lines from one file to
another file, timed the same way. ratio_vs_rsyslog = our one-file lines/s / rsyslog's.
Last line: RESULT lines_per_s=... ratio_vs_rsyslog=... cpu_s_per_mline=... p99_visible_ms=...
(of the one-file runs: the goal is >= 300,000 lines/s from one file, >= 2.5x rsyslog).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logd.clock import SystemClock  # noqa: E402 -- after the sys.path line above
from logd.store.options import StoreOptions  # noqa: E402
from logd.store.store import Store  # noqa: E402
from logd.tail.agent import TailAgent  # noqa: E402
from logd.tail.options import agent_from_mapping  # noqa: E402
from logd.tail.store_sink import StoreSink  # noqa: E402
from logd.threads import tune_interpreter  # noqa: E402
from tests.logd.tail.support import DurableLog, shared_tool  # noqa: E402


def pool(n: int) -> list[bytes]:
    gen = shared_tool("gen_logs.py").Gen(1, 1_714_521_600_000, 100.0)
    return [(gen.json_line() + "\n").encode() for _ in range(n)]


def writer(
    paths: list[str], lines: int, sample: list[bytes], start: float, rate: float = 0.0
) -> None:
    """Append `lines` lines round-robin over `paths` in chunks ending in a probe line;
    as fast as possible, or at `rate` lines/s (small chunks, each probe stamped)."""
    handles = [open(p, "ab", buffering=0) for p in paths]  # noqa: SIM115 -- closed below
    while time.time() < start:
        time.sleep(0.001)
    written = 0
    i = 0
    batch = 2000 if not rate else max(2, int(rate * 0.005))  # paced: a probe per ~5 ms
    t0 = time.perf_counter()
    while written < lines:
        for h in handles:
            n = min(batch, lines - written)
            if n <= 0:
                break
            chunk = sample[i : i + n - 1] if i + n - 1 <= len(sample) else sample[: n - 1]
            i = (i + n) % (len(sample) - batch)
            probe = f"probe={time.time_ns()}\n".encode()
            h.write(b"".join(chunk) + probe)
            written += n
        if rate:
            ahead = t0 + written / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        else:
            time.sleep(0.0005)
    for h in handles:
        h.close()


async def run(
    files: int, lines: int, sample: list[bytes], sink_kind: str, rate: float = 0.0
) -> dict[str, float]:
    """One phase: `lines` lines into `files` files, as fast as possible or at `rate`."""
    tmp = Path(tempfile.mkdtemp(prefix="logd-tail-bench-"))
    try:
        logs = tmp / "logs"
        logs.mkdir()
        paths = [str(logs / f"f{i}.log") for i in range(files)]
        for p in paths:
            os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
        store: Store | None = None
        log: DurableLog | None = None
        if sink_kind == "store":
            store = await Store.open(tmp / "data", StoreOptions(), SystemClock())
            inner = StoreSink(store).emit
        else:
            log = DurableLog(tmp / "durable.log")
            inner = log.emit
        count = 0
        nbytes = 0
        delays: list[float] = []
        done = asyncio.Event()

        async def emit(group, stream, events, checkpoint):  # type: ignore[no-untyped-def]
            nonlocal count, nbytes
            await inner(group, stream, events, checkpoint)
            count += len(events)
            if rate:  # only the delay phase looks at messages (a pass per line)
                now = time.time_ns()
                for m in events.messages:
                    if m[:6] == "probe=":
                        delays.append((now - int(m[6:])) / 1e6)
            if count >= lines:
                done.set()

        options = agent_from_mapping(
            {
                "agent": {"scan_interval_ms": 200},
                "tail": [{"paths": [str(logs / "*.log")], "log_group": "bench"}],
            }
        )
        agent = TailAgent(options, emit, {}, SystemClock())
        task = asyncio.create_task(agent.run())
        await agent.first_scan_done.wait()
        start = time.time() + 2.0  # the spawned writer imports this module first
        proc = mp.get_context("spawn").Process(
            target=writer, args=(paths, lines, sample, start, rate)
        )
        proc.start()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        await asyncio.sleep(max(start - time.time(), 0))
        t0 = time.perf_counter()
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        proc.join()
        sealed_cpu = float("nan")
        if store is not None:
            # Sealing runs below ingest's priority and may finish after the last line is
            # stored: the CPU of sealing everything is counted separately.
            await store.seal_now()
            cpu2 = resource.getrusage(resource.RUSAGE_SELF)
            sealed_cpu = (cpu2.ru_utime - cpu0.ru_utime) + (cpu2.ru_stime - cpu0.ru_stime)
            stored = sum(b.num_rows for b in store.scan(["bench"], 0, 2**62))
            assert stored >= lines, f"only {stored} of {lines} lines in the store"
            await store.close()
        if log is not None:
            log.close()
        nbytes = sum(len(line) for line in sample) * lines // len(sample)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        delays.sort()
        return {
            "lines_per_s": lines / elapsed,
            "mb_per_s": nbytes / elapsed / 1e6,
            "cpu_s_per_mline": cpu / lines * 1e6,
            "sealed_cpu_s_per_mline": sealed_cpu / lines * 1e6,
            "p50_ms": delays[len(delays) // 2] if delays else float("nan"),
            "p99_ms": delays[int(len(delays) * 0.99)] if delays else float("nan"),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


RSYSLOG_CONF = """
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
template(name="msgonly" type="string" string="%msg%\\n")
input(type="imfile" file="{src}" tag="bench" ruleset="bench" freshStartTail="off")
ruleset(name="bench") {{
  action(type="omfile" file="{dst}" template="msgonly")
}}
"""


def rsyslog_run(lines: int, sample: list[bytes]) -> dict[str, float] | str:
    """rsyslog imfile -> omfile, one file to one file: lines/s, or why it could not run."""
    exe = shutil.which("rsyslogd")
    if exe is None:
        return "rsyslogd is not installed (apt-get install rsyslog)"
    tmp = Path(tempfile.mkdtemp(prefix="logd-tail-bench-rsyslog-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        work, src, dst = tmp / "work", tmp / "in.log", tmp / "out.log"
        work.mkdir()
        src.touch()
        conf = tmp / "rsyslog.conf"
        conf.write_text(RSYSLOG_CONF.format(work=work, src=src, dst=dst))
        check = subprocess.run(
            [exe, "-N1", "-f", str(conf)], capture_output=True, text=True, check=False
        )
        if check.returncode != 0:
            return f"rsyslogd refused the bench config: {check.stderr.strip()[-200:]}"
        # -n: foreground; -i: our own pid file; -f: our config only (no system sockets).
        proc = subprocess.Popen(
            [exe, "-n", "-i", str(tmp / "rsyslogd.pid"), "-f", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # imfile picks the (empty) file up
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            return f"rsyslogd exited at once: {err.strip()[-200:]}"
        start = time.time() + 2.0
        w = mp.get_context("spawn").Process(target=writer, args=([str(src)], lines, sample, start))
        w.start()
        cpu0 = _child_cpu(proc.pid)
        while time.time() < start:
            time.sleep(0.001)
        t0 = time.perf_counter()
        seen, offset = 0, 0
        deadline = t0 + 600
        while seen < lines and time.perf_counter() < deadline:
            if dst.exists():
                with dst.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read()
                offset += len(data)
                seen += data.count(b"\n")
            if seen < lines:
                time.sleep(0.005)
        elapsed = time.perf_counter() - t0
        cpu = _child_cpu(proc.pid) - cpu0
        w.join()
        if seen < lines:
            return f"rsyslog moved only {seen} of {lines} lines in 600 s"
        return {"lines_per_s": lines / elapsed, "cpu_s_per_mline": cpu / lines * 1e6}
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _child_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    ap.add_argument("--sink", choices=("store", "log"), default="store")
    ap.add_argument("--rate", type=float, default=50_000, help="delay phase, lines/s")
    ap.add_argument("--no-rsyslog", action="store_true", help="skip the rsyslog baseline")
    ap.add_argument(
        "--lines",
        type=int,
        default=None,
        help="lines per throughput phase (default 2,000,000; --quick 300,000); runs longer "
        "than the sealer's pace (about 1,000,000 lines) show the sustained rate",
    )
    ap.add_argument("--files", default="1,10,100", help="file counts to run, comma-separated")
    a = ap.parse_args()
    lines = a.lines or (300_000 if a.quick else 2_000_000)
    paced = int(a.rate * (2 if a.quick else 5))
    sample = pool(20_000 if a.quick else 60_000)
    tune_interpreter()  # as `logd serve` does, on the daemon's event loop (uvloop)
    results = {}
    counts = [int(x) for x in a.files.split(",")]
    if 1 not in counts:
        ap.error("--files must include 1 (the RESULT line reports the one-file run)")
    for files in counts:
        r = uvloop.run(run(files, lines, sample, a.sink))
        d = uvloop.run(run(files, paced, sample, a.sink, rate=a.rate))
        results[files] = r | {"p50_ms": d["p50_ms"], "p99_ms": d["p99_ms"]}
        print(
            f"files={files:<4} lines={lines} lines/s={r['lines_per_s']:,.0f} "
            f"MB/s={r['mb_per_s']:.1f} cpu_s/Mline={r['cpu_s_per_mline']:.2f} "
            f"(sealed: {r['sealed_cpu_s_per_mline']:.2f}) "
            f"| at {a.rate:,.0f} lines/s: p50_ms={d['p50_ms']:.1f} p99_ms={d['p99_ms']:.1f}"
        )
    one = results[1]
    ratio = "nan"
    if a.no_rsyslog:
        print("rsyslog baseline skipped (--no-rsyslog): ratio_vs_rsyslog=nan")
    else:
        rs = rsyslog_run(lines, sample)
        if isinstance(rs, str):
            print(f"no rsyslog baseline: {rs} (ratio_vs_rsyslog=nan)")
        else:
            ratio = f"{one['lines_per_s'] / rs['lines_per_s']:.2f}"
            print(
                f"rsyslog imfile->omfile files=1 lines={lines} "
                f"lines/s={rs['lines_per_s']:,.0f} cpu_s/Mline={rs['cpu_s_per_mline']:.2f}"
            )
    print(
        f"RESULT lines_per_s={one['lines_per_s']:.0f} ratio_vs_rsyslog={ratio} "
        f"cpu_s_per_mline={one['cpu_s_per_mline']:.2f} p99_visible_ms={one['p99_ms']:.1f} "
        f"sealed_cpu_s_per_mline={one['sealed_cpu_s_per_mline']:.2f}"
    )


if __name__ == "__main__":
    main()
