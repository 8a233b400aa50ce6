"""`logd agent` ships over signed PutLogEvents (to moto's CloudWatch Logs), at-least-once."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import boto3
import pytest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from logd.tail.options import agent_from_mapping
from logd.tail.shipper import load_state, run_agent
from tests.logd.tail.support import assert_exactly_once, wait_for


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
