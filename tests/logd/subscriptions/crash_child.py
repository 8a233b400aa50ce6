"""The process R-10 kills: a store and a subscription service delivering to Kafka.

    python -m tests.logd.subscriptions.crash_child DATA_DIR BOOTSTRAP TOPIC EVENTS

Creates group `g` (streams `a`, `b`) and the filter on first run, then appends EVENTS
events in batches of 4 alternating streams, printing `ACK <stream> <first seq> <n>`
after each durable append, then `DONE`; it keeps delivering until SIGTERM (graceful
close) or SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

from logd.clock import SystemClock
from logd.model import InputEvents, Scope
from logd.store.options import StoreOptions
from logd.store.store import Store
from logd.subscriptions.options import SubscriptionOptions
from logd.subscriptions.service import SubscriptionService

OPTIONS = SubscriptionOptions(
    batch_max_events=50,
    batch_max_wait_ms=20,
    retry_base_ms=50,
    retry_cap_ms=300,
    send_timeout_ms=3_000,
    commit_interval_ms=20,
)


async def main(data_dir: Path, bootstrap: str, topic: str, events: int) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    clock = SystemClock()
    sink = {
        "type": "kafka",
        "bootstrap_servers": [bootstrap],
        "topic": topic,
        "enable_idempotence": False,
        "request_timeout_ms": 2_000,
    }
    async with await Store.open(data_dir, StoreOptions(), clock) as store:
        service = SubscriptionService(store, OPTIONS, {"k": sink}, scope=Scope(), clock=clock)
        async with service:
            if store.catalog.get_group("g") is None:
                store.catalog.create_group("g", now_ms=clock.now_ms())
                for stream in ("a", "b"):
                    store.catalog.create_stream("g", stream, now_ms=clock.now_ms())
                await service.put_subscription_filter(
                    group="g", name="all", pattern="", destination_arn="k"
                )
            print("READY", flush=True)
            for n in range(0, events, 4):
                stream = "ab"[(n // 4) % 2]
                now = int(time.time() * 1000)
                messages = [f"{stream} {n + j}" for j in range(4)]
                result = await store.append("g", stream, InputEvents([now] * 4, messages))
                print(f"ACK {stream} {result.first_seq} {result.accepted}", flush=True)
                await asyncio.sleep(0.005)
            print("DONE", flush=True)
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])))
