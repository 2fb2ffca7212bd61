"""Integration fixtures: one real Kafka broker per session, unique topics per test.

The broker is ``VEIL_KAFKA_BOOTSTRAP`` when set; otherwise the project's broker
(``scripts/kafka``), started here when it is not running yet (and stopped at the end only if
this session started it). Every test gets its own topic prefix and consumer group, so tests
never see each other's records. Workers run as real ``veil worker`` subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka.admin import KafkaAdminClient

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from pipeline.policy import Policy, load_policy
from pipeline.settings import StreamSettings
from pipeline.stream.admin import create_topics
from pipeline.stream.topics import TopicNames, topic_specs
from tests.conftest import REPO

KAFKA_SCRIPT = REPO / "scripts" / "kafka"
VEIL = REPO / ".venv" / "bin" / "veil"
TEST_KEY = "integration-test-key-0123456789abcdef"


def _run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAFKA_SCRIPT), *args], capture_output=True, text=True, timeout=180, check=False
    )


@dataclass
class Broker:
    """The session's broker. ``managed``: started through scripts/kafka (restartable)."""

    bootstrap: str
    managed: bool

    def restart(self) -> None:
        """Stop and start the broker (only a broker this project manages)."""
        if not self.managed:
            pytest.skip("broker restart needs the project's broker (VEIL_KAFKA_BOOTSTRAP is set)")
        stop = _run_script("stop")
        assert stop.returncode == 0, stop.stderr
        start = _run_script("start")
        assert start.returncode == 0, start.stderr + start.stdout

    def stop(self) -> None:
        """Stop the broker (only a broker this project manages)."""
        if not self.managed:
            pytest.skip("needs the project's broker")
        assert _run_script("stop").returncode == 0

    def start(self) -> None:
        """Start the broker again after :meth:`stop`."""
        start = _run_script("start")
        assert start.returncode == 0, start.stderr + start.stdout


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    """The session's Kafka broker."""
    external = os.environ.get("VEIL_KAFKA_BOOTSTRAP")
    if external:
        yield Broker(external, managed=False)
        return
    started_here = _run_script("status").returncode != 0
    if started_here:
        start = _run_script("start")
        if start.returncode != 0:
            pytest.fail(f"scripts/kafka start failed:\n{start.stdout}\n{start.stderr}")
    port = os.environ.get("VEIL_KAFKA_PORT", "9092")
    yield Broker(f"127.0.0.1:{port}", managed=True)
    if started_here:
        _run_script("stop")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WorkerProc:
    """A ``veil worker`` subprocess."""

    proc: subprocess.Popen[bytes]
    web_port: int
    log_path: Path

    def health(self) -> dict[str, Any] | None:
        """The worker's /health body, None when it does not answer."""
        try:
            with urllib.request.urlopen(  # loopback URL built here
                f"http://127.0.0.1:{self.web_port}/health", timeout=2
            ) as resp:
                return dict(json.loads(resp.read()))
        except (OSError, ValueError):
            return None

    def metrics(self) -> str:
        """The worker's /metrics text."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as resp:
            return str(resp.read().decode())

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until the worker is healthy and owns partitions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            body = self.health()
            if body and body.get("status") == "ok" and body.get("assigned_partitions", 0) > 0:
                return
            time.sleep(0.5)
        pytest.fail(f"worker not ready after {timeout}s:\n{self.log()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` and reap the process."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def stop(self) -> int:
        """Stop cleanly (SIGTERM); SIGKILL after 30 s. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)

    def log(self) -> str:
        """The worker's output so far (last 6,000 characters)."""
        return self.log_path.read_text(errors="replace")[-6000:]


@dataclass
class StreamEnv:
    """One test's topics, group and helpers to produce, consume and run workers."""

    broker: Broker
    tmp: Path
    prefix: str
    app_id: str
    policy: Policy
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: list[WorkerProc] = field(default_factory=list)
    _producer: KafkaProducer | None = None

    @property
    def settings(self) -> StreamSettings:
        """The settings every worker of this test runs with."""
        return StreamSettings(
            kafka_bootstrap=self.broker.bootstrap,
            app_id=self.app_id,
            topic_prefix=self.prefix,
            partitions=4,
        )

    @property
    def names(self) -> TopicNames:
        """This test's topic names."""
        return TopicNames.build(self.settings, self.policy)

    def create_topics(self) -> None:
        """Create this test's topics (``veil topics create`` through the library)."""
        create_topics(self.settings, topic_specs(self.settings, self.policy))

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a worker subprocess."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
        env.update(
            VEIL_KAFKA_BOOTSTRAP=self.broker.bootstrap,
            VEIL_APP_ID=self.app_id,
            VEIL_TOPIC_PREFIX=self.prefix,
            VEIL_PSEUDONYM_KEY=TEST_KEY,
            VEIL_DATA_DIR=str(self.tmp / "veil-data"),
            VEIL_COMMIT_INTERVAL="0.5",
            VEIL_SESSION_TIMEOUT="10",  # quick failover after the SIGKILL tests
            TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS="",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def start_worker(self, *, wait: bool = True, **extra: str) -> WorkerProc:
        """Start a ``veil worker`` subprocess (and wait until it owns partitions)."""
        port = free_port()
        log_path = self.tmp / f"worker-{len(self.workers)}.log"
        with log_path.open("wb") as out:
            proc = subprocess.Popen(
                [str(VEIL), "--log-level", "INFO", "worker"],
                env=self.env(VEIL_WEB_PORT=str(port), **extra),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )
        worker = WorkerProc(proc, port, log_path)
        self.workers.append(worker)
        if wait:
            worker.wait_ready()
        return worker

    @property
    def producer(self) -> KafkaProducer:
        """A producer (acks=all) to this test's broker."""
        if self._producer is None:
            self._producer = KafkaProducer(
                bootstrap_servers=self.broker.bootstrap, acks="all", enable_idempotence=True
            )
        return self._producer

    def send_event(self, event: dict[str, Any]) -> None:
        """Produce ``event`` on its kind's raw topic, keyed by its user_id."""
        user = event.get("user_id")
        self.producer.send(
            self.names.raw[event["kind"]],
            key=user.encode() if user else None,
            value=json.dumps(event).encode(),
        )

    def send_consent(self, user_id: str, grants: dict[str, object]) -> None:
        """Produce a consent record and wait until the worker group has processed it."""
        record = {"user_id": user_id, "consent": grants, "updated_at": now_iso()}
        meta = self.producer.send(
            self.names.consent, key=user_id.encode(), value=json.dumps(record).encode()
        ).get(timeout=30)
        self.wait_committed(self.names.consent, meta.partition, meta.offset + 1)

    def wait_committed(self, topic: str, partition: int, offset: int, timeout: float = 60) -> None:
        """Wait until this test's group has committed ``offset`` on ``topic:partition``."""
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        tp = TopicPartition(topic, partition)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                offsets = admin.list_group_offsets({self.app_id: [tp]}).get(self.app_id, {})
                got = offsets.get(tp)
                if got is not None and got.offset >= offset:
                    return
                time.sleep(0.25)
        finally:
            admin.close()
        pytest.fail(f"{topic}:{partition} not committed to {offset} within {timeout}s")

    def read(
        self,
        topics: list[str],
        *,
        until: Callable[[list[Any]], bool] | None = None,
        timeout: float = 60,
        read_committed: bool = False,
        idle: float = 2.0,
    ) -> list[Any]:
        """Read ``topics`` from the beginning.

        Stops when ``until(records)`` is true (then reads ``idle`` seconds more to catch
        extras such as duplicates), or after ``timeout`` (returning what arrived).
        """
        consumer = KafkaConsumer(
            bootstrap_servers=self.broker.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            isolation_level="read_committed" if read_committed else "read_uncommitted",
        )
        try:
            tps = [
                TopicPartition(t, p)
                for t in topics
                for p in (consumer.partitions_for_topic(t) or set())
            ]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            records: list[Any] = []
            deadline = time.monotonic() + timeout
            done_at: float | None = None
            while time.monotonic() < deadline:
                for batch in consumer.poll(timeout_ms=300).values():
                    records.extend(batch)
                if done_at is None and until is not None and until(records):
                    done_at = time.monotonic()
                if done_at is not None and time.monotonic() - done_at >= idle:
                    break
            return records
        finally:
            consumer.close()

    def close(self) -> None:
        """Stop every worker and the producer, then delete this test's topics.

        Its own topics (the prefix) and Faust's internal ones (named after the app id): a
        long-lived development broker would otherwise collect thousands of topics, and every
        client's metadata request grows with them.
        """
        for w in self.workers:
            w.stop()
        if self._producer is not None:
            self._producer.close()
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap)
        try:
            mine = [
                t
                for t in admin.list_topics()
                if t.startswith(self.prefix) or t.startswith(self.app_id)
            ]
            if mine:
                admin.delete_topics(mine, timeout_ms=30_000)
        except Exception as exc:  # clean-up must not mask the test's own result
            warnings.warn(f"could not delete test topics: {type(exc).__name__}", stacklevel=1)
        finally:
            admin.close()


def now_iso() -> str:
    """Now, ISO 8601 UTC with a Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def stream_env(broker: Broker, tmp_path: Path) -> Iterator[StreamEnv]:
    """Fresh topics (prefix ``t<uuid>.``) and a fresh group for one test."""
    tag = uuid.uuid4().hex[:10]
    env = StreamEnv(
        broker=broker, tmp=tmp_path, prefix=f"t{tag}.", app_id=f"veil-{tag}", policy=load_policy()
    )
    env.create_topics()
    yield env
    env.close()
