"""Finding where a JPEG scan's entropy-coded data ends.

In entropy-coded data a real marker is 0xFF followed by neither 0x00 (a stuffed byte), an
RSTn (0xD0-0xD7), nor another 0xFF (fill). The entropy-coded data is nearly the whole file
and 0xFF occurs about every 256 bytes in it, so this search is the one step of stripping a
JPEG whose cost grows with the image. Two implementations give the same answer:

* Hyperscan (SIMD): about 0.26 ms for a 3 MB photo on the development machine, through
  :mod:`detectors._hsnative` (the system's libhs, built by ``scripts/build-native``) or, where
  that is not built, the python-hyperscan binding (which adds a Python callback and an
  exception per search: about 7 us, more than the search itself for a 100 KB photo);
* Python's ``re`` (byte by byte in C): about 1.1 ms; used where Hyperscan is not installed.

:func:`first_marker` picks the first of these that imports.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable
from typing import Any, Final

# Same byte class in both engines: 0xFF then anything but 0x00, 0xD0-0xD7, 0xFF.
_PATTERN: Final = rb"\xff[\x01-\xcf\xd8-\xfe]"
_RE: Final = re.compile(_PATTERN)


def first_marker_re(data: bytes | memoryview, start: int) -> int:
    """Offset of the first marker at or after ``start``, or -1 (``re`` implementation)."""
    m = _RE.search(data, start)
    return -1 if m is None else m.start()


class _HyperscanFinder:
    """The Hyperscan implementation; one scratch space per thread (scratch is not shareable)."""

    def __init__(self, hyperscan: Any) -> None:
        self._hs = hyperscan
        self._db: Any = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=[_PATTERN], flags=[hyperscan.HS_FLAG_SINGLEMATCH])
        self._local = threading.local()

    def __call__(self, data: bytes | memoryview, start: int) -> int:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._hs.Scratch(self._db)
            self._local.scratch = scratch
        found: list[int] = []
        view = memoryview(data)[start:]  # no copy of the (large) tail
        try:
            self._db.scan(view, match_event_handler=_first, context=found, scratch=scratch)
        except self._hs.ScanTerminated:
            pass  # _first stopped the scan at the first marker
        # Matches are two bytes long and reported by end offset, in order.
        return start + found[0] - 2 if found else -1


class _NativeFinder:
    """The Hyperscan implementation in C (:meth:`detectors._hsnative.Matcher.first`), which
    keeps thread safety itself (a long search gets its own scratch space)."""

    def __init__(self, hsnative: Any) -> None:
        self._matcher: Any = hsnative.Matcher(expressions=[_PATTERN], flags=[0])

    def __call__(self, data: bytes | memoryview, start: int) -> int:
        end: int = self._matcher.first(data, start)
        # Matches are two bytes long; first() gives the end of the first one.
        return end - 2 if end >= 0 else -1


def _first(_pid: int, _start: int, end: int, _flags: int, found: list[int]) -> bool:
    found.append(end)
    return True  # stop scanning: only the first marker matters


Finder = Callable[[bytes | memoryview, int], int]


def _build() -> Finder:
    try:
        hsnative = importlib.import_module("detectors._hsnative")
    except ImportError:
        pass
    else:
        return _NativeFinder(hsnative)
    try:
        import hyperscan
    except ImportError:
        return first_marker_re
    return _HyperscanFinder(hyperscan)


first_marker: Final[Finder] = _build()
"""``first_marker(data, start) -> int``: offset of the first marker at or after ``start``
(the 0xFF byte), or -1 if the data holds none. Hyperscan where installed, else ``re``."""
