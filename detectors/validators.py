"""Validators run on candidates only: checksums, ranges and parsers.

Each function takes the candidate text (already cut out by the matcher) and answers whether it
is a real instance of the entity. They are pure, allocation-light and never raise on bad input.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from typing import Final

_IBAN_LENGTHS: Final[dict[str, int]] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check over a string of ASCII digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_end(candidate: str) -> int | None:
    """Return the length of the valid IBAN at the start of ``candidate``, or None.

    The candidate may run on into a following word ("... 3210 this"): the country's registered
    length decides where the IBAN ends, then mod-97 (ISO 7064) must give 1.
    """
    country = candidate[:2].upper()
    length = _IBAN_LENGTHS.get(country)
    if length is None:
        return None
    compact: list[str] = []
    end = 0
    for i, ch in enumerate(candidate):
        if ch == " ":
            continue
        compact.append(ch.upper())
        if len(compact) == length:
            end = i + 1
            break
    if len(compact) != length or not compact[2].isdigit() or not compact[3].isdigit():
        return None
    rearranged = "".join(compact[4:] + compact[:4])
    if not rearranged.isalnum() or not rearranged.isascii():
        return None
    number = "".join(str(int(c, 36)) for c in rearranged)
    return end if int(number) % 97 == 1 else None


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """US SSN ranges: area not 000, 666 or 9xx; group not 00; serial not 0000.

    Also rejects the numbers published in advertising and all-same-digit fillers.
    """
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    whole = area + group + serial
    return whole not in ("078051120", "219099999", "123456789") and len(set(whole)) > 1


def ipv4_ok(groups: list[str]) -> bool:
    """Four dotted decimal groups, each 0-255, no leading zeros beyond one digit."""
    if len(groups) != 4:
        return False
    for g in groups:
        if not g or len(g) > 3 or int(g) > 255 or (len(g) > 1 and g[0] == "0"):
            return False
    return True


def ipv6_ok(candidate: str) -> bool:
    """A textual IPv6 address as :mod:`ipaddress` accepts it, not the bare ``::``."""
    colons = candidate.count(":")
    if colons < 2 or candidate == "::":
        return False
    # Eight groups (seven colons), six plus a dotted IPv4 tail, or "::": anything else (a time
    # of day, "12:30:45") is rejected before ipaddress raises, which costs microseconds.
    if colons < 6 and "::" not in candidate:
        return False
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


_MAC_ZERO: Final = frozenset({"000000000000", "ffffffffffff"})


def mac_ok(candidate: str) -> bool:
    """Colon, hyphen (one kind throughout) or Cisco-dot MAC, not all-zero or broadcast."""
    if "." in candidate:
        hexes = candidate.replace(".", "")
    else:
        seps = {candidate[i] for i in range(2, len(candidate), 3)}
        if len(seps) != 1:
            return False
        hexes = candidate.replace(seps.pop(), "")
    return len(hexes) == 12 and hexes.lower() not in _MAC_ZERO


def uuid_ok(candidate: str) -> bool:
    """A UUID-shaped device/advertising id that is not the nil id (limit-ad-tracking zeros)."""
    return candidate.strip("0-") != ""


_GPS_NUM: Final = re.compile(r"([-+]?)(\d{1,3})\.(\d+)")
_GPS_CONTEXT: Final = re.compile(r"(?:lat|lon|lng|gps|coord|location|position|geo)", re.IGNORECASE)


def gps_ok(candidate: str, before: str) -> bool:
    """A decimal latitude/longitude pair in range.

    Accepted when both numbers carry at least four decimals (about 10 m), or when a hemisphere
    letter or degree sign marks them as coordinates, or when a location keyword precedes them.
    Prices and versions ("1.25, 3.50") carry none of these.
    """
    nums = _GPS_NUM.findall(candidate)
    if len(nums) != 2:
        return False
    lat = float(f"{nums[0][0]}{nums[0][1]}.{nums[0][2]}")
    lon = float(f"{nums[1][0]}{nums[1][1]}.{nums[1][2]}")
    if abs(lat) > 90 or abs(lon) > 180:
        return False
    if min(len(nums[0][2]), len(nums[1][2])) >= 4:
        return True
    marked = "°" in candidate or candidate.rstrip()[-1:].upper() in ("E", "W")
    return marked or _GPS_CONTEXT.search(before) is not None


_GPS_VALUE: Final = re.compile(r"[-+]?(\d{1,3})\.\d{3,10}$")


def gps_component_start(candidate: str) -> int | None:
    """Where the value of a labelled coordinate ("lat=48.858370") starts, or None.

    Accepted when the value is in range for the label (latitude 90, longitude 180) and has at
    least three decimals (about 100 m): "lat=1.5" or "long: 12.5" are not locations.
    """
    m = _GPS_VALUE.search(candidate)
    if m is None:
        return None
    limit = 90 if candidate[:3].lower() == "lat" else 180
    return m.start() if int(m.group(1)) <= limit else None


def dms_ok(candidate: str) -> bool:
    """Degrees-minutes-seconds pair with minutes and seconds below 60 and degrees in range."""
    parts = re.findall(r"(\d{1,3})°[ ]?(\d{1,2})['′][ ]?(\d{1,2})", candidate)
    if len(parts) != 2:
        return False
    (d1, m1, s1), (d2, m2, s2) = parts
    return int(d1) <= 90 and int(d2) <= 180 and max(int(m1), int(m2), int(s1), int(s2)) < 60


def percent_decode(text: str, *, plus_is_space: bool) -> tuple[str, list[int]]:
    """Percent-decode ``text`` and map every decoded character back to ``text``.

    Returns ``(decoded, origin)`` where ``origin[i]`` is the index in ``text`` where decoded
    character ``i`` starts and ``origin[len(decoded)] == len(text)``. Escapes that do not form
    valid UTF-8 decode to U+FFFD (they cannot hide an ASCII e-mail or number); ``%zz`` stays
    literal.
    """
    out: list[str] = []
    origin: list[int] = []
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    pending_start = -1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and _is_hex2(text, i + 1):
            if pending_start < 0:
                pending_start = i
            chars = decoder.decode(bytes((int(text[i + 1 : i + 3], 16),)))
            for c in chars:
                out.append(c)
                origin.append(pending_start)
            if chars:
                pending_start = -1
            i += 3
            continue
        if pending_start >= 0:  # an unfinished multi-byte sequence before a literal
            for c in decoder.decode(b"", final=True):
                out.append(c)
                origin.append(pending_start)
            decoder.reset()
            pending_start = -1
        out.append(" " if ch == "+" and plus_is_space else ch)
        origin.append(i)
        i += 1
    if pending_start >= 0:
        for c in decoder.decode(b"", final=True):
            out.append(c)
            origin.append(pending_start)
    origin.append(n)
    return "".join(out), origin


def _is_hex2(text: str, i: int) -> bool:
    return i + 1 < len(text) and text[i] in HEX_CHARS and text[i + 1] in HEX_CHARS


HEX_CHARS: Final = frozenset("0123456789abcdefABCDEF")
