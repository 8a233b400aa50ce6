"""R-11 (block): a subscription's webhook answers 503, so its cursor holds the WAL until
`wal_max_bytes` is reached under `wal_on_full = "block"`. PutLogEvents on a real
`logd serve` then answers ServiceUnavailableException at once (never hangs, never 200
for a batch it did not store); once the endpoint recovers, the WAL drains and every
acknowledged event reaches both the store and the webhook, once, in order."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ReadTimeoutError

from tests.support.daemon import Daemon
from tests.support.webhook import Reply, WebhookServer

BODY = "y" * 60_000


def put(client: Any, n: int) -> str:
    """One 60 kB event tagged `n`: "" when stored, else the error code or "timeout"."""
    event = [{"timestamp": int(time.time() * 1000), "message": f"n={n} {BODY}"}]
    try:
        client.put_log_events(logGroupName="app", logStreamName="s", logEvents=event)
    except client.exceptions.ClientError as exc:
        return str(exc.response["Error"]["Code"])
    except ReadTimeoutError:
        return "timeout"
    return ""


def stored(client: Any) -> list[str]:
    out: list[str] = []
    token = None
    while True:
        page = client.get_log_events(
            logGroupName="app", logStreamName="s", startFromHead=True,
            **({"nextToken": token} if token else {}),
        )  # fmt: skip
        out += [e["message"].split(" ", 1)[0] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


async def wait_until(predicate: Any, what: str, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s  # a liveness bound, not a timed assertion
    while not await asyncio.to_thread(predicate):
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


async def test_a_full_wal_refuses_puts_then_delivers_everything(
    tmp_path: Path, webhook_server: WebhookServer
) -> None:
    webhook_server.reply(*[Reply(503)] * 100_000)  # down until the script is cleared
    config = (
        "[store]\nwal_segment_bytes = 262_144\nwal_max_bytes = 1_048_576\n"
        'wal_group_commit_bytes = 262_144\nwal_on_full = "block"\n\n'
        "[subscriptions]\nretry_base_ms = 20\nretry_cap_ms = 100\nbatch_max_wait_ms = 10\n\n"
        f'[sinks.hook]\ntype = "webhook"\nurl = "{webhook_server.url}"\nallow_insecure = true\n'
        'rendering = "ndjson"\n'
    )
    daemon = Daemon(tmp_path, config)
    await asyncio.to_thread(daemon.start)
    try:
        logs = daemon.client(retries=0, read_timeout=3)  # one attempt per put
        await asyncio.to_thread(logs.create_log_group, logGroupName="app")
        await asyncio.to_thread(logs.create_log_stream, logGroupName="app", logStreamName="s")
        await asyncio.to_thread(
            logs.put_subscription_filter, logGroupName="app", filterName="all",
            filterPattern="", destinationArn="arn:logd:sink:us-east-1:123456789012:hook",
        )  # fmt: skip
        acked: list[str] = []
        outcomes: dict[int, str] = {}
        for n in range(200):  # 12 MB offered to a 1 MiB WAL
            outcomes[n] = await asyncio.to_thread(put, logs, n)
            if outcomes[n] == "":
                acked.append(f"n={n}")
            elif outcomes[n] == "ServiceUnavailableException":
                break
        # The put that found the WAL full waits inside the store (its client gave up: no
        # answer, so it may be stored or not); every later one is refused at once.
        unanswered = {f"n={n}" for n, outcome in outcomes.items() if outcome == "timeout"}
        assert len(unanswered) <= 1, outcomes
        assert outcomes[n] == "ServiceUnavailableException", outcomes
        assert set(outcomes.values()) <= {"", "timeout", "ServiceUnavailableException"}
        assert 0 < len(acked) < 200
        webhook_server._script.clear()  # the endpoint recovers
        await wait_until(lambda: put(logs, 1000) == "", "a put after the recovery")
        acked.append("n=1000")
        await wait_until(  # the last acknowledged event arrives last
            lambda: any(m.startswith("n=1000 ") for _, m in webhook_server.delivered()),
            "delivery",
        )
        delivered = [message.split(" ", 1)[0] for _, message in webhook_server.delivered()]
        assert [d for d in delivered if d not in unanswered] == acked
        assert len(delivered) - len(acked) <= len(unanswered)
        in_store = await asyncio.to_thread(stored, logs)
        assert [m for m in in_store if m not in unanswered] == acked
        assert in_store == delivered
        logs.close()
    finally:
        await asyncio.to_thread(daemon.stop)
