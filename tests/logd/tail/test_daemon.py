"""The agent inside `logd serve`: `[[tail]]` files reach the store (read back over the
API with boto3), their counters reach /metrics, and a restart neither loses nor repeats
a line."""

from __future__ import annotations

import time
import urllib.request

from tests.logd.tail.support import assert_exactly_once
from tests.support.daemon import Daemon


def events(daemon: Daemon, group: str, stream: str = "a.log") -> list[str]:
    """GetLogEvents from the head, following nextForwardToken until it repeats."""
    client = daemon.client()
    out: list[str] = []
    try:
        args = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        token = None
        while True:
            page = client.get_log_events(**args, **({"nextToken": token} if token else {}))
            out += [e["message"] for e in page["events"]]
            if page["nextForwardToken"] == token:
                return out
            token = page["nextForwardToken"]
    except client.exceptions.ResourceNotFoundException:
        return []
    finally:
        client.close()


def wait_events(daemon: Daemon, group: str, n: int) -> list[str]:
    deadline = time.monotonic() + 30
    while len(got := events(daemon, group)) < n:
        assert time.monotonic() < deadline, f"{len(got)} of {n} events"
        time.sleep(0.1)
    return got


def test_serve_tails_files_into_its_store_once_across_restart(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_text("".join(f"src=a seq={i} hello\n" for i in range(1, 101)))
    config = (
        "[agent]\nscan_interval_ms = 100\n\n"
        f'[[tail]]\npaths = ["{logs}/*.log"]\nlog_group = "files"\nlog_stream = "{{filename}}"\n'
    )
    with Daemon(tmp_path / "d", config) as daemon:
        wait_events(daemon, "files", 100)
        with urllib.request.urlopen(f"{daemon.endpoint}/metrics", timeout=10) as resp:  # noqa: S310 -- our own daemon on 127.0.0.1
            text = resp.read().decode()
        assert "logd_tail_stored_events_total 100" in text.splitlines()
        assert daemon.stop() == 0
        with (logs / "a.log").open("a") as fh:  # written while the daemon is down
            fh.write("".join(f"src=a seq={i} hello\n" for i in range(101, 151)))
        daemon.start()
        got = wait_events(daemon, "files", 150)
        client = daemon.client()
        try:
            streams = client.describe_log_streams(logGroupName="files")["logStreams"]
        finally:
            client.close()
        assert [s["logStreamName"] for s in streams] == ["a.log"]  # no `logd-agent` stream
    assert_exactly_once(got, {"a": 150})
