"""Consent from the header and the snapshot: most restrictive wins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.sidecar.consent import ConsentSnapshot, parse_header, resolve


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", {}),
        ("location=granted", {"location": True}),
        ("location=GRANTED, advertising=denied", {"location": True, "advertising": False}),
        ("location=true,ads=yes,x=1", {"location": True, "ads": True, "x": True}),
        ("location=maybe", {"location": False}),
        ("location", {}),  # no value: not an item
        ("=granted, 9bad=granted", {}),  # malformed keys are skipped
        ("location=granted, location=denied", {"location": False}),  # repeated: restrictive
        ("location=denied, location=granted", {"location": False}),
    ],
)
def test_parse_header(header: str | None, expected: dict[str, bool] | None) -> None:
    assert parse_header(header) == expected


def _snapshot(tmp_path: Path, *records: dict[str, object]) -> ConsentSnapshot:
    path = tmp_path / "consent.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return ConsentSnapshot.load(path)


WHEN = "2026-11-01T12:00:00Z"


@pytest.mark.parametrize(
    ("header", "user", "granted"),
    [
        # u-1 granted location and ads in the snapshot.
        (None, "u-1", {"location", "advertising"}),
        ("location=granted", "u-1", {"location", "advertising"}),
        ("location=denied", "u-1", {"advertising"}),
        # The header cannot grant what the snapshot does not.
        ("location=granted,advertising=granted", "u-2", {"advertising"}),
        ("location=granted", "u-unknown", set()),
        ("location=granted", None, set()),
    ],
)
def test_resolve_with_snapshot(
    tmp_path: Path, header: str | None, user: str | None, granted: set[str]
) -> None:
    snapshot = _snapshot(
        tmp_path,
        {"user_id": "u-1", "consent": {"location": True, "advertising": True}, "updated_at": WHEN},
        {"user_id": "u-2", "consent": {"location": False, "advertising": True}, "updated_at": WHEN},
    )
    assert resolve(header, user, snapshot).granted == frozenset(granted)


@pytest.mark.parametrize(
    ("header", "granted"),
    [
        (None, set()),
        ("location=granted", {"location"}),
        ("location=denied", set()),
        ("location=granted, advertising=no", {"location"}),
    ],
)
def test_resolve_header_only(header: str | None, granted: set[str]) -> None:
    assert resolve(header, "u-1", None).granted == frozenset(granted)


def test_bad_snapshot_names_the_line_not_the_value(tmp_path: Path) -> None:
    path = tmp_path / "consent.jsonl"
    good = '{"user_id": "u-1", "consent": {}, "updated_at": "' + WHEN + '"}\n'
    path.write_text(good + '{"user_id": "secret-user-77", "consent": "yes"}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        ConsentSnapshot.load(path)
    assert "line 2" in str(info.value)
    assert "secret-user-77" not in str(info.value)


def test_missing_snapshot_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ConsentSnapshot.load(tmp_path / "absent.jsonl")
