"""Coarser forms of values: networks for IPs, ~1 km for coordinates, hours for times."""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from datetime import UTC, datetime

IPV4_PREFIX = 24
IPV6_PREFIX = 48
COORDINATE_DECIMALS = 2  # 0.01 degree: about 1.1 km of latitude, less of longitude

_IPV4 = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
_NUMBER = re.compile(r"[-+]?\d{1,3}(?:\.\d+)?")
_HEMISPHERE = re.compile(r"[NSEWnsew]")


@functools.lru_cache(maxsize=4096)  # pure; client addresses repeat in logs
def generalize_ip(text: str, *, with_prefix: bool = True) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network holding ``text``; None if not an IP address.

    Args:
        text: an IP address (IPv6 may carry a zone id, which is dropped).
        with_prefix: ``203.0.113.0/24`` when True, ``203.0.113.0`` when False (for URL hosts).
    """
    m = _IPV4.match(text)
    if m is not None:  # the common case, without ipaddress' object overhead
        octets = m.groups()
        if all(len(o) == 1 or o[0] != "0" for o in octets) and all(int(o) <= 255 for o in octets):
            base = f"{octets[0]}.{octets[1]}.{octets[2]}.0"
            return f"{base}/{IPV4_PREFIX}" if with_prefix else base
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return str(net) if with_prefix else str(net.network_address)


def generalize_coordinate(value: float) -> float:
    """Round a latitude or longitude to about 1 km."""
    return round(float(value), COORDINATE_DECIMALS)


def generalize_coordinates_text(text: str) -> str | None:
    """Rewrite a ``lat, lon`` pair found in text at about 1 km; None if it is not one.

    Only plain decimal pairs are rewritten; degrees-minutes-seconds and anything else
    returns None so the caller redacts instead (fail closed).
    """
    if _HEMISPHERE.search(text) or "°" in text:
        return None
    numbers = _NUMBER.findall(text)
    if len(numbers) != 2:
        return None
    lat, lon = (float(n) for n in numbers)
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    d = COORDINATE_DECIMALS
    return f"{generalize_coordinate(lat):.{d}f}, {generalize_coordinate(lon):.{d}f}"


def generalize_timestamp(ts: datetime) -> str:
    """ISO 8601 of ``ts`` truncated to the hour, in UTC (``2026-11-01T12:00:00Z``)."""
    hour = ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour.strftime("%Y-%m-%dT%H:00:00Z")


__all__ = [
    "COORDINATE_DECIMALS",
    "IPV4_PREFIX",
    "IPV6_PREFIX",
    "generalize_coordinate",
    "generalize_coordinates_text",
    "generalize_ip",
    "generalize_timestamp",
]
