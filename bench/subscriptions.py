"""Subscription delivery under steady ingest: Kafka (Tansu) and a webhook, end to end.

    python3 bench/subscriptions.py [--quick] [--rate 20000] [--seconds N]
        [--phase latency|throughput|both] [--sustained-rate 150000]

Latency phase: one process holds the store and the subscription service (two filters
on one group, every event: one to Kafka, one to a webhook in NDJSON) and appends
`--rate` events/s in 10 ms batches over 4 streams. A second process receives: an
aiokafka consumer on the topic and an aiohttp webhook endpoint. Each message carries
the wall time just before its append; the receiver's arrival time minus that is the
append→ack latency (delivery is acknowledged when the destination has it; for Kafka
the consumer's fetch adds its own delay, so the figure is an upper bound). Prints
p50/p99/max per sink, delivered events/s, and the RSS of the store+service process.

Throughput phase: a fresh store, one filter to Kafka in NDJSON rendering (one Kafka
record per event), ingest at `--sustained-rate` events/s (10 ms batches, 4 streams)
for the phase's seconds. The backlog (events appended but not yet acknowledged by
Kafka) and the subscription's lag_seconds are sampled after a 2 s warm-up and at the
end of ingest: a sink that keeps up ends with a backlog no larger than at the start.
Afterwards every record is consumed and counted.

Last line (throughput keys only when that phase ran):
RESULT kafka_p50_ms=... kafka_p99_ms=... webhook_p99_ms=... kafka_events_per_s=... rss_mb=...
  sustained_ingest_per_s=... sustained_kafka_per_s=... backlog_start=... backlog_end=...
  lag_start_s=... lag_end_s=...
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing as mp
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402 -- after the sys.path line above

from logd.clock import SystemClock  # noqa: E402
from logd.model import InputEvents, Scope  # noqa: E402
from logd.store.options import StoreOptions  # noqa: E402
from logd.store.store import Store  # noqa: E402
from logd.subscriptions.options import SubscriptionOptions  # noqa: E402
from logd.subscriptions.service import SubscriptionService  # noqa: E402
from tests.support.kafka import free_port, running_broker  # noqa: E402

STREAMS = ("web-1", "web-2", "db-1", "worker-1")
TOPIC = "bench-subs"
SUSTAINED_TOPIC = "bench-subs-sustained"
WARMUP_S = 2.0


def receiver(bootstrap: str, port: int, expected: int, out: Any, ready: Any) -> None:
    asyncio.run(_receive(bootstrap, port, expected, out, ready))


async def _receive(bootstrap: str, port: int, expected: int, out: Any, ready: Any) -> None:
    import aiokafka
    from aiohttp import web

    lat: dict[str, list[float]] = {"kafka": [], "webhook": []}
    last: dict[str, float] = {"kafka": 0.0, "webhook": 0.0}

    def note(kind: str, raw: bytes) -> None:
        now = time.time() * 1000
        if raw[:2] == b"\x1f\x8b":  # cloudwatch rendering: one gzip payload per batch
            envelope = orjson.loads(gzip.decompress(raw))
            if envelope["messageType"] != "DATA_MESSAGE":
                return  # the destination check sent on PutSubscriptionFilter
            for event in envelope["logEvents"]:
                lat[kind].append(now - orjson.loads(event["message"])["t"])
        else:
            lat[kind].append(now - orjson.loads(orjson.loads(raw)["message"])["t"])
        last[kind] = now

    async def hook(request: web.Request) -> web.Response:
        for line in (await request.read()).splitlines():
            note("webhook", line)
        return web.Response(status=200)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    consumer = aiokafka.AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=10,  # the broker answers at once: arrival ~ acknowledgement
    )
    await consumer.start()
    ready.set()
    deadline = time.monotonic() + 600  # a stuck run still reports what arrived
    try:
        while len(lat["kafka"]) < expected or len(lat["webhook"]) < expected:
            for records in (await consumer.getmany(timeout_ms=20, max_records=5000)).values():
                for r in records:
                    note("kafka", r.value)
            if time.monotonic() > deadline:
                break
    finally:
        await consumer.stop()
        await runner.cleanup()
    out.put({"lat": lat, "last": last})


async def ingest(
    data: Path, bootstrap: str, hook_url: str, rate: int, seconds: float, rendering: str
) -> dict[str, Any]:
    clock = SystemClock()
    sinks = {
        "k": {"type": "kafka", "bootstrap_servers": [bootstrap], "topic": TOPIC,
              "enable_idempotence": False, "rendering": rendering},
        "w": {"type": "webhook", "url": hook_url, "allow_insecure": True, "rendering": "ndjson"},
    }  # fmt: skip
    options = SubscriptionOptions(batch_max_wait_ms=20)
    store = await Store.open(data, StoreOptions(), clock)
    service = SubscriptionService(store, options, sinks, scope=Scope(), clock=clock)
    await service.start()
    now = clock.now_ms()
    store.catalog.create_group("bench", now_ms=now)
    for s in STREAMS:
        store.catalog.create_stream("bench", s, now_ms=now)
    for name, sink in (("to-kafka", "k"), ("to-webhook", "w")):
        await service.put_subscription_filter(
            group="bench", name=name, pattern="", destination_arn=sink
        )
    per_tick = max(rate // 100, 1)
    started_ms = time.time() * 1000
    ticks = int(seconds * 100)
    pad = "x" * 80
    sent = 0
    start = time.monotonic()
    ack_ms: list[float] = []
    for tick in range(ticks):
        target = start + tick / 100
        delay = target - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = time.time() * 1000
        messages = [
            orjson.dumps({"t": t, "i": sent + j, "pad": pad}).decode() for j in range(per_tick)
        ]
        before = time.monotonic()
        await store.append(
            "bench", STREAMS[tick % len(STREAMS)], InputEvents([int(t)] * per_tick, messages)
        )
        ack_ms.append((time.monotonic() - before) * 1000)
        sent += per_tick
    elapsed = time.monotonic() - start
    total = sent
    async with asyncio.timeout(120):
        while True:  # both subscriptions acknowledged everything
            if min(f.delivered_events for f in service.figures()) >= total:
                break
            await asyncio.sleep(0.05)
    figures = {f.filter: f for f in service.figures()}
    await service.close()
    await store.close()
    return {
        "sent": total,
        "started_ms": started_ms,
        "ingest_s": elapsed,
        "ingest_rate": total / elapsed,
        "append_p99_ms": _pct(ack_ms, 99),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "retries": {k: dict(f.retries_by_class) for k, f in figures.items()},
    }


async def sustained(
    data: Path, bootstrap: str, rate: int, seconds: float, *, subscribe: bool = True
) -> dict[str, Any]:
    """Ingest at `rate` for `seconds` into one Kafka (ndjson) subscription; sample backlog.

    Without `subscribe` the same ingest runs alone: the baseline of what this machine
    ingests right now at that target."""
    clock = SystemClock()
    sinks = {
        "k": {"type": "kafka", "bootstrap_servers": [bootstrap], "topic": SUSTAINED_TOPIC,
              "enable_idempotence": False, "rendering": "ndjson"},
    }  # fmt: skip
    store = await Store.open(data, StoreOptions(), clock)
    service = SubscriptionService(store, SubscriptionOptions(), sinks, scope=Scope(), clock=clock)
    await service.start()
    now = clock.now_ms()
    store.catalog.create_group("bench", now_ms=now)
    for s in STREAMS:
        store.catalog.create_stream("bench", s, now_ms=now)
    if subscribe:
        await service.put_subscription_filter(
            group="bench", name="to-kafka", pattern="", destination_arn="k"
        )
    per_tick = max(rate // 100, 1)
    pad = "x" * 80
    template = [orjson.dumps({"i": j, "pad": pad}).decode() for j in range(per_tick)]
    sent = 0
    samples: dict[str, tuple[int, float]] = {}

    def delivered() -> int:
        return service.figures()[0].delivered_events if subscribe else sent

    def sample(name: str) -> None:
        lag = service.figures()[0].lag_seconds if subscribe else 0.0
        samples[name] = (sent - delivered(), lag)

    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        if "start" not in samples and elapsed >= WARMUP_S:
            sample("start")
            start_sent, start_t = sent, time.monotonic()
            start_cpu = time.process_time()
            start_delivered = delivered()
        due = int(elapsed * rate) - sent
        if due < per_tick:
            await asyncio.sleep((sent + per_tick - elapsed * rate) / rate)
            continue
        stream = STREAMS[(sent // per_tick) % len(STREAMS)]
        t = clock.now_ms()
        await store.append("bench", stream, InputEvents([t] * per_tick, template))
        sent += per_tick
    sample("end")
    window = time.monotonic() - start_t
    cpu_us = (time.process_time() - start_cpu) / max(sent - start_sent, 1) * 1e6
    delivered_window = delivered() - start_delivered
    ingest_rate = (sent - start_sent) / window
    async with asyncio.timeout(300):
        while True:  # everything acknowledged
            if delivered() >= sent:
                break
            await asyncio.sleep(0.05)
    drained_s = time.monotonic() - start - seconds
    await service.close()
    await store.close()
    return {
        "sent": sent,
        "ingest_rate": ingest_rate,
        "kafka_rate": delivered_window / window,
        "backlog_start": samples["start"][0],
        "backlog_end": samples["end"][0],
        "lag_start_s": samples["start"][1],
        "lag_end_s": samples["end"][1],
        "drained_s": drained_s,
        "cpu_us_per_event": cpu_us,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


async def count_topic(bootstrap: str, topic: str, expected: int) -> int:
    """Consume the whole topic and count its records (Tansu's end offsets are wrong)."""
    import aiokafka

    consumer = aiokafka.AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, fetch_max_bytes=64 << 20,
        max_partition_fetch_bytes=16 << 20,
    )  # fmt: skip
    await consumer.start()
    count, idle_since = 0, time.monotonic()
    try:
        while count < expected and time.monotonic() - idle_since < 10:
            got = await consumer.getmany(timeout_ms=200, max_records=50_000)
            n = sum(len(v) for v in got.values())
            if n:
                count += n
                idle_since = time.monotonic()
    finally:
        await consumer.stop()
    return count


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="10 seconds per phase instead of 60/30")
    ap.add_argument("--rate", type=int, default=20_000, help="events per second (latency)")
    ap.add_argument("--seconds", type=float, default=None, help="latency phase length")
    ap.add_argument("--phase", choices=("latency", "throughput", "both"), default="both")
    ap.add_argument("--sustained-rate", type=int, default=150_000, help="throughput phase")
    ap.add_argument("--sustained-seconds", type=float, default=None)
    ap.add_argument(
        "--kafka-rendering",
        choices=("cloudwatch", "ndjson"),
        default="cloudwatch",
        help="latency phase; cloudwatch: one gzip record per batch (as Kinesis); "
        "ndjson: one per event",
    )
    a = ap.parse_args()
    seconds = a.seconds or (10.0 if a.quick else 60.0)
    sustained_s = a.sustained_seconds or (10.0 if a.quick else 30.0)
    keys: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp)) as broker:
        if a.phase in ("latency", "both"):
            keys |= latency_phase(Path(tmp), broker.bootstrap, a.rate, seconds, a.kafka_rendering)
        if a.phase in ("throughput", "both"):
            base = asyncio.run(
                sustained(
                    Path(tmp) / "baseline", broker.bootstrap, a.sustained_rate, sustained_s,
                    subscribe=False,
                )
            )  # fmt: skip
            print(
                f"baseline: ingest alone at a target of {a.sustained_rate}/s reached "
                f"{base['ingest_rate']:.0f}/s, {base['cpu_us_per_event']:.1f} us CPU per event"
            )
            r = asyncio.run(
                sustained(Path(tmp) / "sustained", broker.bootstrap, a.sustained_rate, sustained_s)
            )
            consumed = asyncio.run(count_topic(broker.bootstrap, SUSTAINED_TOPIC, r["sent"]))
            print(
                f"sustained: target {a.sustained_rate}/s for {sustained_s:.0f} s, ingested "
                f"{r['ingest_rate']:.0f}/s, Kafka acknowledged {r['kafka_rate']:.0f}/s "
                f"(after a {WARMUP_S:.0f} s warm-up); backlog {r['backlog_start']} -> "
                f"{r['backlog_end']} events, lag {r['lag_start_s']:.2f} -> "
                f"{r['lag_end_s']:.2f} s; drained {r['drained_s']:.1f} s after ingest; "
                f"consumed {consumed}/{r['sent']}; {r['cpu_us_per_event']:.1f} us CPU per "
                f"event; RSS {r['rss_mb']:.0f} MB"
            )
            keys |= {
                "baseline_ingest_per_s": f"{base['ingest_rate']:.0f}",
                "sustained_ingest_per_s": f"{r['ingest_rate']:.0f}",
                "sustained_kafka_per_s": f"{r['kafka_rate']:.0f}",
                "backlog_start": str(r["backlog_start"]),
                "backlog_end": str(r["backlog_end"]),
                "lag_start_s": f"{r['lag_start_s']:.2f}",
                "lag_end_s": f"{r['lag_end_s']:.2f}",
            }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in keys.items()))
    return 0


def latency_phase(
    tmp: Path, bootstrap: str, rate: int, seconds: float, rendering: str
) -> dict[str, str]:
    expected = int(seconds * 100) * max(rate // 100, 1)
    port = free_port()
    ctx = mp.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=receiver, args=(bootstrap, port, expected, out, ready))
    proc.start()
    ready.wait(60)
    result = asyncio.run(
        ingest(tmp / "data", bootstrap, f"http://127.0.0.1:{port}/hook", rate, seconds, rendering)
    )
    got = out.get(timeout=120)
    proc.join(30)
    lat = got["lat"]
    k, w = lat["kafka"], lat["webhook"]
    kafka_rate = len(k) / ((got["last"]["kafka"] - result["started_ms"]) / 1000)
    print(
        f"ingested {result['sent']} events in {result['ingest_s']:.1f} s "
        f"({result['ingest_rate']:.0f}/s), append p99 {result['append_p99_ms']:.1f} ms"
    )
    for name, values in (("kafka", k), ("webhook", w)):
        print(f"{name}: {len(values)} events, p50 {_pct(values, 50):.1f} ms, "
              f"p99 {_pct(values, 99):.1f} ms, max {max(values):.1f} ms, "
              f"mean {statistics.fmean(values):.1f} ms")  # fmt: skip
    print(f"retries: {result['retries']}; store+service RSS {result['rss_mb']:.0f} MB")
    print(f"kafka rendering {rendering}: {kafka_rate:.0f} events/s delivered")
    return {
        "kafka_p50_ms": f"{_pct(k, 50):.1f}",
        "kafka_p99_ms": f"{_pct(k, 99):.1f}",
        "webhook_p99_ms": f"{_pct(w, 99):.1f}",
        "kafka_events_per_s": f"{kafka_rate:.0f}",
        "rss_mb": f"{result['rss_mb']:.0f}",
    }


if __name__ == "__main__":
    sys.exit(main())
