"""End-to-end streaming benchmark through the real broker.

Log events per second from the raw topic to the ``analytics`` purpose topic with 1 and 2
``veil worker`` processes, and produce-to-arrival latency, side by side with a pass-through
Faust agent (raw topic -> one output topic, bytes copied, no parsing) on the same broker, with
the same Faust/producer settings, in the same run.

    .venv/bin/python -m benchmarks.stream [--events 3000] [--pass-events 20000] [--rounds 3]

How it measures, so that the measuring client does not dominate:

- The output topic is switched to ``LogAppendTime``: each record carries the broker's
  clock at arrival, and the benchmark reads them back *after* a phase instead of consuming
  while the workers run (it only polls end offsets, a few requests per second).
- Workers start first; once every worker owns partitions and a warm-up burst has gone
  through, each round floods ``--events`` records with a batching producer and waits for
  them on the output topic. **Throughput** = (records - 1) / (last arrival - first arrival)
  on the output topic: the pipeline's drain rate, not the producer's.
- **Latency** is measured separately at a steady rate below saturation (30 % of the round's
  throughput, ~3 s): each event's send time in this process to its output record's
  LogAppendTime (same machine, same clock), matched by event id (the analytics pseudonym of
  it for Veil, computed with the benchmark key). p50/p99 per round.

Needs the broker (``scripts/kafka start``, or ``VEIL_KAFKA_BOOTSTRAP``). Fixed seed; fresh
topics and consumer group per pipeline and worker count; medians over the rounds.
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
SEED = 20261130
BOOTSTRAP = os.environ.get("VEIL_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
KEY = "benchmark-key-0123456789abcdef0123"
PARTITIONS = 4
LATENCY_LOAD = 0.3  # latency phase rate, as a fraction of the round's throughput
LATENCY_SECONDS = 3.0


def make_events(n: int, tag: str, seed: int = SEED) -> list[tuple[bytes, bytes]]:
    """``n`` log events (key, value) from a fixed seed; about a third carry PII in text.

    ``tag`` makes event ids unique per phase (latency matches outputs by event id).
    """
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
            "event_id": f"b-{tag}-{i:07d}",
            "kind": "log",
            "user_id": user,
            "occurred_at": now,
            "payload": payload,
        }
        out.append((user.encode(), json.dumps(event).encode()))
    return out


@dataclass(frozen=True)
class Result:
    """One round: events/s (drain rate) and steady-rate latency percentiles (ms)."""

    rate: float
    p50_ms: float
    p99_ms: float


# Runs a worker command line (argv[2:]) under cProfile with a CPU-time clock, so that the
# profile shows work, not waiting for a core on a loaded machine.
_PROFILE = """
import cProfile, runpy, sys, time
out, argv = sys.argv[1], sys.argv[2:]
prof = cProfile.Profile(time.process_time)
if argv[1] == "-m":
    sys.argv = [argv[2], *argv[3:]]
    run = lambda: runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
else:
    sys.argv = argv
    run = lambda: runpy.run_path(argv[0], run_name="__main__")
try:
    prof.runcall(run)
except SystemExit:
    pass
finally:
    prof.dump_stats(out)
"""


def _health(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            body = json.loads(r.read())
            return body if isinstance(body, dict) else None
    except (OSError, ValueError):
        return None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bench:
    """One pipeline (Veil or pass-through) with ``workers`` processes on fresh topics."""

    def __init__(self, kind: str, workers: int, tmp: Path) -> None:
        self.kind, self.workers, self.tmp = kind, workers, tmp
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        prefix = f"bench{tag}."
        # Tuning knobs (VEIL_PRODUCER_*, VEIL_STREAM_*) pass through to both pipelines.
        keep = ("VEIL_PRODUCER_", "VEIL_STREAM_")
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("VEIL_") or k.startswith(keep)
        }
        env.update(
            VEIL_KAFKA_BOOTSTRAP=BOOTSTRAP,
            VEIL_APP_ID=f"bench-{tag}",
            VEIL_TOPIC_PREFIX=prefix,
            VEIL_PSEUDONYM_KEY=KEY,
            VEIL_DATA_DIR=str(tmp / "data"),
            TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        )
        self.env = env
        admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        try:
            if kind == "veil":
                subprocess.run(
                    [str(REPO / ".venv/bin/veil"), "topics", "create"],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                self.src, self.dst = f"{prefix}raw.log", f"{prefix}veil.analytics"
            else:
                self.src, self.dst = f"{prefix}in", f"{prefix}out"
                admin.create_topics(
                    {
                        t: {"num_partitions": PARTITIONS, "replication_factor": 1}
                        for t in (self.src, self.dst)
                    },
                )
            # Arrival time = the broker's append time, read back after the phase.
            resource = ConfigResource(
                ConfigResourceType.TOPIC,
                self.dst,
                configs={"message.timestamp.type": "LogAppendTime"},
            )
            for attempt in range(40):
                try:
                    admin.alter_configs([resource])
                    break
                except ValueError:
                    # kafka-python checks the name against the topic's described configs,
                    # which a just-created topic may not report yet: wait and ask again.
                    if attempt == 39:
                        raise
                    time.sleep(0.25)
        finally:
            admin.close()
        self.reader = KafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False)
        self.tps = [TopicPartition(self.dst, p) for p in range(PARTITIONS)]
        self.flood = KafkaProducer(
            bootstrap_servers=BOOTSTRAP, linger_ms=20, batch_size=512 * 1024, acks=1
        )
        self.paced = KafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=0, acks=1)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: list[int] = []
        if kind == "veil":
            from pipeline.pseudonym import PseudonymKeys

            keys = PseudonymKeys(base=KEY.encode())
            self.out_id: Callable[[str], str] = lambda eid: keys.pseudonym(eid, "analytics")
        else:
            self.out_id = lambda eid: eid

    def start(self) -> None:
        """Start the workers; return once each owns partitions and the group has settled."""
        for i in range(self.workers):
            port = _free_port()
            wenv = {**self.env, "VEIL_WEB_PORT": str(port)}
            if self.kind == "veil":
                cmd = [str(REPO / ".venv/bin/veil"), "worker"]
            else:
                cmd = [sys.executable, "-m", "benchmarks.stream", "_passthrough"]
                cmd += [self.src, self.dst, str(port)]
            log = self.tmp / f"{self.kind}-{self.tag}-{i}.log"
            if os.environ.get("BENCH_PROFILE"):  # cProfile each worker, CPU time, on exit
                prof = str(self.tmp / f"{self.kind}-{self.tag}-{i}.prof")
                cmd = [sys.executable, "-c", _PROFILE, prof, *cmd]
            with log.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(cmd, env=wenv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
                )
            self.ports.append(port)
        deadline = time.monotonic() + 180
        while True:
            states = [_health(p) for p in self.ports]
            if all(s and s.get("status") == "ok" and s.get("assigned_partitions") for s in states):
                break
            if any(p.poll() is not None for p in self.procs) or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"{self.kind} worker did not start; logs in {self.tmp}")
            time.sleep(0.5)
        time.sleep(3.0 if self.workers > 1 else 0.5)  # let the group's rebalance finish

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        self.reader.close()
        self.flood.close()
        self.paced.close()
        # Leave no topics behind: every topic on the broker adds to each client's metadata
        # responses (decoded in Python by aiokafka), so stale ones slow later runs down.
        admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        try:
            ours = [t for t in admin.list_topics() if self.tag in t]
            if ours:
                admin.delete_topics(ours)
        finally:
            admin.close()

    def _ends(self) -> dict[TopicPartition, int]:
        return dict(self.reader.end_offsets(self.tps))

    def _wait_for(self, start: dict[TopicPartition, int], n: int) -> None:
        deadline = time.monotonic() + 900
        while sum(self._ends().values()) - sum(start.values()) < n:
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs):
                sys.exit(f"{self.kind}: records missing on {self.dst}; logs in {self.tmp}")
            time.sleep(0.2)

    def _read(self, start: dict[TopicPartition, int]) -> list[tuple[int, bytes]]:
        """(LogAppendTime ms, value) of every record after ``start`` up to the end now."""
        ends = self._ends()
        self.reader.assign(self.tps)
        for tp in self.tps:
            self.reader.seek(tp, start[tp])
        out: list[tuple[int, bytes]] = []
        want = sum(ends.values()) - sum(start.values())
        while len(out) < want:
            for recs in self.reader.poll(timeout_ms=500).values():
                for r in recs:
                    if r.offset < ends[TopicPartition(r.topic, r.partition)]:
                        if r.timestamp_type != 1:
                            sys.exit(f"{self.dst} is not LogAppendTime")
                        out.append((r.timestamp, r.value))
        return out

    def _cpu(self) -> float:
        """CPU seconds (user + system) the workers have used so far."""
        total = 0
        for p in self.procs:
            fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def _sections(self) -> dict[str, float]:
        """The Veil workers' CPU seconds per section (``veil_stream_section_seconds``)."""
        out: dict[str, float] = {}
        if self.kind != "veil":
            return out
        for port in self.ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("veil_stream_section_seconds_total{"):
                        name = line.split('"')[1]
                        out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return out

    def burst(self, events: list[tuple[bytes, bytes]]) -> tuple[float, str]:
        """Flood ``events``; the output topic's drain rate (records/s) and where the CPU went."""
        start = self._ends()
        cpu0, sec0 = self._cpu(), self._sections()
        for key, value in events:
            self.flood.send(self.src, key=key, value=value)
        self.flood.flush()
        self._wait_for(start, len(events))
        cpu = self._cpu() - cpu0
        sec = {k: v - sec0.get(k, 0.0) for k, v in self._sections().items()}
        stamps = sorted(ts for ts, _ in self._read(start))
        rate = (len(stamps) - 1) / max(0.001, (stamps[-1] - stamps[0]) / 1000)
        n = len(events)
        split = f"worker CPU {1e6 * cpu / n:.0f} us/event"
        if sec:
            minimize, process = sec.get("minimize", 0.0), sec.get("process", 0.0)
            produce = sec.get("produce", 0.0)
            rest = cpu - process - produce
            split += (
                f" = minimize_all {1e6 * minimize / n:.0f} + rest of processing "
                f"{1e6 * (process - minimize) / n:.0f} + produce {1e6 * produce / n:.0f} + "
                f"Faust/Kafka/other {1e6 * rest / n:.0f}"
            )
        return rate, split

    def latency(self, events: list[tuple[bytes, bytes]], rate: float) -> tuple[float, float]:
        """Send ``events`` at ``rate``/s; p50, p99 of send -> arrival (ms)."""
        start = self._ends()
        sent: dict[str, float] = {}
        t0 = time.time()
        for i, (key, value) in enumerate(events):
            delay = t0 + i / rate - time.time()
            if delay > 0:
                time.sleep(delay)
            sent[self.out_id(json.loads(value)["event_id"])] = time.time()
            self.paced.send(self.src, key=key, value=value)
        self.paced.flush()
        self._wait_for(start, len(events))
        lat = sorted(ts / 1000 - sent[json.loads(v)["event_id"]] for ts, v in self._read(start))
        return 1000 * lat[len(lat) // 2], 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))]


def measure(kind: str, workers: int, n: int, rounds: int, tmp: Path) -> Result:
    """Start the pipeline, warm up, run ``rounds`` (burst + latency); medians."""
    bench = Bench(kind, workers, tmp)
    try:
        bench.start()
        bench.burst(make_events(max(200, n // 5), f"{bench.tag}w"))  # warm-up, not counted
        results = []
        for r in range(rounds):
            rate, split = bench.burst(make_events(n, f"{bench.tag}t{r}"))
            paced_rate = max(10.0, LATENCY_LOAD * rate)
            count = max(20, min(2000, int(paced_rate * LATENCY_SECONDS)))
            p50, p99 = bench.latency(make_events(count, f"{bench.tag}l{r}"), paced_rate)
            results.append(Result(rate, p50, p99))
            print(
                f"  {kind} x{workers} round {r + 1}: {rate:.0f} ev/s; latency at "
                f"{paced_rate:.0f} ev/s: p50 {p50:.0f} ms, p99 {p99:.0f} ms; {split}",
                flush=True,
            )
    finally:
        bench.stop()
    return Result(
        statistics.median(x.rate for x in results),
        statistics.median(x.p50_ms for x in results),
        statistics.median(x.p99_ms for x in results),
    )


def passthrough(src: str, dst: str, port: int) -> None:
    """The anchor: a Faust agent that copies raw bytes from ``src`` to ``dst``.

    Same Faust and producer settings as the Veil worker (``faust_options``), so the
    difference measured is Veil's own work.
    """
    import faust

    from pipeline.settings import load_settings
    from pipeline.stream.app import faust_options

    settings = load_settings()
    app = faust.App(
        os.environ["VEIL_APP_ID"] + "-pass",
        broker=f"kafka://{BOOTSTRAP}",
        store="memory://",
        autodiscover=False,
        web_port=port,
        web_host="127.0.0.1",
        **faust_options(settings),
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


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_passthrough":
        passthrough(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=3000, help="log events per Veil round")
    p.add_argument("--pass-events", type=int, default=20000, help="events per pass-through round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="veil-bench-"))  # worker logs, Faust data
    print(f"start: {_load()}", flush=True)
    table: dict[tuple[str, int], Result] = {}
    for workers in args.workers:
        for kind, n in (("passthrough", args.pass_events), ("veil", args.events)):
            table[(kind, workers)] = measure(kind, workers, n, args.rounds, tmp)
    cores = os.cpu_count()
    print(f"stream benchmark: broker {BOOTSTRAP}, {cores} cores, median of {args.rounds} rounds")
    print(f"end: {_load()}")
    print(f"{'pipeline':<13}{'workers':>8}{'events/s':>11}{'p50 ms':>10}{'p99 ms':>10}")
    for (kind, workers), r in table.items():
        print(f"{kind:<13}{workers:>8}{r.rate:>11.0f}{r.p50_ms:>10.0f}{r.p99_ms:>10.0f}")
    for workers in args.workers:
        ratio = table[("veil", workers)].rate / table[("passthrough", workers)].rate
        per_worker = table[("veil", workers)].rate / workers
        print(
            f"veil/pass-through, {workers} worker(s): {ratio:.3f}; "
            f"veil per worker: {per_worker:.0f} events/s (target 5000, and >= 0.5 of pass-through)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
