"""The streaming pipeline end to end on the real broker, with real ``veil worker`` processes."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from typing import Any

import pytest

from pipeline.consent import Consent
from tests.conftest import REPO
from tests.integration.conftest import VEIL, StreamEnv
from tests.integration.streamkit import (
    RAW_PII,
    canon,
    communication_event,
    expected,
    log_event,
    media_event,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL_GRANTS = {
    "location": True,
    "advertising": True,
    "third_party_sharing": True,
    "personalization": True,
    "surveys": True,
}


def by_topic(records: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in records:
        out.setdefault(r.topic, []).append(r)
    return out


# The default policy lets `service` and `security` keep account data and IPs (P1, P4); every
# other purpose and the audit topic must never carry a raw identifier.
RAW_ALLOWED = ("service", "security")


def assert_no_raw_pii(records: list[Any]) -> None:
    for r in records:
        if r.topic.endswith(tuple(f".veil.{p}" for p in RAW_ALLOWED)):
            continue
        blob = r.value.decode("utf-8", "replace") + repr(r.key)
        for value in RAW_PII:
            assert value not in blob, f"raw PII on {r.topic}"


def test_each_kind_end_to_end_per_purpose(stream_env: StreamEnv) -> None:
    env = stream_env
    env.start_worker()
    env.send_consent("u-1", ALL_GRANTS)
    consent = Consent.from_mapping(ALL_GRANTS)
    events = [
        log_event("e-log", "u-1"),
        communication_event("e-com", "u-1"),
        media_event("e-med", "u-1"),
    ]
    for e in events:
        env.send_event(e)
    env.producer.flush()
    want: dict[str, Counter[str]] = {t: Counter() for t in env.names.purposes.values()}
    for e in events:
        for purpose, out in expected(e, env.policy, consent).items():
            if out is not None:
                want[env.names.purposes[purpose]][canon(out)] += 1
    total = sum(sum(c.values()) for c in want.values())
    assert total >= 3 * 5, "the default policy forwards each kind to most purposes"
    topics = [*env.names.purposes.values(), env.names.audit]
    records = env.read(topics, until=lambda rs: len(rs) >= total + 3)
    got = by_topic(records)
    for topic, counts in want.items():
        assert Counter(canon(json.loads(r.value)) for r in got.get(topic, [])) == counts, topic
    audits = [json.loads(r.value) for r in got[env.names.audit]]
    assert sorted(a["event_id"] for a in audits) == ["e-com", "e-log", "e-med"]
    assert all(len(a["entries"]) == len(env.policy.purposes) for a in audits)
    assert_no_raw_pii(records)
    # The photo's GPS never leaves Veil raw: the stripper removed it (audit names the tags).
    media_audit = next(a for a in audits if a["event_id"] == "e-med")
    assert any("location" in str(entry["media"]) for entry in media_audit["entries"])


def test_consent_grant_and_revoke_change_the_next_events(stream_env: StreamEnv) -> None:
    env = stream_env
    env.start_worker()
    names = env.names
    steps: list[tuple[str, dict[str, object]]] = [
        ("e-none", {}),
        ("e-granted", {"location": True, "advertising": True, "third_party_sharing": True}),
        ("e-revoked", {"location": False, "advertising": "denied", "third_party_sharing": False}),
    ]
    want: dict[str, Counter[str]] = {t: Counter() for t in names.purposes.values()}
    for sent, (event_id, grants) in enumerate(steps, 1):
        if grants:
            env.send_consent("u-2", grants)
        event = log_event(event_id, "u-2")
        env.send_event(event)
        env.producer.flush()
        for purpose, out in expected(event, env.policy, Consent.from_mapping(grants)).items():
            if out is not None:
                want[names.purposes[purpose]][canon(out)] += 1
        # The next consent change must not overtake this event: wait until it is processed.
        env.read([names.audit], until=lambda rs, n=sent: len(rs) >= n, idle=0)
    total = sum(sum(c.values()) for c in want.values())
    got = by_topic(env.read(list(names.purposes.values()), until=lambda rs: len(rs) >= total))
    for topic, counts in want.items():
        assert Counter(canon(json.loads(r.value)) for r in got.get(topic, [])) == counts, topic
    # Only the event sent while advertising/third-party consent was granted reached them.
    assert len(got.get(names.purposes["advertising"], [])) == 1
    assert len(got.get(names.purposes["third_party"], [])) == 1
    location_seen = [
        "location" in json.loads(r.value).get("payload", {})
        for r in got.get(names.purposes["analytics"], [])
    ]
    assert location_seen.count(True) <= 1, "location only while consented"


def test_consent_table_survives_worker_restart(stream_env: StreamEnv) -> None:
    env = stream_env
    first = env.start_worker()
    env.send_consent("u-3", {"advertising": True})
    assert first.stop() == 0
    # The consent record's offset is committed: the next worker will not read it again and
    # must recover the table from its changelog.
    env.start_worker()
    env.send_event(log_event("e-after-restart", "u-3"))
    env.producer.flush()
    ads = env.names.purposes["advertising"]
    got = env.read([ads], until=lambda rs: len(rs) >= 1, timeout=60, idle=0.5)
    assert len(got) == 1, "advertising consent was lost across the restart"


def test_bad_input_is_dead_lettered_and_the_worker_keeps_running(stream_env: StreamEnv) -> None:
    env = stream_env
    worker = env.start_worker(VEIL_MAX_MESSAGE_BYTES="4096")
    names = env.names
    log_topic = names.raw["log"]
    bad: list[tuple[str, bytes | None, bytes]] = [
        (log_topic, b"u-9", b"{not json"),
        (log_topic, b"u-9", json.dumps({**log_event("e-big", "u-9"), "pad": "x" * 5000}).encode()),
        (
            log_topic,
            b"u-9",
            json.dumps({**log_event("e-kind", "u-9"), "kind": "telemetry"}).encode(),
        ),
        (log_topic, b"u-8", json.dumps(log_event("e-key", "u-9")).encode()),
        (names.raw["communication"], b"u-9", json.dumps(log_event("e-topic", "u-9")).encode()),
        (
            names.consent,
            b"u-9",
            json.dumps({"user_id": "u-9", "consent": {"tracking": True}}).encode(),
        ),
        (names.consent, b"u-9", json.dumps({"user_id": "u-9", "consent": {}, "extra": 1}).encode()),
    ]
    for topic, key, value in bad:
        env.producer.send(topic, key=key, value=value)
    env.send_event(log_event("e-anon", None))  # missing user_id: the policy says anonymous
    env.send_event(log_event("e-good", "u-9"))
    env.producer.flush()
    dlq = env.read([names.deadletter], until=lambda rs: len(rs) >= len(bad))
    reasons = Counter(dict(r.headers)["veil-reason"].decode() for r in dlq)
    assert reasons == Counter(
        {
            "malformed_json": 1,
            "too_large": 1,
            "unknown_kind": 1,
            "key_mismatch": 1,
            "kind_mismatch": 1,
            "unknown_consent_key": 2,
        }
    )
    for r in dlq:
        headers = dict(r.headers)
        assert headers["veil-source-topic"].decode() in (
            log_topic,
            names.consent,
            names.raw["communication"],
        )
        assert json.loads(r.value)["reason"] == headers["veil-reason"].decode()
    audits = env.read([names.audit], until=lambda rs: len(rs) >= 2)
    assert sorted(json.loads(a.value)["event_id"] for a in audits) == ["e-anon", "e-good"]
    # Nothing refused reached a purpose topic.
    purpose_records = env.read(list(names.purposes.values()), timeout=3)
    assert_no_raw_pii(purpose_records)
    assert worker.proc.poll() is None, "the worker must keep running"
    assert (worker.health() or {}).get("status") == "ok"
    metrics = worker.metrics()
    assert 'veil_stream_deadlettered_total{reason="unknown_consent_key"} 2.0' in metrics
    assert 'veil_stream_records_out_total{purpose="analytics"} 2.0' in metrics
    assert "veil_stream_processing_seconds_count" in metrics


def test_missing_user_dead_lettered_when_the_policy_says_so(stream_env: StreamEnv) -> None:
    env = stream_env
    src = (REPO / "config" / "policy.yaml").read_text()
    assert "missing_user: anonymous" in src
    strict = env.tmp / "policy-strict.yaml"
    strict.write_text(src.replace("missing_user: anonymous", "missing_user: dead_letter"))
    env.start_worker(VEIL_POLICY=str(strict))
    env.send_event(log_event("e-anon", None))
    env.producer.flush()
    dlq = env.read([env.names.deadletter], until=lambda rs: len(rs) >= 1, idle=0.5)
    assert [dict(r.headers)["veil-reason"] for r in dlq] == [b"missing_user"]


def test_worker_refuses_topics_that_are_not_co_partitioned(stream_env: StreamEnv) -> None:
    env = stream_env
    from kafka.admin import KafkaAdminClient, NewPartitions

    admin = KafkaAdminClient(bootstrap_servers=env.broker.bootstrap)
    try:
        admin.create_partitions({env.names.raw["communication"]: NewPartitions(6)})
    finally:
        admin.close()
    proc = subprocess.run(
        [str(VEIL), "worker"],
        env=env.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "not co-partitioned" in proc.stderr
    assert env.names.raw["communication"] in proc.stderr
