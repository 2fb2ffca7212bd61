"""End-to-end streaming benchmark through the real broker.

Measures log events per second from the raw topic to the ``analytics`` purpose topic with 1
and 2 ``veil worker`` processes, and p50/p99 latency from produce (the record's CreateTime)
to arrival on the purpose topic, side by side with a pass-through Faust agent (raw topic ->
one output topic, no parsing) on the same broker in the same run. The producer floods the
input as fast as it can, so latency is that of a saturated pipeline (queueing included).

    .venv/bin/python -m benchmarks.stream [--events 2000] [--pass-events 20000] [--rounds 3]

Needs the broker (``scripts/kafka start``, or ``VEIL_KAFKA_BOOTSTRAP``). Fixed seed; every
round uses fresh topics and a fresh consumer group; the median of the rounds is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
SEED = 20261130
BOOTSTRAP = os.environ.get("VEIL_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
KEY = "benchmark-key-0123456789abcdef0123"


def make_events(n: int, seed: int = SEED) -> list[tuple[bytes, bytes]]:
    """``n`` log events (key, value) from a fixed seed; about a third carry PII in text."""
    rng = random.Random(seed)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for i in range(n):
        user = f"u-{rng.randrange(500):04d}"
        payload: dict[str, Any] = {
            "ip": f"198.51.{rng.randrange(256)}.{rng.randrange(256)}",
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
            "device_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "url": f"https://shop.example/p/{rng.randrange(10_000)}?ref=home",
            "app": {"name": "shop", "version": f"3.{rng.randrange(20)}"},
        }
        if i % 3 == 0:
            payload["message"] = f"password reset for user{rng.randrange(9999)}@example.com"
        event = {
            "event_id": f"b-{i:07d}",
            "kind": "log",
            "user_id": user,
            "occurred_at": now,
            "payload": payload,
        }
        out.append((user.encode(), json.dumps(event).encode()))
    return out


@dataclass(frozen=True)
class Result:
    """One round: events/s and produce-to-arrival latency percentiles (ms)."""

    rate: float
    p50_ms: float
    p99_ms: float


def _admin_create(topics: dict[str, int]) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        admin.create_topics(
            {t: {"num_partitions": n, "replication_factor": 1} for t, n in topics.items()},
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def _health_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            body = json.loads(r.read())
            return bool(body.get("status") == "ok" and body.get("assigned_partitions", 0) > 0)
    except (OSError, ValueError):
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    deadline = time.monotonic() + 120
    while not _health_ok(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit(f"worker did not start; see {log}")
        time.sleep(0.5)
    return proc


def run_round(kind: str, workers: int, events: list[tuple[bytes, bytes]], tmp: Path) -> Result:
    """One round: fresh topics and group, ``workers`` processes, flood, measure, stop."""
    tag = uuid.uuid4().hex[:8]
    prefix = f"bench{tag}."
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    env.update(
        VEIL_KAFKA_BOOTSTRAP=BOOTSTRAP,
        VEIL_APP_ID=f"bench-{tag}",
        VEIL_TOPIC_PREFIX=prefix,
        VEIL_PSEUDONYM_KEY=KEY,
        VEIL_DATA_DIR=str(tmp / "data"),
        TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        VEIL_STREAM_BUFFER_MAXSIZE="8192",
    )
    if kind == "veil":
        subprocess.run(
            [str(REPO / ".venv/bin/veil"), "topics", "create"],
            env=env,
            check=True,
            capture_output=True,
        )
        src, dst = f"{prefix}raw.log", f"{prefix}veil.analytics"
    else:
        src, dst = f"{prefix}in", f"{prefix}out"
        _admin_create({src: 4, dst: 4})
    procs = []
    for i in range(workers):
        port = _free_port()
        wenv = {**env, "VEIL_WEB_PORT": str(port)}
        if kind == "veil":
            cmd = [str(REPO / ".venv/bin/veil"), "worker"]
        else:
            cmd = [sys.executable, "-m", "benchmarks.stream", "_passthrough", src, dst, str(port)]
        procs.append(_start(cmd, wenv, port, tmp / f"{kind}-{tag}-{i}.log"))
    # With two workers, wait until both own partitions (the group has settled).
    time.sleep(2.0 if workers > 1 else 0.5)
    try:
        return _measure_with_latency(events, src, dst)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def _measure_with_latency(events: list[tuple[bytes, bytes]], src: str, dst: str) -> Result:
    """Flood ``src``; latency per record = arrival on ``dst`` - its input's CreateTime.

    Outputs are matched to inputs by order within the run: the input CreateTime of the
    i-th arrival is taken as the i-th input's (both streams are one run, in send order per
    partition); p50/p99 over all records.
    """
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
    tps = [TopicPartition(dst, p) for p in consumer.partitions_for_topic(dst) or set()]
    consumer.assign(tps)
    consumer.seek_to_end(*tps)
    for tp in tps:
        consumer.position(tp)
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=5, acks=1)
    sent_at: list[float] = []
    start = time.time()
    for key, value in events:
        sent_at.append(time.time())
        producer.send(src, key=key, value=value)
    producer.flush()
    arrivals: list[float] = []
    deadline = time.monotonic() + 900
    while len(arrivals) < len(events) and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=100).values():
            now = time.time()
            arrivals.extend(now for _ in batch)
    consumer.close()
    producer.close()
    if len(arrivals) < len(events):
        sys.exit(f"only {len(arrivals)} of {len(events)} records arrived on {dst}")
    arrivals.sort()
    lat = sorted(a - s for a, s in zip(arrivals, sent_at, strict=True))
    return Result(
        rate=len(events) / (arrivals[-1] - start),
        p50_ms=1000 * lat[len(lat) // 2],
        p99_ms=1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
    )


def passthrough(src: str, dst: str, port: int) -> None:
    """The anchor: a Faust agent that copies raw bytes from ``src`` to ``dst``."""
    import faust

    app = faust.App(
        os.environ["VEIL_APP_ID"] + "-pass",
        broker=f"kafka://{BOOTSTRAP}",
        store="memory://",
        autodiscover=False,
        web_port=port,
        web_host="127.0.0.1",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=8192,
    )
    src_t = app.topic(
        src, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )

    @app.agent(src_t)
    async def copy(stream: Any) -> None:
        producer = app.producer
        async for event in stream.events():
            msg = event.message
            await producer.send(dst, msg.key, msg.value, None, None, None)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        n = len(app.consumer.assignment()) if app.started else 0
        return web.json({"status": "ok" if app.started else "starting", "assigned_partitions": n})

    faust.Worker(
        app, loglevel="WARNING", quiet=True, override_logging=False
    ).execute_from_commandline()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_passthrough":
        passthrough(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=2000, help="log events per Veil round")
    p.add_argument("--pass-events", type=int, default=20000, help="events per pass-through round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="veil-bench-"))  # worker logs, Faust data
    veil_events = make_events(args.events)
    pass_events = make_events(args.pass_events)
    # Warm-up: one short round of each, not counted (JIT-free Python, but broker and caches).
    run_round("veil", 1, veil_events[:200], tmp)
    run_round("passthrough", 1, pass_events[:2000], tmp)
    table: dict[tuple[str, int], Result] = {}
    for workers in (1, 2):
        for kind, evs in (("passthrough", pass_events), ("veil", veil_events)):
            rounds = [run_round(kind, workers, evs, tmp) for _ in range(args.rounds)]
            table[(kind, workers)] = Result(
                statistics.median(r.rate for r in rounds),
                statistics.median(r.p50_ms for r in rounds),
                statistics.median(r.p99_ms for r in rounds),
            )
    cores = os.cpu_count()
    print(f"stream benchmark: broker {BOOTSTRAP}, {cores} cores, median of {args.rounds} rounds")
    print(f"{'pipeline':<13}{'workers':>8}{'events/s':>11}{'p50 ms':>10}{'p99 ms':>10}")
    for (kind, workers), r in table.items():
        print(f"{kind:<13}{workers:>8}{r.rate:>11.0f}{r.p50_ms:>10.0f}{r.p99_ms:>10.0f}")
    for workers in (1, 2):
        ratio = table[("veil", workers)].rate / table[("passthrough", workers)].rate
        per_worker = table[("veil", workers)].rate / workers
        print(
            f"veil/pass-through, {workers} worker(s): {ratio:.3f}; "
            f"veil per worker: {per_worker:.0f} events/s (target 5000, and >= 0.5 of pass-through)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
