"""Consent snapshot for replay: latest record per user wins; bad lines are config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.replay.consent_snapshot import load_consent_snapshot


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "consent.jsonl"
    path.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return path


def _rec(user: str, when: str, **consent: object) -> str:
    return json.dumps({"user_id": user, "consent": consent, "updated_at": when})


def test_latest_record_per_user_wins_in_any_order(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            _rec("u-1", "2026-05-01T00:00:00Z", location=True, advertising=True),
            _rec("u-1", "2026-03-01T00:00:00Z", location=True),  # older, later in the file
            _rec("u-2", "2026-01-01T00:00:00+02:00", advertising="granted", location="yes"),
            "",
        ],
    )
    snap = load_consent_snapshot(path)
    assert snap["u-1"].granted == {"location", "advertising"}
    assert snap["u-1"].version == "2026-05-01T00:00:00Z"
    assert snap["u-2"].granted == {"advertising"}  # only true / "granted" grant
    assert "u-3" not in snap


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("{not json", "line 2: not JSON"),
        ("[1]", "line 2: expected an object"),
        (json.dumps({"consent": {}, "updated_at": "2026-01-01T00:00:00Z"}), "'user_id'"),
        (
            json.dumps({"user_id": "u", "consent": [], "updated_at": "2026-01-01T00:00:00Z"}),
            "'consent'",
        ),
        (json.dumps({"user_id": "u", "consent": {}}), "'updated_at'"),
        (json.dumps({"user_id": "u", "consent": {}, "updated_at": "soon"}), "ISO-8601"),
        (json.dumps({"user_id": "u", "consent": {}, "updated_at": "2026-01-01T00:00"}), "zone"),
    ],
)
def test_bad_line_names_its_number_not_its_content(
    tmp_path: Path, line: str, fragment: str
) -> None:
    path = _write(tmp_path, [_rec("jo@example.com", "2026-01-01T00:00:00Z"), line])
    with pytest.raises(ConfigError, match="line 2") as info:
        load_consent_snapshot(path)
    assert fragment in str(info.value)
    assert "jo@example.com" not in str(info.value)


def test_unreadable_snapshot_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_consent_snapshot(tmp_path / "missing.jsonl")
