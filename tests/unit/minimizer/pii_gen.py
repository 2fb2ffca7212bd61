"""Hypothesis strategies for planted PII, valid by construction (checksums included)."""

from __future__ import annotations

import uuid

from hypothesis import strategies as st

DIGITS = "0123456789"


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=3, max_size=10))
    sep = draw(st.sampled_from(["", ".", "_", "+"]))
    tail = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=6))
    domain = draw(st.sampled_from(["example.com", "mail.example.org", "corp.example.net"]))
    return f"{local}{sep}{tail}@{domain}"


@st.composite
def phones(draw: st.DrawFn) -> str:
    area = draw(st.sampled_from(["212", "415", "312", "617", "206"]))
    exch = draw(st.integers(200, 989).filter(lambda n: n % 100 != 11 and n != 555))
    line = draw(st.integers(0, 9999))
    fmt = draw(
        st.sampled_from(["+1 {a} {e} {l}", "({a}) {e}-{l}", "+1-{a}-{e}-{l}", "{a}.{e}.{l}"])
    )
    return fmt.format(a=area, e=exch, l=f"{line:04d}")


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "37"]))
    length = 15 if prefix == "37" else 16
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from(DIGITS),
                min_size=length - 1 - len(prefix),
                max_size=length - 1 - len(prefix),
            )
        )
    )
    number = body + _luhn_digit(body)
    if draw(st.booleans()) and length == 16:
        sep = draw(st.sampled_from([" ", "-"]))
        return sep.join(number[i : i + 4] for i in range(0, 16, 4))
    return number


@st.composite
def ibans(draw: st.DrawFn) -> str:
    bban = "".join(draw(st.lists(st.sampled_from(DIGITS), min_size=18, max_size=18)))
    numeric = int(bban + "1314" + "00")  # D=13, E=14
    check = 98 - numeric % 97
    return f"DE{check:02d}{bban}"


@st.composite
def ssns(draw: st.DrawFn) -> str:
    area = draw(st.integers(1, 665).filter(lambda n: n != 666))
    group = draw(st.integers(1, 99))
    serial = draw(st.integers(1, 9999))
    return f"{area:03d}-{group:02d}-{serial:04d}"


@st.composite
def ipv4s(draw: st.DrawFn) -> str:
    first = draw(st.integers(11, 223).filter(lambda n: n != 127))
    mid = draw(st.lists(st.integers(0, 255), min_size=2, max_size=2))
    last = draw(st.integers(11, 254))  # a host, never the network address
    return f"{first}.{mid[0]}.{mid[1]}.{last}"


@st.composite
def ipv6s(draw: st.DrawFn) -> str:
    groups = draw(st.lists(st.integers(0x1000, 0xFFFF), min_size=6, max_size=6))
    return "2001:db8:" + ":".join(f"{g:x}" for g in groups)


@st.composite
def macs(draw: st.DrawFn) -> str:
    # An all-zero or broadcast address identifies no device; detectors rightly skip them.
    octets = draw(
        st.lists(st.integers(0, 255), min_size=6, max_size=6).filter(lambda o: len(set(o)) > 1)
    )
    sep = draw(st.sampled_from([":", "-"]))
    text = sep.join(f"{o:02x}" for o in octets)
    return text.upper() if draw(st.booleans()) else text


@st.composite
def imeis(draw: st.DrawFn) -> str:
    body = draw(st.sampled_from(["35", "86", "49"])) + "".join(
        draw(st.lists(st.sampled_from(DIGITS), min_size=12, max_size=12))
    )
    return body + _luhn_digit(body)


@st.composite
def device_ids(draw: st.DrawFn) -> str:
    value = str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4))
    return value.upper() if draw(st.booleans()) else value


@st.composite
def account_numbers(draw: st.DrawFn) -> tuple[str, str]:
    digits = "".join(
        draw(
            st.lists(st.sampled_from(DIGITS), min_size=9, max_size=14).filter(
                lambda d: len(set(d)) > 2
            )
        )
    )
    keyword = draw(st.sampled_from(["account number", "acct no.", "account #", "bank account"]))
    return f"{keyword} {digits}", digits


@st.composite
def coordinates(draw: st.DrawFn) -> tuple[str, list[str]]:
    # Away from 0,0 ("null island", a placeholder, not a place) and from whole degrees.
    lat = draw(st.floats(1.01, 80).filter(lambda x: x % 1 > 0.01)) * draw(st.sampled_from([1, -1]))
    lon = draw(st.floats(1.01, 170).filter(lambda x: x % 1 > 0.01)) * draw(st.sampled_from([1, -1]))
    places = draw(st.integers(4, 6))
    a, b = f"{lat:.{places}f}", f"{lon:.{places}f}"
    return f"{a}, {b}", [a, b]


# entity name -> strategy of (text to plant, [substrings that must never survive])
PLANTS: dict[str, st.SearchStrategy[tuple[str, list[str]]]] = {
    "EMAIL_ADDRESS": emails().map(lambda v: (v, [v])),
    "PHONE_NUMBER": phones().map(lambda v: (v, [v])),
    "CREDIT_CARD": cards().map(lambda v: (v, [v])),
    "IBAN_CODE": ibans().map(lambda v: (v, [v])),
    "US_SSN": ssns().map(lambda v: (v, [v])),
    "IP_ADDRESS": st.one_of(ipv4s(), ipv6s()).map(lambda v: (v, [v])),
    "MAC_ADDRESS": macs().map(lambda v: (v, [v])),
    "WIFI_BSSID": macs().map(lambda v: (f"bssid {v}", [v])),
    "IMEI": imeis().map(lambda v: (v, [v])),
    "DEVICE_ID": device_ids().map(lambda v: (v, [v])),
    "ACCOUNT_NUMBER": account_numbers().map(lambda t: (t[0], [t[1]])),
    "GPS_COORDINATES": coordinates(),
}
