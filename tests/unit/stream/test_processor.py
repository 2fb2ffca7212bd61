"""EventProcessor: raw record in, purpose/audit records or one dead letter out."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.consent import Consent
from pipeline.minimizer import MinimizeContext, minimize_all
from pipeline.policy import Policy, load_policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.settings import StreamSettings
from pipeline.stream.metrics import StreamMetrics
from pipeline.stream.processor import EventProcessor, Source
from pipeline.stream.topics import TopicNames

KEYS = PseudonymKeys(base=b"unit-test-key-0123456789abcdef!!")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
EMAIL = "jo.tester@example.com"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
def proc(policy: Policy) -> EventProcessor:
    return EventProcessor(
        policy=policy,
        names=TopicNames.build(StreamSettings(), policy),
        keys=KEYS,
        metrics=StreamMetrics(),
        max_message_bytes=4096,
        clock=lambda: NOW,
    )


def event(**over: Any) -> dict[str, Any]:
    base = {
        "event_id": "e-1",
        "kind": "log",
        "user_id": "u-1",
        "occurred_at": "2026-11-30T11:00:00Z",
        "payload": {"ip": "203.0.113.7", "message": f"mail {EMAIL}", "device_id": "x"},
    }
    return {**base, **over}


SRC = Source("raw.log", 2, 41)
NO_CONSENT = Consent.none()


def run(
    proc: EventProcessor,
    value: bytes | None,
    key: bytes | None = b"u-1",
    consent: Consent = NO_CONSENT,
    topic: str = "raw.log",
) -> list[Any]:
    return proc.process(value, key, Source(topic, SRC.partition, SRC.offset), lambda _u: consent)


@pytest.mark.parametrize(
    "consent",
    [Consent.none(), Consent(frozenset({"advertising", "location", "third_party_sharing"}))],
)
def test_outputs_are_the_core_result_per_purpose(
    proc: EventProcessor, policy: Policy, consent: Consent
) -> None:
    ev = event()
    out = run(proc, json.dumps(ev).encode(), consent=consent)
    ctx = MinimizeContext(keys=KEYS, now=NOW)
    want = {
        proc.names.purposes[p]: m.event
        for p, m in minimize_all(ev, policy=policy, consent=consent, context=ctx).items()
        if m.event is not None
    }
    purpose_records = {r.topic: json.loads(r.value) for r in out[:-1]}
    assert purpose_records == want
    audit = out[-1]
    assert audit.topic == proc.names.audit
    body = json.loads(audit.value)
    assert body["source"] == {"topic": "raw.log", "partition": 2, "offset": 41}
    assert len(body["entries"]) == len(policy.purposes)
    assert EMAIL not in audit.value.decode()
    for r in out[:-1]:
        assert r.key != b"u-1" or r.topic in (
            proc.names.purposes["service"],
            proc.names.purposes["security"],
        )
        assert dict(r.headers)["veil-policy-version"] == policy.version.encode()


def test_advertising_needs_consent(proc: EventProcessor) -> None:
    ads = proc.names.purposes["advertising"]
    without = run(proc, json.dumps(event()).encode())
    with_ = run(proc, json.dumps(event()).encode(), consent=Consent(frozenset({"advertising"})))
    assert ads not in {r.topic for r in without}
    assert ads in {r.topic for r in with_}


@pytest.mark.parametrize(
    ("value", "key", "topic", "reason"),
    [
        (b"{nope", b"u-1", "raw.log", "malformed_json"),
        (None, b"u-1", "raw.log", "missing_field"),
        (json.dumps(event(pad="x" * 5000)).encode(), b"u-1", "raw.log", "too_large"),
        (json.dumps(event(kind="telemetry")).encode(), b"u-1", "raw.log", "unknown_kind"),
        (json.dumps(event()).encode(), b"u-2", "raw.log", "key_mismatch"),
        (json.dumps(event()).encode(), None, "raw.log", "key_mismatch"),
        (json.dumps(event()).encode(), b"u-1", "raw.communication", "kind_mismatch"),
        (json.dumps(event(payload=[])).encode(), b"u-1", "raw.log", "wrong_type"),
    ],
)
def test_bad_records_become_one_dead_letter(
    proc: EventProcessor, value: bytes | None, key: bytes | None, topic: str, reason: str
) -> None:
    out = run(proc, value, key=key, topic=topic)
    assert len(out) == 1
    dl = out[0]
    assert dl.topic == proc.names.deadletter
    headers = dict(dl.headers)
    assert headers["veil-reason"] == reason.encode()
    assert headers["veil-source-topic"] == topic.encode()
    assert headers["veil-source-offset"] == b"41"
    body = json.loads(dl.value)
    assert body["reason"] == reason
    assert body["raw"] == (value or b"").decode()
    assert EMAIL not in body["message"]


def test_anonymous_event_is_processed_under_the_default_policy(proc: EventProcessor) -> None:
    out = run(proc, json.dumps(event(user_id=None)).encode(), key=None)
    assert out[-1].topic == proc.names.audit
    assert all(r.key is None for r in out)


def test_a_bug_in_the_core_is_dead_lettered_not_raised(
    policy: Policy, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_scan(text: str) -> list[Any]:
        raise ZeroDivisionError(f"choked on {text}")  # a careless message quoting the value

    proc = EventProcessor(
        policy=policy,
        names=TopicNames.build(StreamSettings(), policy),
        keys=KEYS,
        metrics=StreamMetrics(),
        max_message_bytes=4096,
        clock=lambda: NOW,
        scan=broken_scan,
    )
    raw = json.dumps(event()).encode()
    with caplog.at_level(logging.DEBUG):
        out = run(proc, raw)
    assert [dict(r.headers)["veil-reason"] for r in out] == [b"internal_error"]
    assert "ZeroDivisionError" in caplog.text
    assert "choked on" not in caplog.text  # the exception's message never reaches the log


def test_free_text_is_scanned_once_per_record(policy: Policy) -> None:
    calls: list[str] = []

    def counting_scan(text: str) -> list[Any]:
        from detectors.scanner import scan

        calls.append(text)
        return scan(text)

    proc = EventProcessor(
        policy=policy,
        names=TopicNames.build(StreamSettings(), policy),
        keys=KEYS,
        metrics=StreamMetrics(),
        max_message_bytes=4096,
        clock=lambda: NOW,
        scan=counting_scan,
    )
    run(proc, json.dumps(event()).encode())
    assert calls, "the message is scanned"
    assert len(calls) == len(set(calls))


def test_metrics_count_in_out_deadletters_and_entities(proc: EventProcessor) -> None:
    run(proc, json.dumps(event()).encode())
    run(proc, b"{nope")
    text = proc.metrics.render().decode()
    assert 'veil_stream_records_in_total{kind="log"} 2.0' in text
    assert 'veil_stream_records_out_total{purpose="analytics"} 1.0' in text
    assert 'veil_stream_deadlettered_total{reason="malformed_json"} 1.0' in text
    assert 'veil_stream_entities_total{entity_type="EMAIL_ADDRESS"}' in text
    assert (
        'veil_stream_records_withheld_total{purpose="advertising",reason="consent:advertising"} 1.0'
        in text
    )
    assert EMAIL not in text
