"""Subscription delivery under steady ingest: Kafka (Tansu) and a webhook, end to end.

    python3 bench/subscriptions.py [--quick] [--rate 20000] [--seconds N]
        [--phase latency|throughput|both] [--sustained-rate 150000]

Latency phase: one process holds the store and the subscription service (two filters
on one group, every event: one to Kafka, one to a webhook in NDJSON) and appends
`--rate` events/s in 10 ms batches over 4 streams. A second process receives: an
aiokafka consumer on the topic and an aiohttp webhook endpoint. Each message carries
the wall time just before its append; the receiver's arrival time minus that is the
append→ack latency (delivery is acknowledged when the destination has it; for Kafka
the consumer's fetch adds its own delay, so the figure is an upper bound). The same
process also notes, per event, append → the sink's `send` returning (the acknowledgement
the cursor waits for: `*_ack_*` keys). Prints p50/p99/max per sink, delivered events/s,
and the RSS of the store+service process.

Throughput phase: a fresh store, one filter to Kafka in NDJSON rendering (one Kafka
record per event), ingest at `--sustained-rate` events/s (10 ms batches, 4 streams)
for the phase's seconds. The backlog (events appended but not yet acknowledged by
Kafka) and the subscription's lag_seconds are sampled every 100 ms after a 2 s warm-up;
their means over the first and the last fifth of the window are compared: a sink that
keeps up ends with a backlog no larger than at the start. The same ingest without the
subscription is the baseline (can this machine, right now, ingest at that rate?); CPU
seconds per event are printed for both. Afterwards every record is consumed and
counted.

Last line (throughput keys only when that phase ran):
RESULT kafka_p50_ms=... kafka_p99_ms=... webhook_p99_ms=... kafka_events_per_s=... rss_mb=...
  kafka_ack_p50_ms=... kafka_ack_p99_ms=... webhook_ack_p99_ms=...
  baseline_ingest_per_s=... sustained_ingest_per_s=... sustained_kafka_per_s=...
  backlog_start=... backlog_end=... lag_start_s=... lag_end_s=...
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
from array import array
from collections.abc import Sequence
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
    data: Path,
    bootstrap: str,
    hook_url: str,
    rate: int,
    seconds: float,
    rendering: str,
    delivery: dict[str, Any],
) -> dict[str, Any]:
    clock = SystemClock()
    sinks = {
        "k": {"type": "kafka", "bootstrap_servers": [bootstrap], "topic": TOPIC,
              "enable_idempotence": False, "rendering": rendering},
        "w": {"type": "webhook", "url": hook_url, "allow_insecure": True, "rendering": "ndjson"},
    }  # fmt: skip
    options = SubscriptionOptions(batch_max_wait_ms=20, **delivery)
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
    # array("d"): 8 bytes a figure, so the RSS reported stays the store's and service's
    acks: dict[str, array[float]] = {"k": array("d"), "w": array("d")}
    for name, host in service.hosts.items():
        host.send = _timed(host.send, acks[name])  # type: ignore[method-assign]
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
        "acks": acks,
    }


def _timed(send: Any, out: array[float]) -> Any:
    """`SinkHost.send`, noting append→acknowledgement per event of each acknowledged batch."""

    async def timed(batch: Any) -> Any:
        result = await send(batch)
        if result.outcome == "ok" and batch.message_type == "DATA_MESSAGE":
            now = time.time() * 1000
            out.extend(now - orjson.loads(m)["t"] for m in batch.messages)
        return result

    return timed


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
    samples: list[tuple[float, int, float]] = []  # (time, backlog events, lag seconds)

    def delivered() -> int:
        return service.figures()[0].delivered_events if subscribe else sent

    async def sampler() -> None:
        while True:
            lag = service.figures()[0].lag_seconds if subscribe else 0.0
            samples.append((time.monotonic(), sent - delivered(), lag))
            await asyncio.sleep(0.1)

    start = time.monotonic()
    start_sent, start_t, start_cpu, start_delivered = 0, start, time.process_time(), 0
    watching: asyncio.Task[None] | None = None
    while (elapsed := time.monotonic() - start) < seconds:
        if watching is None and elapsed >= WARMUP_S:
            watching = asyncio.create_task(sampler())
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
    if watching is not None:
        watching.cancel()
    end_t = time.monotonic()
    # Backlog and lag jump by up to a batch as batches are acknowledged: compare the mean
    # over the first and the last fifth of the measured window.
    fifth = (end_t - start_t) / 5
    head = [x for x in samples if x[0] < start_t + fifth] or samples[:1]
    tail = [x for x in samples if x[0] >= end_t - fifth] or samples[-1:]
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
        "backlog_start": statistics.fmean(x[1] for x in head),
        "backlog_end": statistics.fmean(x[1] for x in tail),
        "backlog_max": max(x[1] for x in samples),
        "lag_start_s": statistics.fmean(x[2] for x in head),
        "lag_end_s": statistics.fmean(x[2] for x in tail),
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


def _pct(values: Sequence[float], p: float) -> float:
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
    ap.add_argument(
        "--no-send-when-idle", action="store_true",
        help="latency phase with batch_send_when_idle = false (batches close at "
        "batch_max_wait_ms = 20 or when full): the ablation of the idle send",
    )  # fmt: skip
    ap.add_argument("--max-in-flight", type=int, default=None, help="latency phase")
    a = ap.parse_args()
    seconds = a.seconds or (10.0 if a.quick else 60.0)
    sustained_s = a.sustained_seconds or (10.0 if a.quick else 30.0)
    keys: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp, running_broker(Path(tmp)) as broker:
        if a.phase in ("latency", "both"):
            delivery: dict[str, Any] = {}
            if a.max_in_flight is not None:
                delivery["max_in_flight"] = a.max_in_flight
            if a.no_send_when_idle:
                delivery["batch_send_when_idle"] = False
            keys |= latency_phase(
                Path(tmp), broker.bootstrap, a.rate, seconds, a.kafka_rendering, delivery
            )
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
                f"(after a {WARMUP_S:.0f} s warm-up); mean backlog first/last fifth "
                f"{r['backlog_start']:.0f} -> {r['backlog_end']:.0f} events (max "
                f"{r['backlog_max']}), lag {r['lag_start_s']:.2f} -> "
                f"{r['lag_end_s']:.2f} s; drained {r['drained_s']:.1f} s after ingest; "
                f"consumed {consumed}/{r['sent']}; {r['cpu_us_per_event']:.1f} us CPU per "
                f"event; RSS {r['rss_mb']:.0f} MB"
            )
            keys |= {
                "baseline_ingest_per_s": f"{base['ingest_rate']:.0f}",
                "sustained_ingest_per_s": f"{r['ingest_rate']:.0f}",
                "sustained_kafka_per_s": f"{r['kafka_rate']:.0f}",
                "backlog_start": f"{r['backlog_start']:.0f}",
                "backlog_end": f"{r['backlog_end']:.0f}",
                "lag_start_s": f"{r['lag_start_s']:.2f}",
                "lag_end_s": f"{r['lag_end_s']:.2f}",
            }
    print("RESULT " + " ".join(f"{k}={v}" for k, v in keys.items()))
    return 0


def latency_phase(
    tmp: Path, bootstrap: str, rate: int, seconds: float, rendering: str, delivery: dict[str, Any]
) -> dict[str, str]:
    expected = int(seconds * 100) * max(rate // 100, 1)
    port = free_port()
    ctx = mp.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=receiver, args=(bootstrap, port, expected, out, ready))
    proc.start()
    ready.wait(60)
    result = asyncio.run(
        ingest(
            tmp / "data",
            bootstrap,
            f"http://127.0.0.1:{port}/hook",
            rate,
            seconds,
            rendering,
            delivery,
        )
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
    ka, wa = result["acks"]["k"], result["acks"]["w"]
    print(
        f"acknowledged (sink send returned): kafka p50 {_pct(ka, 50):.1f} ms, p99 "
        f"{_pct(ka, 99):.1f} ms; webhook p50 {_pct(wa, 50):.1f} ms, p99 {_pct(wa, 99):.1f} ms"
    )
    print(f"retries: {result['retries']}; store+service RSS {result['rss_mb']:.0f} MB")
    print(f"kafka rendering {rendering}: {kafka_rate:.0f} events/s delivered")
    return {
        "kafka_p50_ms": f"{_pct(k, 50):.1f}",
        "kafka_p99_ms": f"{_pct(k, 99):.1f}",
        "webhook_p99_ms": f"{_pct(w, 99):.1f}",
        "kafka_events_per_s": f"{kafka_rate:.0f}",
        "rss_mb": f"{result['rss_mb']:.0f}",
        "kafka_ack_p50_ms": f"{_pct(ka, 50):.1f}",
        "kafka_ack_p99_ms": f"{_pct(ka, 99):.1f}",
        "webhook_ack_p99_ms": f"{_pct(wa, 99):.1f}",
    }


if __name__ == "__main__":
    sys.exit(main())
