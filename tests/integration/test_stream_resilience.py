"""Failure tests: a worker killed with SIGKILL, the broker restarted, exactly-once mode."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest

from pipeline.consent import Consent
from tests.integration.conftest import StreamEnv
from tests.integration.streamkit import RAW_PII, canon, expected, log_event

pytestmark = [pytest.mark.integration, pytest.mark.slow]

USERS = [f"u-{i:03d}" for i in range(40)]


def events(n: int, tag: str) -> list[dict[str, Any]]:
    return [log_event(f"{tag}-{i:05d}", USERS[i % len(USERS)]) for i in range(n)]


def analytics_expected(env: StreamEnv, evs: list[dict[str, Any]]) -> Counter[str]:
    # Nobody consented to anything: analytics still gets every log event (minimized).
    return Counter(canon(expected(e, env.policy, Consent.none())["analytics"]) for e in evs)


def produce_paced(env: StreamEnv, evs: list[dict[str, Any]], per_second: float) -> None:
    for i, e in enumerate(evs):
        env.send_event(e)
        if i % 20 == 19:
            env.producer.flush()
            time.sleep(20 / per_second)
    env.producer.flush()


def decoded(records: list[Any]) -> Counter[str]:
    return Counter(canon(json.loads(r.value)) for r in records)


def test_two_workers_one_killed_nothing_lost_no_raw_pii(stream_env: StreamEnv) -> None:
    env = stream_env
    first = env.start_worker()
    env.start_worker()
    evs = events(300, "k9")
    want = analytics_expected(env, evs)
    analytics = env.names.purposes["analytics"]
    feeder = threading.Thread(target=produce_paced, args=(env, evs, 100.0))
    feeder.start()
    # Kill one worker once outputs are flowing, mid-stream.
    env.read([analytics], until=lambda rs: len(rs) >= 40, timeout=120, idle=0)
    first.kill()
    feeder.join()
    got = env.read([analytics], until=lambda rs: set(decoded(rs)) >= set(want), timeout=180)
    seen = decoded(got)
    missing = set(want) - set(seen)
    assert not missing, f"{len(missing)} of {len(want)} inputs never reached analytics"
    # At-least-once may duplicate; it may not invent.
    assert set(seen) == set(want)
    downstream = env.read(
        [env.names.purposes[p] for p in ("analytics", "advertising", "third_party", "surveys")]
        + [env.names.audit],
        timeout=5,
        idle=0,
    )
    for r in downstream:
        assert not any(v in r.value.decode() for v in RAW_PII), r.topic


def test_broker_restart_mid_stream_loses_nothing(stream_env: StreamEnv) -> None:
    env = stream_env
    env.start_worker()
    analytics = env.names.purposes["analytics"]
    before, after = events(60, "br-a"), events(60, "br-b")
    produce_paced(env, before, 200.0)
    env.read([analytics], until=lambda rs: len(rs) >= 20, timeout=60, idle=0)
    env.producer.close()
    env._producer = None
    env.broker.restart()
    produce_paced(env, after, 200.0)
    want = analytics_expected(env, before + after)
    got = env.read([analytics], until=lambda rs: set(decoded(rs)) >= set(want), timeout=180)
    missing = set(want) - set(decoded(got))
    assert not missing, f"{len(missing)} inputs lost across the broker restart"
    assert env.workers[0].proc.poll() is None, "the worker should ride out a broker restart"


def test_exactly_once_no_duplicates_after_worker_crash(stream_env: StreamEnv) -> None:
    env = stream_env
    eos = {"VEIL_PROCESSING_GUARANTEE": "exactly_once"}
    first = env.start_worker(**eos)
    evs = events(200, "eos")
    want = analytics_expected(env, evs)
    analytics = env.names.purposes["analytics"]
    feeder = threading.Thread(target=produce_paced, args=(env, evs, 100.0))
    feeder.start()
    env.read([analytics], until=lambda rs: len(rs) >= 30, timeout=120, idle=0, read_committed=True)
    first.kill()
    env.start_worker(**eos)
    feeder.join()
    got = env.read(
        [analytics],
        until=lambda rs: set(decoded(rs)) >= set(want),
        timeout=180,
        read_committed=True,
        idle=4,
    )
    seen = decoded(got)
    assert set(seen) == set(want), f"{len(set(want) - set(seen))} lost"
    dupes = {k: n for k, n in seen.items() if n > want[k]}
    assert not dupes, f"{len(dupes)} records duplicated under exactly-once"
