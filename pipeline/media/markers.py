"""Finding where a JPEG scan's entropy-coded data ends.

In entropy-coded data a real marker is 0xFF followed by neither 0x00 (a stuffed byte), an
RSTn (0xD0-0xD7), nor another 0xFF (fill). The entropy-coded data is nearly the whole file
and 0xFF occurs about every 256 bytes in it, so this search is the one step of stripping a
JPEG whose cost grows with the image. Three implementations give the same answer (a
property test checks), timed on the development machine for the 92 KB and 3.1 MB of
entropy-coded data of the sidecar benchmark's photos:

* :func:`detectors._hsnative.jpeg_marker`, a C loop over glibc's ``memchr`` (SIMD) that
  checks the byte after each 0xFF: 1.9 us and 0.10 ms. Built by ``scripts/build-native``
  (it lives in the Hyperscan extension module but does not use Hyperscan);
* Hyperscan through the python-hyperscan binding: 7 us and 0.25 ms, plus a Python callback
  and an exception per search (about 7 us);
* Python's ``re`` (byte by byte in C): about 1.1 ms for the 3.1 MB photo.

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
        # The C function itself: it holds no state and releases the GIL for long searches.
        native: Finder = hsnative.jpeg_marker
        return native
    try:
        import hyperscan
    except ImportError:
        return first_marker_re
    return _HyperscanFinder(hyperscan)


first_marker: Final[Finder] = _build()
"""``first_marker(data, start) -> int``: offset of the first marker at or after ``start``
(the 0xFF byte), or -1 if the data holds none. The C loop where built, else Hyperscan where
installed, else ``re``."""
