"""The replay loop against the real policy and minimizer: outcomes, order, no loss."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.consent import Consent
from pipeline.errors import Reason
from pipeline.policy import Policy
from tests.unit.replay.conftest import NOW, event, replay_files, write_lines

EMAIL = "jo.smith@example.com"


def test_log_event_minimized_for_analytics(policy: Policy, tmp_path: Path) -> None:
    src = write_lines(
        tmp_path / "in.jsonl",
        [json.dumps(event(1, ip="81.2.69.160", message=f"mail {EMAIL}", unknown_field="x"))],
    )
    r = replay_files([src], policy, tmp_path)
    (out,) = r.out
    assert out["payload"]["ip"].startswith("81.2.69.0")
    assert EMAIL not in r.out_text
    assert "<EMAIL_ADDRESS>" in out["payload"]["message"]
    assert "unknown_field" not in out["payload"]  # allow-list
    assert out["occurred_at"] == "2026-10-31T10:00:00Z"  # hour
    assert r.stats.entities["EMAIL_ADDRESS"] == 1
    assert len(r.audit) == 1
    assert r.audit[0]["forwarded"] is True


@pytest.mark.parametrize(
    ("purpose", "granted", "outcome"),
    [
        ("analytics", (), "out"),
        ("advertising", (), "consent"),
        ("advertising", ("advertising",), "out"),
        ("third_party", (), "consent"),
        ("third_party", ("third_party_sharing",), "out"),
        ("personalization", (), "consent"),
        ("personalization", ("personalization",), "out"),
    ],
)
def test_consent_from_snapshot_decides_purpose(
    policy: Policy, tmp_path: Path, purpose: str, granted: tuple[str, ...], outcome: str
) -> None:
    src = write_lines(tmp_path / "in.jsonl", [json.dumps(event(1, message="hello"))])
    consents = {"u-1": Consent(frozenset(granted), "v1")}
    r = replay_files([src], policy, tmp_path, purpose=purpose, consents=consents)
    if outcome == "out":
        assert len(r.out) == 1
        assert r.stats.dropped_total == 0
    else:
        assert r.out == []
        assert r.stats.dropped == {outcome: 1}
        assert r.audit[0]["forwarded"] is False
    assert r.stats.balanced


def test_event_consent_object_only_narrows(policy: Policy, tmp_path: Path) -> None:
    narrowing = event(1, message="hi") | {"consent": {"advertising": False}}
    widening = event(2, message="hi") | {"consent": {"advertising": True}}
    src = write_lines(tmp_path / "in.jsonl", [json.dumps(narrowing), json.dumps(widening)])
    consents = {"u-1": Consent(frozenset({"advertising"}))}  # u-2 has granted nothing
    r = replay_files([src], policy, tmp_path, purpose="advertising", consents=consents)
    assert r.out == []
    assert r.stats.dropped == {"consent": 2}


@pytest.mark.parametrize(
    ("age", "purpose", "dropped"),
    [
        (timedelta(days=10), "analytics", False),
        (timedelta(days=400), "analytics", True),  # retention 395 days
        (timedelta(days=29), "third_party", False),
        (timedelta(days=31), "third_party", True),  # retention 30 days
    ],
)
def test_retention_against_now(
    policy: Policy, tmp_path: Path, age: timedelta, purpose: str, dropped: bool
) -> None:
    src = write_lines(tmp_path / "in.jsonl", [json.dumps(event(1, message="hi"))])
    now = NOW.replace(hour=10) + age  # the event occurred on 2026-10-31
    consents = {"u-1": Consent(frozenset({"third_party_sharing"}))}
    r = replay_files([src], policy, tmp_path, purpose=purpose, now=now, consents=consents)
    assert (r.stats.dropped == {"retention": 1}) is dropped
    assert len(r.out) == (0 if dropped else 1)


@pytest.mark.parametrize("undated", ["forward", "withhold"])
def test_text_lines_without_a_time_follow_the_policys_undated_rule(
    policy: Policy, tmp_path: Path, undated: str
) -> None:
    # A free-text line has no event time, so retention cannot be checked: the policy says
    # whether such records are forwarded (scanned like any other) or withheld.
    src = write_lines(tmp_path / "notes.log", [f"free text from {EMAIL}"])
    r = replay_files([src], policy.model_copy(update={"undated": undated}), tmp_path)
    assert EMAIL not in r.out_text
    if undated == "forward":
        assert [o["payload"]["message"] for o in r.out] == ["free text from <EMAIL_ADDRESS>"]
    else:
        assert r.out == []
        assert r.stats.dropped == {"undated": 1}
    assert r.stats.balanced


@pytest.mark.parametrize("kind", ["log", "communication", "media_upload"])
def test_every_kind_is_forwarded_or_refused_never_raw(
    policy: Policy, tmp_path: Path, kind: str
) -> None:
    payloads = {
        "log": {"message": f"to {EMAIL}"},
        "communication": {"channel": "email", "from_account": EMAIL, "body": f"cc {EMAIL}"},
        "media_upload": {"filename": "a.jpg", "caption": f"by {EMAIL}", "content_b64": "AAAA"},
    }
    src = write_lines(tmp_path / "in.jsonl", [json.dumps(event(1, kind, **payloads[kind]))])
    r = replay_files([src], policy, tmp_path)
    assert EMAIL not in r.out_text
    assert r.stats.balanced
    assert r.stats.records_in == 1


BAD_LINES: list[tuple[bytes, Reason]] = [
    (b'{"event_id": "e", "kind": "log", ', Reason.MALFORMED_JSON),
    (b"[1, 2, 3]", Reason.NOT_AN_OBJECT),
    (b'{"event_id": "e", "user_id": null, "payload": {}}', Reason.MISSING_FIELD),
    (b'{"event_id": "e", "kind": "log", "payload": []}', Reason.WRONG_TYPE),
    (b'{"event_id": 7, "kind": "log", "payload": {}}', Reason.WRONG_TYPE),
    (b'{"event_id": "e", "kind": "fax", "payload": {}}', Reason.UNKNOWN_KIND),
    (
        b'{"event_id": "e", "kind": "log", "payload": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
        Reason.TOO_DEEP,
    ),
    (
        b'{"event_id": "e", "kind": "log", "payload": {"message": "' + b"x" * 300_000 + b'"}}',
        Reason.TOO_LARGE,
    ),
    (b'{"event_id": "e", "kind": "log", "payload": {"message": "caf\xe9"}}', Reason.INVALID_UTF8),
    (b'{"event_id": "e", "kind": "log", "payload": {"message": "\\ud800"}}', Reason.INVALID_UTF8),
]


@pytest.mark.parametrize(("raw", "reason"), BAD_LINES, ids=[str(r) for _, r in BAD_LINES])
def test_bad_record_is_dead_lettered_with_reason_and_line(
    policy: Policy, tmp_path: Path, raw: bytes, reason: Reason
) -> None:
    good = json.dumps(event(1, message=f"hi {EMAIL}")).encode()
    src = write_lines(tmp_path / "in.jsonl", [good, raw, good])
    r = replay_files([src], policy, tmp_path)
    assert len(r.out) == 2  # the run continued past the bad line
    (dl,) = r.dead
    assert dl.reason is reason
    assert dl.source == {"file": str(src), "line": 2}
    assert dl.message.startswith("line 2: ")
    assert dl.raw == raw  # exactly what was read, for re-processing
    assert r.stats.dead == {str(reason): 1}
    assert r.stats.balanced
    assert b"caf" not in r.out_text.encode() and "x" * 1000 not in r.out_text


def test_invalid_utf8_text_line_is_dead_lettered(policy: Policy, tmp_path: Path) -> None:
    src = write_lines(tmp_path / "a.log", [b"caf\xe9 jo@example.com", b"plain"])
    r = replay_files([src], policy, tmp_path)
    (dl,) = r.dead
    assert (dl.reason, dl.source["line"]) == (Reason.INVALID_UTF8, 1)
    assert r.stats.records_in == 2
    assert r.stats.balanced


def test_unreadable_file_and_huge_line_do_not_stop_the_run(policy: Policy, tmp_path: Path) -> None:
    good = json.dumps(event(1, message="ok"))
    a = write_lines(tmp_path / "a.jsonl", [good, "y" * 5000, good])
    b = tmp_path / "missing.jsonl"
    c = tmp_path / "c.jsonl.gz"
    c.write_bytes(gzip.compress((good + "\n").encode()))
    r = replay_files([a, b, c], policy, tmp_path, max_record_bytes=1000)
    assert len(r.out) == 3
    assert sorted(str(d.reason) for d in r.dead) == ["too_large", "unreadable_input"]
    assert r.stats.records_in == 5
    assert r.stats.balanced


def test_workers_keep_input_order_and_output(policy: Policy, tmp_path: Path) -> None:
    lines = [json.dumps(event(n, message=f"n={n} {EMAIL}")) for n in range(300)]
    lines[17] = "{broken"
    src = write_lines(tmp_path / "in.jsonl", lines)
    one = (
        replay_files([src], policy, tmp_path / "one", chunk_size=7)
        if (tmp_path / "one").mkdir() is None
        else None
    )
    two = (
        replay_files([src], policy, tmp_path / "two", workers=2, chunk_size=7)
        if (tmp_path / "two").mkdir() is None
        else None
    )
    assert one is not None and two is not None
    assert two.out_text == one.out_text
    assert [m["payload"]["message"].split()[0] for m in two.out] == [
        f"n={n}" for n in range(300) if n != 17
    ]
    assert [d.source["line"] for d in two.dead] == [18]
    assert two.stats.to_dict() | {"seconds": 0, "records_per_s": 0, "workers": 0} == (
        one.stats.to_dict() | {"seconds": 0, "records_per_s": 0, "workers": 0}
    )


def test_huge_text_line_is_dead_lettered_too_large(policy: Policy, tmp_path: Path) -> None:
    src = write_lines(tmp_path / "a.log", ["short line", "z" * 300_000, "another"])
    r = replay_files([src], policy, tmp_path)
    (dl,) = r.dead
    assert (dl.reason, dl.source["line"]) == (Reason.TOO_LARGE, 2)
    assert len(r.out) == 2
    assert r.stats.balanced


def test_unexpected_error_dead_letters_the_record_without_its_message(
    policy: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.replay.runner as runner

    real = runner.minimize

    def flaky(event: dict[str, object], **kw: object) -> object:
        if event["event_id"] == "e-2":
            raise ValueError(f"cannot handle {EMAIL}")  # a message quoting a value
        return real(event, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "minimize", flaky)
    lines = [json.dumps(event(n, message="hi")) for n in (1, 2, 3)]
    r = replay_files([write_lines(tmp_path / "in.jsonl", lines)], policy, tmp_path)
    assert len(r.out) == 2
    (dl,) = r.dead
    assert (dl.reason, dl.source["line"]) == (Reason.INTERNAL_ERROR, 2)
    assert EMAIL not in dl.message
    assert "ValueError" in dl.message
    assert r.stats.balanced
