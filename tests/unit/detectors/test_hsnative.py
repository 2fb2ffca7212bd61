"""The Hyperscan C extension gives exactly the python-hyperscan binding's candidates."""

from __future__ import annotations

import importlib
import itertools
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.matchers import HyperscanMatcher
from detectors.patterns import PATTERNS

try:
    hsnative = importlib.import_module("detectors._hsnative")
except ImportError:  # pragma: no cover - CI builds it (VEIL_REQUIRE_NATIVE)
    hsnative = None

pytestmark = pytest.mark.skipif(
    hsnative is None and os.environ.get("VEIL_REQUIRE_NATIVE") != "1",
    reason="detectors._hsnative not built (scripts/build-native needs libhyperscan-dev)",
)

_PIECES = [
    "jo@example.com", "+44 7911 123456", "4111 1111 1111 1111", "GB82 WEST 1234 5698 7654 32",
    "2001:db8::1", "10.1.2.3", "00:1A:2B:3C:4D:5E", "0123.4567.89ab", "48.858370, 2.294481",
    "6D92078A-8246-4BA4-AE5B-76104861E7DC", "https://x.org/a?email=jo%40ex.de", "www.ex.com/p",
    "lat: 48.8583", "40°26′46″N 79°58′56″W", "078-05-1120", "(201) 513-1479", "é", "日本",
    "\ud800", "\x00", " ", "-", ".", ":", "/", "1", "12", "a", "ff", "\n",
]  # fmt: skip


@pytest.fixture(scope="module")
def engines() -> tuple[HyperscanMatcher, HyperscanMatcher]:
    return (
        HyperscanMatcher(PATTERNS, engine="libhs"),
        HyperscanMatcher(PATTERNS, engine="python-hyperscan"),
    )


@settings(max_examples=500, deadline=None)
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=30))
def test_engines_agree(
    engines: tuple[HyperscanMatcher, HyperscanMatcher], pieces: list[str]
) -> None:
    native, binding = engines
    text = "".join(pieces)
    assert native.candidates(text) == binding.candidates(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no candidates here",
        "call +44 7911 123456 or mail jo@example.com from 10.1.2.3",
        "née à Zürich, tél. +33 6 12 23 55 12, ✉ jo@example.com",
        "x" * 10_000 + " 4111 1111 1111 1111",
        "1" * 100_000,
        "a:" * 50_000,
    ],
)
def test_engines_agree_on_edge_cases(
    engines: tuple[HyperscanMatcher, HyperscanMatcher], text: str
) -> None:
    native, binding = engines
    assert native.engine == "libhs" and binding.engine == "python-hyperscan"
    assert native.candidates(text) == binding.candidates(text)
    data = text.encode("utf-8", "surrogatepass")
    assert native.events(data) == binding.events(data)


def test_events_are_sorted_and_thinned(engines: tuple[HyperscanMatcher, HyperscanMatcher]) -> None:
    native, _ = engines
    events = native.events(b"ip 10.1.2.3 and 4111 1111 1111 1111, then 2001:db8::1")
    assert events == sorted(events, key=lambda ev: (ev[0], ev[1], -ev[2]))
    for (p1, s1, e1), (p2, s2, e2) in itertools.pairwise(events):
        assert not (p1 == p2 and s1 <= s2 and e2 <= e1), "nested span of one pattern kept"


def test_bad_arguments_are_refused() -> None:
    assert hsnative is not None
    flags = [hsnative.HS_FLAG_SOM_LEFTMOST]
    with pytest.raises(ValueError, match="compile failed"):
        hsnative.Matcher([b"(unclosed"], flags)
    with pytest.raises(ValueError, match="same non-zero length"):
        hsnative.Matcher([], [])
    with pytest.raises(TypeError):
        hsnative.Matcher(["not bytes"], flags)
    m = hsnative.Matcher([b"a+"], flags)
    with pytest.raises(TypeError):
        m.scan("str, not bytes")
    assert m.scan(b"xaay") == [(0, 1, 3)]
    assert hsnative.version().startswith("5.")


def test_scanners_over_both_engines_find_the_same() -> None:
    from detectors.scanner import Scanner

    native, binding = Scanner(), Scanner(matcher="hyperscan-python")
    # The no-candidate pre-check only runs where a matcher call is dear.
    assert native._precheck is False and binding._precheck is True
    texts = ["", "plain words only", "née à Zürich", *_PIECES, " ".join(_PIECES)]
    for text in texts:
        assert native.scan(text) == binding.scan(text)
