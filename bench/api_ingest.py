"""PutLogEvents throughput: N concurrent clients against `logd serve`, then moto_server.

`--client raw` (the default) sends request bodies serialized before the clock starts
over one keep-alive HTTP connection per client, so the figure is the server's, not
boto3's serializer; `--client boto3` measures what a boto3 shipper sees.

Each client sends batches of realistic events (shared/tools/gen_logs.py), as many as
fit PutLogEvents' limits (10,000 events, 1 MiB counting 26 bytes per event), to its own
stream. Prints events/s, p50/p99 batch latency and server RSS for both servers;
the last line is ``RESULT events_per_s=... p99_ms=... ratio_vs_moto=... rss_mb=...``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import orjson
import psutil
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("LOGD_SHARED", "/work/shared"))
#: both servers run without authentication; clients still sign with something
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def realistic_lines(n: int) -> list[str]:
    """`n` messages from shared/tools/gen_logs.py (mixed JSON and text lines)."""
    tool = SHARED / "tools" / "gen_logs.py"
    made = subprocess.run(
        [sys.executable, str(tool), "--lines", str(n), "--kind", "mixed"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in made.stdout.splitlines() if line]
    return (lines * (n // max(len(lines), 1) + 1))[:n]


def batches_of(lines: list[str]) -> list[list[str]]:
    """`lines` cut into PutLogEvents-sized batches (<= 10,000 events, <= 1 MiB)."""
    out: list[list[str]] = [[]]
    size = 0
    for line in lines:
        cost = len(line.encode()) + 26
        if len(out[-1]) == 10_000 or size + cost > 1_048_576:
            out.append([])
            size = 0
        out[-1].append(line)
        size += cost
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(port)


def raw_sender(endpoint: str, n: int, batches: int, lines: list[list[str]]) -> Any:
    """A callable sending client `n`'s i-th pre-serialized batch; returns its size."""
    port = int(endpoint.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t = int(time.time() * 1000)
    bodies = []
    for i in range(batches):
        batch = lines[(n + i) % len(lines)]
        events = [{"timestamp": t, "message": m} for m in batch]
        body = {"logGroupName": "bench", "logStreamName": f"c{n}", "logEvents": events}
        bodies.append((orjson.dumps(body), len(batch)))
    headers = {
        "X-Amz-Target": "Logs_20140328.PutLogEvents",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/logs/"
        "aws4_request, SignedHeaders=host, Signature=0",
    }

    def send(i: int) -> int:
        body, count = bodies[i]
        connection.request("POST", "/", body=body, headers=headers)
        answer = connection.getresponse()
        reply = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"HTTP {answer.status}: {reply[:200]!r}")
        return count

    send.close = connection.close  # type: ignore[attr-defined]
    return send


def boto3_sender(client: Any, n: int, lines: list[list[str]]) -> Any:
    def send(i: int) -> int:
        batch = lines[(n + i) % len(lines)]
        t = int(time.time() * 1000)
        events = [{"timestamp": t, "message": m} for m in batch]
        client.put_log_events(logGroupName="bench", logStreamName=f"c{n}", logEvents=events)
        return len(batch)

    send.close = lambda: None  # type: ignore[attr-defined]
    return send


def run_load(
    endpoint: str, pid: int, clients: int, batches: int, lines: list[list[str]], mode: str
) -> dict[str, Any]:
    def logs() -> Any:
        config = Config(retries={"max_attempts": 0}, max_pool_connections=4)
        return boto3.client(
            "logs", endpoint_url=endpoint, region_name="us-east-1", config=config, **CREDENTIALS
        )

    setup = logs()
    setup.create_log_group(logGroupName="bench")
    for n in range(clients):
        setup.create_log_stream(logGroupName="bench", logStreamName=f"c{n}")
    latencies: list[float] = []
    failures: list[BaseException] = []
    sent = [0] * clients
    lock = threading.Lock()

    # made up front: a boto3 session is not thread-safe, and bodies are built off the clock
    senders = [
        raw_sender(endpoint, n, batches, lines) if mode == "raw" else boto3_sender(logs(), n, lines)
        for n in range(clients)
    ]

    def worker(n: int) -> None:
        try:
            for i in range(batches):
                start = time.perf_counter()
                count = senders[n](i)
                with lock:
                    latencies.append(time.perf_counter() - start)
                sent[n] += count
        except BaseException as exc:
            failures.append(exc)
        finally:
            senders[n].close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} clients failed") from failures[0]
    latencies.sort()
    rss = psutil.Process(pid).memory_info().rss / 2**20
    return {
        "events_per_s": sum(sent) / elapsed,
        "batch_events": statistics.mean(len(b) for b in lines),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--client", choices=("raw", "boto3"), default="raw")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.batches = 2, 5
    lines = batches_of(realistic_lines(40_000))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = {}
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        logd = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "logd",
                "serve",
                "--data-dir",
                data,
                "--listen",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)
            results["logd"] = run_load(
                f"http://127.0.0.1:{port}", logd.pid, args.clients, args.batches, lines, args.client
            )
        finally:
            logd.terminate()
            logd.wait(30)
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        results["moto"] = run_load(
            f"http://127.0.0.1:{port}", moto.pid, args.clients, args.batches, lines, args.client
        )
    finally:
        moto.terminate()
        moto.wait(30)
    for name, r in results.items():
        print(
            f"{name} ({args.client} clients x{args.clients}, {r['batch_events']:.0f} events a "
            f"batch): {r['events_per_s']:.0f} events/s, p50 {r['p50_ms']:.1f} ms, "
            f"p99 {r['p99_ms']:.1f} ms, rss {r['rss_mb']:.0f} MB"
        )
    ours = results["logd"]
    ratio = ours["events_per_s"] / results["moto"]["events_per_s"]
    print(
        f"RESULT events_per_s={ours['events_per_s']:.0f} p99_ms={ours['p99_ms']:.1f} "
        f"ratio_vs_moto={ratio:.2f} rss_mb={ours['rss_mb']:.0f} client={args.client}"
    )


if __name__ == "__main__":
    main()
