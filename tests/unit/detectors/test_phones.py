"""The fast phone check accepts exactly what the reference rule (phonenumbers parse) accepts."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import (
    _build_national_number_for_parsing,
    _is_viable_phone_number,
)

from detectors.phones import _FAST_SHAPE, _NOT_DIGIT, PHONE_REGIONS, slow_valid_phone, valid_phone

_SEPS = ["", " ", "-", ".", "/", " - ", "  ", ")", "(", ") "]
_IDD = ["00", "011", "0011", "001", "012", "0013", "010", "00 ", "+", "+ ", "(+", "+(", ""]
_CCS = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_EXTS = [" x12", " ext. 3", "#45", " ext 123456", "x9", " # 7"]


def _group(digits: str, rng: random.Random) -> str:
    """Split ``digits`` into random groups joined by random separators."""
    out, i = [], 0
    while i < len(digits):
        n = rng.randint(1, 5)
        out.append(digits[i : i + n])
        i += n
    seps = [rng.choice(_SEPS) if rng.random() < 0.7 else " " for _ in out]
    text = "".join(g + s for g, s in zip(out, seps, strict=True))
    return text.rstrip(" -./()") or digits


def _examples() -> list[str]:
    """Valid example numbers of every region, in every format, plus one-digit mutations."""
    fmts = (
        phonenumbers.PhoneNumberFormat.E164,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    )
    types = (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
    )
    rng = random.Random(7)
    out: list[str] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in types:
            num = phonenumbers.example_number_for_type(region, kind)
            if num is None:
                continue
            for fmt in fmts:
                text = phonenumbers.format_number(num, fmt)
                out.append(text)
                pos = rng.randrange(len(text))
                if text[pos].isdigit():
                    out.append(text[:pos] + str(rng.randrange(10)) + text[pos + 1 :])
            nsn = phonenumbers.national_significant_number(num)
            out.append(f"00{num.country_code}{nsn}")  # IDD forms, valid from most regions
            out.append(f"011 {num.country_code} {nsn}")
            out.append(f"{num.country_code} {nsn}")  # country code without "+"
            out.append(nsn)  # national number without its national prefix
    return out


def _random_windows(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(n):
        kind = rng.random()
        length = rng.randint(5, 16)
        body = "".join(rng.choice("0123456789") for _ in range(length))
        if kind < 0.3:  # international, with "+" or an IDD
            body = str(rng.choice(_CCS)) + body[: rng.randint(4, 13)]
            text = rng.choice(_IDD) + _group(body, rng)
        elif kind < 0.55:  # national prefix forms
            text = _group(rng.choice(["0", "1", "0 ", "(0", "90", "01", "1 ("]) + body, rng)
        elif kind < 0.75:  # plain national digits
            text = _group(body, rng)
        elif kind < 0.85:  # region's own country code without "+"
            cc = phonenumbers.country_code_for_region(rng.choice(PHONE_REGIONS))
            text = _group(f"{cc}{rng.choice(['', '0'])}{body[:11]}", rng)
        else:
            text = _group(body, rng)
        if rng.random() < 0.08:
            text += rng.choice(_EXTS)
        out.append(text)
    return out


_TABLE = _examples() + _random_windows(4000, seed=20260101)


@pytest.mark.slow  # about 10,000 reference parses: 2-6 s on a shared core
def test_fast_equals_slow_on_fixed_table() -> None:
    expected = [slow_valid_phone(w) for w in _TABLE]
    # The table is only evidence if it holds many accepted and many rejected windows.
    assert sum(expected) > 1000
    assert len(expected) - sum(expected) > 1000
    mismatched = [w for w, e in zip(_TABLE, expected, strict=True) if valid_phone(w) != e]
    assert mismatched == []


@pytest.mark.slow  # about 12,000 reference parses
def test_x_extensions_do_not_change_the_verdict() -> None:
    # valid_phone judges "<plain number> x<digits>" by the number alone; the reference parses
    # the whole window. Parentheses and dots keep the full rule (they gave mismatches).
    windows = [
        w.rstrip() + ext
        for w in _examples()[:1500] + _random_windows(1500, seed=20261130)
        for ext in (" x12", "x9", " ext. 3", " ext 123456")
    ]
    expected = [slow_valid_phone(w) for w in windows]
    assert sum(expected) > 1000
    assert len(expected) - sum(expected) > 1000
    assert [w for w, e in zip(windows, expected, strict=True) if valid_phone(w) != e] == []


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("+1 201-555-0123", True),
        ("(201) 555-0123", True),
        ("020 7946 0958", True),
        ("+44 20 7946 0958", True),
        ("0044 20 7946 0958", True),
        ("030 12345678", True),
        ("01 84 17 61 18", True),
        ("+91 81234 56789", True),
        ("+86 131 7915 3165", True),
        ("1234567", False),
        ("17151 2450", False),  # French number without its national prefix
        ("2024.0101", False),
        ("4111111111111111", False),
        ("+999 1234 5678", False),  # no such country code
        ("000 000 0000", False),
    ],
)
def test_known_windows(window: str, expected: bool) -> None:
    assert slow_valid_phone(window) is expected
    assert valid_phone(window) is expected


_window = st.builds(
    lambda prefix, digits, seps, ext: (
        prefix + "".join(d + s for d, s in zip(digits, seps, strict=False)) + digits[-1] + ext
    ),
    st.sampled_from(["", "+", "(", "(+", "00", "011", "0", "+0", "1 ", "+44 (0)"]),
    st.lists(st.text("0123456789", min_size=1, max_size=5), min_size=1, max_size=6),
    st.lists(st.sampled_from([" ", "-", ".", "/", ") ", "", " ("]), min_size=6, max_size=6),
    st.sampled_from(["", "", "", " x12", " ext. 3", "#4"]),
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_window)
def test_fast_equals_slow_property(window: str) -> None:
    assert valid_phone(window) == slow_valid_phone(window)


# valid_phone skips phonenumbers' viability check for fast-shape windows of 7-17 digits,
# because every such window is viable. Any shape the fast path accepts is generated here.
_fast_shape_window = st.builds(
    lambda opens, plus, body: "(" * opens + plus + body,
    st.integers(0, 3),
    st.sampled_from(["", "+"]),
    st.text("0123456789 ().-/", min_size=7, max_size=40),
)


@settings(max_examples=2000, deadline=None, derandomize=True)
@given(_fast_shape_window)
def test_fast_shape_windows_are_viable(window: str) -> None:
    assert _FAST_SHAPE.fullmatch(window)
    if 7 <= len(_NOT_DIGIT.sub("", window)) <= 17:
        assert _is_viable_phone_number(_build_national_number_for_parsing(window))
