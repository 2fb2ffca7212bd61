"""DeadLetter: the one shape of every refused record."""

from __future__ import annotations

import json

import pytest

from pipeline.deadletter import DeadLetter
from pipeline.errors import MalformedEvent, Reason


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b'{"kind": 1}', "raw"),
        ("caf\u00e9 line".encode(), "raw"),
        (b"\xff\xfe not utf-8", "raw_b64"),
        (b"", "raw"),
    ],
)
def test_round_trips_raw_bytes_exactly(raw: bytes, key: str) -> None:
    dl = DeadLetter(Reason.MALFORMED_JSON, "line 3: not JSON", {"file": "a.jsonl", "line": 3}, raw)
    line = dl.to_json_line()
    assert "\n" not in line
    data = json.loads(line)
    assert key in data
    assert ({"raw", "raw_b64"} - {key}).isdisjoint(data)
    back = DeadLetter.from_json_line(line)
    assert back == dl
    assert back.raw == raw


def test_from_error_keeps_reason_and_message() -> None:
    err = MalformedEvent(Reason.MISSING_FIELD, "field 'kind' is missing")
    dl = DeadLetter.from_error(err, source={"file": "x", "line": 1}, raw=b"{}")
    assert dl.reason is Reason.MISSING_FIELD
    assert dl.message == "field 'kind' is missing"
    assert json.loads(dl.to_json_line())["reason"] == "missing_field"


def test_source_cannot_be_changed_through_callers_dict() -> None:
    src: dict[str, str | int | None] = {"file": "a", "line": 1}
    dl = DeadLetter(Reason.TOO_LARGE, "m", src, b"")
    src["line"] = 99
    assert dl.source["line"] == 1
    with pytest.raises(TypeError):
        dl.source["line"] = 2  # type: ignore[index]


@pytest.mark.parametrize("line", ['{"message": "x"}', "[1, 2]", '"reason"'])
def test_from_json_line_rejects_other_records(line: str) -> None:
    with pytest.raises(ValueError, match="not a dead-letter record"):
        DeadLetter.from_json_line(line)


def test_pickles_for_worker_processes() -> None:
    import pickle

    dl = DeadLetter(Reason.TOO_DEEP, "nested deeper than 64", {"file": "a", "line": 2}, b"[[[")
    assert pickle.loads(pickle.dumps(dl)) == dl  # noqa: S301  (our own bytes)
