"""The entropy-coded-data marker search: Hyperscan and ``re`` give the same answer."""

from __future__ import annotations

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


def test_hyperscan_is_used_where_installed() -> None:
    pytest.importorskip("hyperscan")
    assert first_marker is not first_marker_re
    assert isinstance(first_marker, markers._HyperscanFinder)


@settings(max_examples=400, deadline=None)
@given(data=_data, start=st.integers(min_value=0, max_value=310))
def test_engines_agree(data: bytes, start: int) -> None:
    assert first_marker(data, start) == first_marker_re(data, start)


def test_large_tail_from_a_memoryview() -> None:
    body = (b"\x12\xff\x00" * 400_000) + b"\xff\xd0" + b"\x34" * 1000 + b"\xff\xd9"
    expected = len(body) - 2
    assert first_marker(memoryview(body), 1) == expected
    assert first_marker_re(body, 1) == expected


def test_threads_each_get_their_own_scratch() -> None:
    # The sidecar strips large bodies in worker threads; a shared scratch space would fail
    # (ScratchInUseError) or corrupt results when two scans overlap.
    from concurrent.futures import ThreadPoolExecutor

    body = (b"\x12\xff\x00" * 200_000) + b"\xff\xd9"
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: first_marker(body, 0), range(64)))
    assert results == [len(body) - 2] * 64
