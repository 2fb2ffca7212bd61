"""The entropy-coded-data marker search: the C loop, Hyperscan and ``re`` give the same answer."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.media import markers
from pipeline.media.markers import first_marker, first_marker_re

# Bytes that matter around 0xFF: stuffing, RSTn, fill, EOI, SOS, DHT and plain data.
_INTERESTING = [0x00, 0xFF, 0xD0, 0xD7, 0xD8, 0xD9, 0xDA, 0xC4, 0x01, 0xCF, 0xFE, 0x41]

_data = st.lists(st.sampled_from(_INTERESTING), max_size=300).map(bytes)


@pytest.mark.parametrize(
    ("data", "start", "expected"),
    [
        (b"\x12\x34\xff\xd9", 0, 2),  # EOI
        (b"\xff\x00\xff\xd9", 0, 2),  # stuffed byte skipped
        (b"\xff\xd0\xff\xd7\xff\xda", 0, 4),  # RST0, RST7 skipped; SOS found
        (b"\xff\xff\xff\xc4", 0, 2),  # fill bytes before DHT: the last 0xFF is the marker
        (b"\xff\x01", 0, 0),  # TEM is a marker
        (b"\xff\xd9\x00\xff\xd9", 1, 3),  # search starts at ``start``
        (b"\x00\xff\x00\xff", 0, -1),  # no marker, trailing 0xFF
        (b"", 0, -1),
    ],
)
def test_table(data: bytes, start: int, expected: int) -> None:
    assert first_marker_re(data, start) == expected
    assert first_marker(data, start) == expected


def _finders() -> list[markers.Finder]:
    """Every implementation that can run here."""
    found: list[markers.Finder] = [first_marker_re]
    try:
        found.append(importlib.import_module("detectors._hsnative").jpeg_marker)
    except ImportError:
        pass
    try:
        found.append(markers._HyperscanFinder(importlib.import_module("hyperscan")))
    except ImportError:
        pass
    return found


FINDERS = _finders()


def test_the_c_extension_is_used_where_built() -> None:
    try:
        importlib.import_module("detectors._hsnative")
    except ImportError:
        pytest.skip("detectors._hsnative is not built")
    assert first_marker is importlib.import_module("detectors._hsnative").jpeg_marker
    assert len(FINDERS) == 3


@pytest.mark.parametrize(
    ("data", "start", "expected"),
    [
        (b"\xff\xd9", 2, -1),  # at the end: nothing left to search
        (b"\xff\xd9", 9, -1),  # past the end: nothing left to search
    ],
)
def test_start_outside_the_data(data: bytes, start: int, expected: int) -> None:
    assert [finder(data, start) for finder in FINDERS] == [expected] * len(FINDERS)


@settings(max_examples=400, deadline=None)
@given(data=_data, start=st.integers(min_value=0, max_value=310))
def test_engines_agree(data: bytes, start: int) -> None:
    expected = first_marker_re(data, start)
    assert [finder(data, start) for finder in FINDERS] == [expected] * len(FINDERS)


@pytest.mark.parametrize("size", [1000, 400_000])  # below and above the GIL-free threshold
def test_large_tail_from_a_memoryview(size: int) -> None:
    body = (b"\x12\xff\x00" * size) + b"\xff\xd0" + b"\x34" * 1000 + b"\xff\xd9"
    expected = len(body) - 2
    for finder in FINDERS:
        assert finder(memoryview(body), 1) == expected
        assert finder(body, 1) == expected


@pytest.mark.parametrize(
    "finder", FINDERS[1:], ids=lambda f: getattr(f, "__name__", type(f).__name__)
)
def test_searches_in_threads_do_not_interfere(finder: markers.Finder) -> None:
    # The sidecar strips large bodies in worker threads. A Hyperscan scratch space shared
    # between threads would fail (ScratchInUseError) or corrupt results when two scans
    # overlap; the C loop releases the GIL for long searches. Long and short ones interleave.
    from concurrent.futures import ThreadPoolExecutor

    long_body = (b"\x12\xff\x00" * 200_000) + b"\xff\xd9"
    short_body = (b"\x12\xff\x00" * 2_000) + b"\xff\xc4"
    bodies = [long_body if i % 2 else short_body for i in range(128)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda body: finder(body, 0), bodies))
    assert results == [len(body) - 2 for body in bodies]
