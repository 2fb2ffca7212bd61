"""Consent records: strict validation, fail closed."""

from __future__ import annotations

import json

import pytest

from pipeline.consent import Consent
from pipeline.errors import Reason, RecordError
from pipeline.stream.codecs import (
    consent_from_table,
    consent_to_table,
    dumps,
    parse_consent_record,
)

KEYS = frozenset({"location", "advertising", "third_party_sharing"})


def record(**fields: object) -> bytes:
    return json.dumps({"user_id": "u-1", "consent": {}, **fields}).encode()


@pytest.mark.parametrize(
    ("value", "granted"),
    [
        (record(consent={"location": True}), {"location"}),
        (record(consent={"location": "granted", "advertising": False}), {"location"}),
        (record(consent={"advertising": "denied", "location": None}), set()),
        (record(consent={}, updated_at="2026-11-01T12:00:00Z"), set()),
    ],
)
def test_valid_records(value: bytes, granted: set[str]) -> None:
    update = parse_consent_record(b"u-1", value, KEYS)
    assert update.user_id == "u-1"
    assert update.consent is not None
    assert update.consent.granted == granted


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (None, record(), Reason.MISSING_USER),
        (b"\xff", record(), Reason.INVALID_UTF8),
        (b"u-1", b"{nope", Reason.MALFORMED_JSON),
        (b"u-1", b"\xff\xfe", Reason.INVALID_UTF8),
        (b"u-1", b"[1]", Reason.NOT_AN_OBJECT),
        (b"u-1", record(extra=1), Reason.UNKNOWN_CONSENT_KEY),
        (b"u-1", record(consent={"tracking": True}), Reason.UNKNOWN_CONSENT_KEY),
        (b"u-2", record(), Reason.KEY_MISMATCH),
        (b"u-1", json.dumps({"consent": {}}).encode(), Reason.KEY_MISMATCH),
        (b"u-1", record(consent=["location"]), Reason.WRONG_TYPE),
        (b"u-1", record(consent={"location": 1}), Reason.WRONG_TYPE),
        (b"u-1", record(consent={"location": "yes"}), Reason.WRONG_TYPE),
        (b"u-1", record(updated_at="yesterday"), Reason.WRONG_TYPE),
        (b"u-1", b" " * 70_000, Reason.TOO_LARGE),
    ],
)
def test_refused_records(key: bytes | None, value: bytes, reason: Reason) -> None:
    with pytest.raises(RecordError) as info:
        parse_consent_record(key, value, KEYS)
    assert info.value.reason is reason
    assert "tracking" not in str(info.value)  # names counts and fields, not producer values


def test_tombstone_removes_consent() -> None:
    update = parse_consent_record(b"u-1", None, KEYS)
    assert update.consent is None


def test_table_round_trip_and_fail_closed() -> None:
    consent = Consent(frozenset({"location"}), "v1")
    assert consent_from_table(json.loads(dumps(consent_to_table(consent)))) == consent
    for junk in (None, "x", {"granted": "location"}, {"granted": [1]}, []):
        assert consent_from_table(junk) == Consent.none()


@pytest.mark.parametrize(
    ("value", "same_bytes"),
    [
        ({"event_id": "e-1", "payload": {"m": "héllo <EMAIL_ADDRESS> ✓", "n": [1, 2.5]}}, True),
        ({"f": 0.1, "h": 123456789.125, "i": -0.0, "t": True, "z": None}, True),
        ({"unicode": "\u2028 sep, \x00 nul, \ud7ff, emoji \U0001f600", "q": '"\\/'}, True),
        ([{"a": {"b": {"c": []}}}, "x", 0], True),
        ({"big": 2**70}, True),  # beyond orjson's 64-bit integers: the standard library
        ({1: "non-string key"}, True),  # orjson refuses it; the standard library writes "1"
        ({"g": 1e-7, "e": 1.5e300}, False),  # exponents: 1e-7 where json writes 1e-07
    ],
)
def test_dumps_writes_what_the_standard_library_reads_back(value: object, same_bytes: bool) -> None:
    out = dumps(value)
    want = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert json.loads(out) == json.loads(want)
    assert (out == want) is same_bytes
