"""Parametrized positive/negative tables per entity type, for every matcher."""

from __future__ import annotations

import functools
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import numbers
from detectors.scanner import Scanner, _Containment, redact, scan

MATCHERS = ["hyperscan", "re", "re2"]


@functools.cache
def scanner(matcher: str) -> Scanner:
    return Scanner(matcher=matcher)


def found(text: str, matcher: str | None = None) -> list[tuple[str, str]]:
    res = scanner(matcher).scan(text) if matcher else scan(text)
    return [(f.entity_type, text[f.start : f.end]) for f in res]


# (text, entity type, expected value or None when the type must NOT be found)
CASES = [
    # e-mail
    ("write to jo.doe@example.com today", "EMAIL_ADDRESS", "jo.doe@example.com"),
    ("x+tag@mail.example.co.uk.", "EMAIL_ADDRESS", "x+tag@mail.example.co.uk"),
    ("not an email: jo@localhost", "EMAIL_ADDRESS", None),
    ("a@a@a@a@a", "EMAIL_ADDRESS", None),
    # credit cards: Luhn, spaces/dashes, Amex grouping; Luhn-invalid and epoch ms rejected
    ("card 4111 1111 1111 1111 exp", "CREDIT_CARD", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004", "CREDIT_CARD", "5500-0000-0000-0004"),
    ("amex 3782 822463 10005", "CREDIT_CARD", "3782 822463 10005"),
    ("card 4111 1111 1111 1112", "CREDIT_CARD", None),
    ("ts=1700000000000 ms", "CREDIT_CARD", None),
    ("order 4111111111111112", "CREDIT_CARD", None),
    # IBAN: mod-97, spaced or compact, lowercase; bad checksum rejected
    ("to GB82 WEST 1234 5698 7654 32 now", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
    ("iban DE89370400440532013000.", "IBAN_CODE", "DE89370400440532013000"),
    ("gb82west12345698765432", "IBAN_CODE", "gb82west12345698765432"),
    ("to GB83 WEST 1234 5698 7654 32", "IBAN_CODE", None),
    ("DE00370400440532013000", "IBAN_CODE", None),
    # IPv4 / IPv6
    ("from 192.168.1.10:443", "IP_ADDRESS", "192.168.1.10"),
    ("peer 2001:db8::8a2e:370:7334 up", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    (
        "peer 2001:0db8:0000:0000:0000:ff00:0042:8329",
        "IP_ADDRESS",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
    ),
    ("bad 999.1.1.1 here", "IP_ADDRESS", None),
    ("version 1.2.3.4 released", "IP_ADDRESS", None),
    ("Chrome/120.0.6099.109 Safari", "IP_ADDRESS", None),
    ("lib 1.2.3.4.5 loaded", "IP_ADDRESS", None),
    ("at 12:30:45 today", "IP_ADDRESS", None),
    ("leading zero 01.02.03.04", "IP_ADDRESS", None),
    # MAC
    ("bssid 00:1a:2b:3c:4d:5e ok", "MAC_ADDRESS", "00:1a:2b:3c:4d:5e"),
    ("mac 00-1A-2B-3C-4D-5E", "MAC_ADDRESS", "00-1A-2B-3C-4D-5E"),
    ("cisco 001a.2b3c.4d5e", "MAC_ADDRESS", "001a.2b3c.4d5e"),
    ("mixed 00:1a-2b:3c-4d:5e", "MAC_ADDRESS", None),
    ("zero 00:00:00:00:00:00", "MAC_ADDRESS", None),
    # IMEI (Luhn)
    ("imei 490154203237518", "IMEI", "490154203237518"),
    ("IMEI: 35-209900-176148-1", "IMEI", "35-209900-176148-1"),
    ("imei 490154203237519", "IMEI", None),
    # device / advertising ids
    (
        "idfa 6D92078A-8246-4BA4-AE5B-76104861E7DC",
        "DEVICE_ID",
        "6D92078A-8246-4BA4-AE5B-76104861E7DC",
    ),
    (
        "gaid 38400000-8cf0-11bd-b23e-10b96e40000d.",
        "DEVICE_ID",
        "38400000-8cf0-11bd-b23e-10b96e40000d",
    ),
    ("idfa 00000000-0000-0000-0000-000000000000", "DEVICE_ID", None),
    # US SSN: invalid areas 000/666/9xx, group 00, serial 0000
    ("ssn 536-22-1234 on file", "US_SSN", "536-22-1234"),
    ("ssn 536 22 1234", "US_SSN", "536 22 1234"),
    ("SSN: 536221234", "US_SSN", "536221234"),
    ("ssn 000-12-3456", "US_SSN", None),
    ("ssn 666-12-3456", "US_SSN", None),
    ("ssn 912-12-3456", "US_SSN", None),
    ("ssn 536-00-1234", "US_SSN", None),
    ("ssn 536-22-0000", "US_SSN", None),
    ("ref 536221234 only", "US_SSN", None),
    # phones: E.164 and national formats of US, GB, DE, FR, CN, IN
    ("call +1 415-555-2671 now", "PHONE_NUMBER", "+1 415-555-2671"),
    ("call (415) 555-2671", "PHONE_NUMBER", "(415) 555-2671"),
    ("uk 020 7946 0958", "PHONE_NUMBER", "020 7946 0958"),
    ("mobile +44 7911 123456", "PHONE_NUMBER", "+44 7911 123456"),
    ("de 030 12345678", "PHONE_NUMBER", "030 12345678"),
    ("fr 01 42 68 53 00", "PHONE_NUMBER", "01 42 68 53 00"),
    ("cn 138 0013 8000", "PHONE_NUMBER", "138 0013 8000"),
    ("in +91 98765 43210", "PHONE_NUMBER", "+91 98765 43210"),
    ("at 2026-11-01 12:00:00", "PHONE_NUMBER", None),
    ("order ORD-889407 shipped", "PHONE_NUMBER", None),
    ("price 1234.56 EUR", "PHONE_NUMBER", None),
    ("Chrome/91.0.4472.124", "PHONE_NUMBER", None),
    # GPS
    ("at 48.85837, 2.29448 now", "GPS_COORDINATES", "48.85837, 2.29448"),
    ("pos 48.8584° N, 2.2945° E", "GPS_COORDINATES", "48.8584° N, 2.2945° E"),
    ("lat/lon 40.71, -74.00", "GPS_COORDINATES", "40.71, -74.00"),
    ("48°51'30\"N 2°17'40\"E", "GPS_COORDINATES", "48°51'30\"N 2°17'40\"E"),
    ("prices 1.25, 3.50", "GPS_COORDINATES", None),
    ("at 95.12345, 10.12345", "GPS_COORDINATES", None),
    # one labelled component is precise location on its own (a URL pair, a JSON key)
    ("lat=48.858370", "GPS_COORDINATES", "48.858370"),
    ('{"lng": -122.419416}', "GPS_COORDINATES", "-122.419416"),
    ("longitude: 2.2945 ok", "GPS_COORDINATES", "2.2945"),
    ("lat=1.5", "GPS_COORDINATES", None),  # under three decimals: not a location
    ("lat=95.1234", "GPS_COORDINATES", None),  # out of range for a latitude
    ("long: 12.5 ms", "GPS_COORDINATES", None),
    ("flat=12.345", "GPS_COORDINATES", None),  # not the label "lat"
    # URL
    ("see https://example.com/a?b=1.", "URL", "https://example.com/a?b=1"),
    ("www.example.org/path ok", "URL", "www.example.org/path"),
    ("(https://en.wikipedia.org/wiki/Foo_(bar))", "URL", "https://en.wikipedia.org/wiki/Foo_(bar)"),
    ("http://intranet/x", "URL", None),
    ("go to http:// now", "URL", None),
    # account numbers need a keyword
    ("account number 12345678 at the bank", "ACCOUNT_NUMBER", "12345678"),
    ("acct# 0012-3456-7890", "ACCOUNT_NUMBER", "0012-3456-7890"),
    ("ticket 12345678 closed", "ACCOUNT_NUMBER", None),
]


@pytest.mark.parametrize("matcher", MATCHERS)
@pytest.mark.parametrize(("text", "entity", "value"), CASES)
def test_entity_table(text: str, entity: str, value: str | None, matcher: str) -> None:
    values = [v for t, v in found(text, matcher) if t == entity]
    if value is None:
        assert values == []
    else:
        assert values == [value]


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("https://ex.com/p?email=jo%40example.com&x=1", "jo%40example.com"),
        ("https://ex.com/p?email=jo@example.com", "jo@example.com"),
        ("https://ex.com/u/jo.doe@example.com/profile", "jo.doe@example.com"),
        ("https://ex.com/r?to=https%3A%2F%2Fb.com%2F%3Fe%3Djo%2540ex.com", "jo%2540ex.com"),
        ("http://ex.com/?q=jo+doe%40ex.com", "doe%40ex.com"),
    ],
)
def test_pii_inside_url_is_its_own_finding(text: str, inner: str) -> None:
    res = scan(text)
    assert res[0].entity_type == "URL" and (res[0].start, res[0].end) == (0, len(text))
    emails = [f for f in res if f.entity_type == "EMAIL_ADDRESS"]
    assert [text[f.start : f.end] for f in emails] == [inner]
    assert redact(text, res) == text.replace(inner, "<EMAIL_ADDRESS>")


def test_only_overlap_is_inside_url_and_sorted() -> None:
    text = (
        "jo@ex.com 4111 1111 1111 1111 https://a.com/?ip=10.0.0.1&m=a%40b.de "
        "GB82 WEST 1234 5698 7654 32 +44 7911 123456 6D92078A-8246-4BA4-AE5B-76104861E7DC"
    )
    res = scan(text)
    assert [f.start for f in res] == sorted(f.start for f in res)
    urls = [f for f in res if f.entity_type == "URL"]
    for a, b in itertools.pairwise(res):
        if a.end > b.start:  # an overlap: b must sit inside a URL finding
            assert any(u.start <= b.start and b.end <= u.end for u in urls)
    assert {f.entity_type for f in res} >= {"EMAIL_ADDRESS", "CREDIT_CARD", "URL", "IP_ADDRESS",
                                           "IBAN_CODE", "PHONE_NUMBER", "DEVICE_ID"}  # fmt: skip


@pytest.mark.parametrize("matcher", MATCHERS)
def test_non_ascii_offsets_are_str_indices(matcher: str) -> None:
    text = "Grüße 👋 von Zoë: zoë.x@example.com, Tel. +49 30 12345678 ✓ 10.0.0.1"
    got = found(text, matcher)
    assert ("EMAIL_ADDRESS", "x@example.com") in got or (
        "EMAIL_ADDRESS",
        "zoë.x@example.com",
    ) in got
    assert ("PHONE_NUMBER", "+49 30 12345678") in got
    assert ("IP_ADDRESS", "10.0.0.1") in got


@pytest.mark.parametrize(
    "text", ["", "\x00\x00", "\udcff lone surrogate 10.0.0.1", "a" * 10_000, "1" * 10_000]
)
def test_odd_input_never_raises(text: str) -> None:
    res = scan(text)
    assert all(0 <= f.start < f.end <= len(text) for f in res)


def test_entity_subset_and_unknown_type() -> None:
    text = "jo@ex.com 10.0.0.1 https://a.com/?e=b%40c.de"
    only = scan(text, entities=["EMAIL_ADDRESS"])
    assert {f.entity_type for f in only} == {"EMAIL_ADDRESS"}
    assert len(only) == 2  # the URL is not reported, the e-mail inside it is
    with pytest.raises(ValueError, match="valid"):
        scan(text, entities=["NOPE"])


def test_redact_replaces_innermost_and_keeps_rest() -> None:
    text = "mail jo@ex.com or 4111-1111-1111-1111."
    assert redact(text, scan(text)) == "mail <EMAIL_ADDRESS> or <CREDIT_CARD>."
    assert redact(text, []) == text


# The version-word check was a regex tried at every position of the context; it is now
# decided from the end of the string. Same answers on any ASCII context.
_VERSION_RX = re.compile(r"(?:version|ver\.?|build|release|firmware|v)\s*[:=]?\s*$", re.IGNORECASE)


@pytest.mark.parametrize(
    "context",
    [
        "version ",
        "Version: ",
        "ver.",
        "VER=",
        "build  =  ",
        "release\t",
        "firmware:",
        "v",
        "dev",
        "app v ",
        "ip ",
        "ip: ",
        "version 2 ",
        "conversion",
        ":",
        "=",
        "",
        "  ",
        "vv:=",
        "ver:\n",
    ],
)
def test_version_word_matches_the_old_regex(context: str) -> None:
    assert numbers._after_version_word(context.lower()) == bool(_VERSION_RX.search(context))


@given(st.text(alphabet="versionbuildaefmwVBR.:= \t\nxy", max_size=24))
def test_version_word_matches_the_old_regex_on_random_contexts(context: str) -> None:
    assert numbers._after_version_word(context.lower()) == bool(_VERSION_RX.search(context))


# Digit runs inside validated spans are skipped; the containment test is a sorted search
# (a megabyte line of PII made the old all-pairs check quadratic). Same answers as all-pairs.
_span = st.tuples(st.integers(0, 60), st.integers(0, 20)).map(lambda t: (t[0], t[0] + t[1]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_span, max_size=12), st.lists(_span, min_size=1, max_size=12))
def test_containment_matches_all_pairs(
    spans: list[tuple[int, int]], runs: list[tuple[int, int]]
) -> None:
    inside = _Containment(list(spans))
    for s, e in runs:
        assert inside(s, e) == any(a <= s and e <= b for a, b in spans)


@pytest.mark.parametrize("matcher", ["hyperscan", "re"])
def test_non_ascii_offsets_point_at_the_values(matcher: str) -> None:
    text = "Zoë ✓ jo@exämple.de 10.1.2.3 ünï +44 7911 123456 ✓ ann@example.com " * 3
    found = Scanner(matcher=matcher).scan(text)
    values = [(f.entity_type, text[f.start : f.end]) for f in found]
    assert values.count(("EMAIL_ADDRESS", "ann@example.com")) == 3
    assert values.count(("IP_ADDRESS", "10.1.2.3")) == 3
    assert values.count(("PHONE_NUMBER", "+44 7911 123456")) == 3


# The scanner skips the matcher for texts where no candidate class can match; that shortcut
# must never hide a candidate, whatever the matcher.
@settings(max_examples=1500, deadline=None, derandomize=True)
@given(st.text(alphabet="abcdefABCDEFwWxyz-. ", min_size=0, max_size=48))
def test_skipped_texts_hold_no_candidate(text: str) -> None:
    from detectors.patterns import may_hold_candidate

    if not may_hold_candidate(text):
        for name in ("hyperscan", "re"):
            assert _scanner(name)._matcher.candidates(text) == []


@functools.cache
def _scanner(matcher: str) -> Scanner:
    return Scanner(matcher=matcher)


@pytest.mark.parametrize(
    "text",
    [
        "cafebabe-dead-beef-cafe-babecafebabe",
        "ab-cd-ef-ab-cd-ef",
        "abcd.efab.cdef",
        "see WWW.example.org",
        "ab::cd",
        "no digits but a@b.cd",
    ],
)
def test_digit_free_candidates_are_still_scanned(text: str) -> None:
    assert scan(text), text
