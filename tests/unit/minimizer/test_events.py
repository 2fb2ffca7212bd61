"""parse_event: envelope validation with reason codes (bad input never reaches a purpose)."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import MalformedEvent, Reason
from pipeline.events import MAX_DEPTH, MAX_EVENT_BYTES, MAX_STRING_CHARS, parse_event

GOOD = {"event_id": "e-1", "kind": "log", "user_id": None, "payload": {"message": "hi"}}


def _with(**changes: object) -> bytes:
    event = {**GOOD, **changes}
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


def _nested(depth: int) -> dict[str, object]:
    node: dict[str, object] = {"message": "x"}
    for _ in range(depth):
        node = {"a": node}
    return node


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"event_id": "e-1", "kind": ', Reason.MALFORMED_JSON),
        (b"not json", Reason.MALFORMED_JSON),
        (b'{"event_id": "e", "kind": "log", "payload": {"x": NaN}}', Reason.MALFORMED_JSON),
        (b'{"event_id": "e", "kind": "log", "payload": {"m": "\xff\xfe"}}', Reason.INVALID_UTF8),
        (b'{"event_id": "e", "kind": "log", "payload": {"m": "\\ud800"}}', Reason.INVALID_UTF8),
        (b"[1, 2]", Reason.NOT_AN_OBJECT),
        (b'"a string"', Reason.NOT_AN_OBJECT),
        (_with(kind=...), Reason.MISSING_FIELD),
        (_with(event_id=...), Reason.MISSING_FIELD),
        (_with(payload=...), Reason.MISSING_FIELD),
        (_with(kind="video"), Reason.UNKNOWN_KIND),
        (_with(kind=7), Reason.WRONG_TYPE),
        (_with(payload="text"), Reason.WRONG_TYPE),
        (_with(user_id=42), Reason.WRONG_TYPE),
        (_with(consent=["location"]), Reason.WRONG_TYPE),
        (_with(occurred_at="yesterday"), Reason.WRONG_TYPE),
        (_with(event_id=""), Reason.WRONG_TYPE),
        (_with(payload=_nested(MAX_DEPTH + 2)), Reason.TOO_DEEP),
        (b'{"payload": ' * 100_000 + b"1" + b"}" * 100_000, Reason.TOO_DEEP),
        (_with(payload={"message": "x" * (MAX_STRING_CHARS + 1)}), Reason.TOO_LARGE),
        (b" " * (MAX_EVENT_BYTES + 1), Reason.TOO_LARGE),
    ],
)
def test_bad_records_are_refused_with_their_reason(raw: bytes, reason: Reason) -> None:
    with pytest.raises(MalformedEvent) as info:
        parse_event(raw)
    assert info.value.reason is reason


def test_error_messages_never_echo_values() -> None:
    planted = "jo.secret@example.com"
    for raw in (_with(kind=planted), _with(occurred_at=planted), _with(user_id=[planted])):
        with pytest.raises(MalformedEvent) as info:
            parse_event(raw)
        assert planted not in str(info.value)


@pytest.mark.parametrize(
    "event",
    [
        GOOD,
        {**GOOD, "user_id": "u-1", "occurred_at": "2026-11-01T12:00:00Z"},
        {**GOOD, "kind": "communication", "consent": {"location": True}},
        {**GOOD, "kind": "media_upload", "payload": {"content_b64": "A" * (MAX_STRING_CHARS + 4)}},
        {**GOOD, "payload": _nested(MAX_DEPTH - 3)},
    ],
)
def test_valid_events_parse_unchanged(event: dict[str, object]) -> None:
    raw = json.dumps(event)
    assert parse_event(raw) == event
    assert parse_event(raw.encode()) == event
