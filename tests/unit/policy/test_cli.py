"""``veil policy check`` and ``veil policy explain`` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.cli.policy import parse_consent_arg
from pipeline.policy.loader import DEFAULT_POLICY


def test_check_default_policy_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check"]) == 0
    assert "policy OK" in capsys.readouterr().out


def test_check_invalid_policy_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text(DEFAULT_POLICY.read_text().replace("retention: 395d", "retention: forever"))
    assert main(["policy", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "purposes.analytics.retention" in err and "forever" not in err


def _rows(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in (
            "common",
            "log",
            "communication",
            "media_upload",
            "entity",
        ):
            rows[parts[1]] = line
    return rows


def test_p10_explain_shows_location_action_per_consent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "explain", "--purpose", "analytics"]) == 0
    without = _rows(capsys.readouterr().out)
    assert (
        " drop " in without["payload.location.lat"]
        and "not granted" in without["payload.location.lat"]
    )
    assert " redact " in without["GPS_COORDINATES"]
    assert (
        main(["policy", "explain", "--purpose", "analytics", "--consent", "location=granted"]) == 0
    )
    with_ = _rows(capsys.readouterr().out)
    assert (
        " generalize " in with_["payload.location.lat"] and "P10" in with_["payload.location.lat"]
    )
    assert " generalize " in with_["GPS_COORDINATES"]


def test_p14_explain_says_third_party_receives_nothing_without_consent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["policy", "explain", "--purpose", "third_party"]) == 0
    assert "receives NO record: needs consent third_party_sharing" in capsys.readouterr().out
    assert (
        main(["policy", "explain", "--purpose", "third_party", "--consent", "third_party_sharing"])
        == 0
    )
    assert "receives NO record" not in capsys.readouterr().out


def test_explain_unknown_purpose_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "explain", "--purpose", "marketing"]) == 2
    assert "analytics" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("arg", "granted"),
    [
        ("", set()),
        ("location=granted", {"location"}),
        ("location=granted,advertising=denied", {"location"}),
        ("location, advertising", {"location", "advertising"}),
        ("location=true", set()),  # only "granted" (or a bare key) grants
    ],
)
def test_consent_argument(arg: str, granted: set[str]) -> None:
    assert parse_consent_arg(arg).granted == granted
