"""`logd agent` ships over signed PutLogEvents (to moto's CloudWatch Logs), at-least-once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import urllib.request
from dataclasses import replace

import boto3
import pytest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from logd.tail.options import agent_from_mapping
from logd.tail.shipper import load_state, run_agent
from tests.logd.tail.support import assert_exactly_once, wait_for
from tests.support.daemon import ANONYMOUS, Daemon


@pytest.fixture
def moto_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def stored(url, group):
    client = boto3.client("logs", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")  # fmt: skip
    return stored_by(client, group)


def stored_by(client, group):
    """Every message of `group`, in FilterLogEvents order ([] if there is no group)."""
    try:
        out = []
        for page in client.get_paginator("filter_log_events").paginate(logGroupName=group):
            out += [e["message"] for e in page["events"]]
        return out
    except client.exceptions.ResourceNotFoundException:
        return []
    finally:
        client.close()


async def run_until(options, predicate):
    task = asyncio.create_task(run_agent(options, credentials=Credentials("k", "s")))
    try:
        await wait_for(lambda: task.done() or predicate(), limit_s=60, what="shipped lines")
        if task.done():
            task.result()
        # The reply that made the lines visible may not have reached the agent yet; a
        # cancel then would resend that batch (at-least-once). Let the emit return.
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_ships_lines_creates_group_and_resumes_from_saved_state(tmp_path, moto_url):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(f"src=a seq={i} shipped\n" for i in range(1, 301)))
    options = agent_from_mapping({
        "agent": {"endpoint_url": moto_url, "state_file": str(tmp_path / "state.json"),
                  "scan_interval_ms": 100},
        "tail": [{"paths": [str(logs / "*.log")], "log_group": "shipped"}],
    })  # fmt: skip
    await run_until(options, lambda: len(stored(moto_url, "shipped")) >= 300)
    assert load_state(tmp_path / "state.json")
    with (logs / "a.log").open("a") as fh:
        fh.write("".join(f"src=a seq={i} shipped\n" for i in range(301, 351)))
    await run_until(options, lambda: len(stored(moto_url, "shipped")) >= 350)
    assert_exactly_once(stored(moto_url, "shipped"), {"a": 350})


def _put_requests(daemon) -> int:
    url = f"{daemon.endpoint}/metrics"  # always http://127.0.0.1:<port>
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - see above
        text = answer.read().decode()
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith('logd_api_requests_total{operation="PutLogEvents",code="200"}')
    )


def _stored_in(daemon, group):
    return stored_by(daemon.client(), group)


async def test_emits_are_batched_per_stream_against_logd_serve_and_resume(tmp_path):
    # Small appends to two files, each read by its own turn: many emits. With a linger
    # of batch_wait_ms they travel in a few PutLogEvents per stream, in order, once.
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("a", "b"):
        (logs / f"{name}.log").touch()
    options = agent_from_mapping({
        "agent": {"state_file": str(tmp_path / "state.json"), "scan_interval_ms": 50,
                  "batch_wait_ms": 1500},
        "tail": [{"paths": [str(logs / "*.log")], "log_group": "batched"}],
    })  # fmt: skip
    with Daemon(tmp_path / "daemon") as daemon:
        options = replace(options, endpoint_url=daemon.endpoint)
        seen: list = []
        ready = asyncio.Event()
        task = asyncio.create_task(
            run_agent(options, credentials=Credentials(*ANONYMOUS), ready=ready,
                      started=lambda agent, shipper: seen.extend([agent, shipper]))
        )  # fmt: skip
        try:
            await asyncio.wait_for(ready.wait(), 30)
            agent, shipper = seen
            seq = {"a": 0, "b": 0}
            for _ in range(15):
                for name in ("a", "b"):
                    with (logs / f"{name}.log").open("a") as fh:
                        for _ in range(4):
                            seq[name] += 1
                            fh.write(f"src={name} seq={seq[name]} batched\n")
                await wait_for(
                    lambda: agent.metrics.get("read_lines_total", 0) >= sum(seq.values()),
                    what="lines read",
                )
            await wait_for(
                lambda: len(_stored_in(daemon, "batched")) >= 120, limit_s=60, what="shipped"
            )
            await asyncio.sleep(0.3)  # the acknowledgement reaches the shipper
            emits = agent.metrics["emits_total"]
            assert emits >= 20  # the lines were read in many turns ...
            requests = shipper.metrics["ship_requests_total"]
            assert requests <= emits // 3  # ... and shipped in few requests
            assert _put_requests(daemon) == requests
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert_exactly_once(_stored_in(daemon, "batched"), {"a": 60, "b": 60})
        # A new run resumes from the saved state: only the new lines are shipped.
        with (logs / "a.log").open("a") as fh:
            fh.write("".join(f"src=a seq={i} batched\n" for i in range(61, 71)))
        task = asyncio.create_task(run_agent(options, credentials=Credentials(*ANONYMOUS)))
        try:
            await wait_for(
                lambda: task.done() or len(_stored_in(daemon, "batched")) >= 130,
                limit_s=60, what="resumed lines",
            )  # fmt: skip
            if task.done():
                task.result()
            await asyncio.sleep(0.3)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert_exactly_once(_stored_in(daemon, "batched"), {"a": 70, "b": 60})
