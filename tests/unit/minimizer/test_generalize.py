"""Generalization (P4, P7, P9): IPv4 /24, IPv6 /48, ~1 km coordinates, time to the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline.minimizer.generalize import (
    generalize_coordinate,
    generalize_coordinates_text,
    generalize_ip,
    generalize_timestamp,
)


@pytest.mark.parametrize(
    ("ip", "net"),
    [
        ("203.0.113.45", "203.0.113.0/24"),
        ("10.1.2.254", "10.1.2.0/24"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::/48"),
        ("fe80::1%eth0", "fe80::/48"),
        ("[2001:db8::1]", "2001:db8::/48"),
        ("not-an-ip", None),
        ("999.1.1.1", None),
        ("", None),
    ],
)
def test_p4_ip_generalized_to_network(ip: str, net: str | None) -> None:
    assert generalize_ip(ip) == net


def test_ip_without_prefix_for_url_hosts() -> None:
    assert generalize_ip("203.0.113.45", with_prefix=False) == "203.0.113.0"


@pytest.mark.parametrize(
    ("value", "coarse"), [(48.858370, 48.86), (-33.868820, -33.87), (2.294481, 2.29), (0.004, 0.0)]
)
def test_p9_coordinates_to_about_1km(value: float, coarse: float) -> None:
    assert generalize_coordinate(value) == coarse
    assert abs(generalize_coordinate(value) - value) <= 0.005 + 1e-12


@pytest.mark.parametrize(
    ("text", "coarse"),
    [
        ("48.858370, 2.294481", "48.86, 2.29"),
        ("-33.868820,151.209290", "-33.87, 151.21"),
        ("48°51'29.5\"N 2°17'40.1\"E", None),  # DMS: redacted instead
        ("91.5, 10.0", None),
        ("12.5", None),
    ],
)
def test_p9_coordinates_in_text(text: str, coarse: str | None) -> None:
    assert generalize_coordinates_text(text) == coarse


@pytest.mark.parametrize(
    ("ts", "hour"),
    [
        (datetime(2026, 11, 1, 12, 34, 56, 789, tzinfo=UTC), "2026-11-01T12:00:00Z"),
        (datetime(2026, 11, 1, 0, 59, tzinfo=timezone(timedelta(hours=2))), "2026-10-31T22:00:00Z"),
    ],
)
def test_p7_timestamps_to_the_hour(ts: datetime, hour: str) -> None:
    assert generalize_timestamp(ts) == hour
