"""``veil replay kafka://RAW --out kafka://NEW``: re-minimize a topic from its first offset."""

from __future__ import annotations

import json
import subprocess
from collections import Counter

import pytest

from pipeline.consent import Consent
from tests.integration.conftest import VEIL, StreamEnv
from tests.integration.streamkit import canon, expected, log_event

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_replay_topic_under_current_consent(stream_env: StreamEnv) -> None:
    env = stream_env
    names = env.names
    grants = {"advertising": True}
    env.producer.send(
        names.consent,
        key=b"u-ads",
        value=json.dumps({"user_id": "u-ads", "consent": grants}).encode(),
    )
    env.producer.send(names.consent, key=b"u-bad", value=b"{not json")  # skipped, not fatal
    events = [log_event(f"r-{i}", "u-ads" if i % 2 else "u-none") for i in range(10)]
    for e in events:
        env.send_event(e)
    env.producer.send(names.raw["log"], key=b"u-x", value=b"\xff not utf-8")
    env.producer.flush()
    sink = f"{env.prefix}replayed.advertising"
    proc = subprocess.run(
        [
            str(VEIL),
            "replay",
            f"kafka://{names.raw['log']}",
            "--out",
            f"kafka://{sink}",
            "--purpose",
            "advertising",
        ],
        env=env.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "11 read, 5 written" in proc.stderr
    want = Counter(
        canon(out)
        for e in events
        if (
            out := expected(
                e,
                env.policy,
                Consent.from_mapping(grants) if e["user_id"] == "u-ads" else Consent.none(),
            )["advertising"]
        )
        is not None
    )
    assert sum(want.values()) == 5
    got = env.read([sink], until=lambda rs: len(rs) >= 5, timeout=30)
    assert Counter(canon(json.loads(r.value)) for r in got) == want
    dlq = env.read([names.deadletter], until=lambda rs: len(rs) >= 1, timeout=30, idle=0.5)
    assert [dict(r.headers)["veil-reason"] for r in dlq] == [b"invalid_utf8"]


def test_replay_refuses_sink_equal_to_source(stream_env: StreamEnv) -> None:
    topic = stream_env.names.raw["log"]
    proc = subprocess.run(
        [
            str(VEIL),
            "replay",
            f"kafka://{topic}",
            "--out",
            f"kafka://{topic}",
            "--purpose",
            "analytics",
        ],
        env=stream_env.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "not the source" in proc.stderr
