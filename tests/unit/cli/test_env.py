"""Boolean environment fallbacks read the same way in every subcommand."""

from __future__ import annotations

import argparse

import pytest

from pipeline.cli import inspect, scan, strip
from pipeline.cli.env import env_flag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("True", True),
        (" YES ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("", False),
        ("no", False),
    ],
)
def test_env_flag(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("VEIL_TEST_FLAG", raw)
    assert env_flag("VEIL_TEST_FLAG") is expected


@pytest.mark.parametrize(
    ("module", "argv", "var", "dest"),
    [
        (scan, ["scan"], "VEIL_SCAN_SHOW_VALUES", "show_values"),
        (inspect, ["inspect", "x.jpg"], "VEIL_INSPECT_SHOW_VALUES", "show_values"),
        (strip, ["strip", "x.jpg", "--out-dir", "o"], "VEIL_STRIP_KEEP_DATES", "keep_dates"),
    ],
)
def test_subcommands_share_the_rule(
    monkeypatch: pytest.MonkeyPatch, module: object, argv: list[str], var: str, dest: str
) -> None:
    """``True`` once enabled scan's flags but not strip's or inspect's."""
    monkeypatch.setenv(var, "True")
    parser = argparse.ArgumentParser()
    module.add_parser(parser.add_subparsers())  # type: ignore[attr-defined]
    assert getattr(parser.parse_args(argv), dest) is True
