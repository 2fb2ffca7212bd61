"""One-pass multi-pattern matchers: Hyperscan, RE2 and one combined Python ``re``.

All three take the same candidate patterns (:mod:`detectors.patterns`) and return candidate
spans ``(class, start, end)`` with ``start``/``end`` as Python string indices. They differ in
what they can report:

* ``HyperscanMatcher`` runs every pattern at once over the UTF-8 bytes and reports overlapping
  candidates of different classes (a digit run inside a failed IBAN candidate is still seen).
  Hyperscan reports *end* offsets; ``HS_FLAG_SOM_LEFTMOST`` adds the leftmost start, and byte
  offsets are mapped back to code-point offsets for non-ASCII text.
* ``CombinedReMatcher`` / ``Re2Matcher`` use one alternation with a named group per class:
  leftmost match, first alternative wins, no overlaps.

Which one :func:`best_matcher` picks was decided by measurement (``benchmarks/detectors.py``;
numbers in the README and in :mod:`detectors.scanner`).
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from detectors.patterns import URL_TAIL, CandidatePattern, Cls

Candidate = tuple[Cls, int, int]


class Matcher(Protocol):
    """Finds candidate spans for a fixed set of candidate patterns."""

    name: str

    def candidates(self, text: str) -> list[Candidate]:
        """Return candidate spans in ``text`` (any order; may overlap across classes)."""
        ...


def relax(regex: str) -> str:
    """Turn bounded repeats ``{0,n}``/``{1,n}`` into ``*``/``+``.

    The bounds exist to keep Python's backtracking engine linear; RE2 and Hyperscan are
    automata and linear anyway, and they reject large bounded repeats (RE2 caps at 1000,
    Hyperscan's SOM tracking runs out of room). Validators re-check lengths.
    """
    regex = re.sub(r"\{1,\d+\}", "+", regex)
    return re.sub(r"\{0,\d+\}", "*", regex)


def _combined(patterns: Sequence[CandidatePattern], *, relaxed: bool) -> str:
    parts = []
    for p in patterns:
        rx = relax(p.regex) if relaxed else p.regex
        parts.append(f"(?P<{p.cls.name}>{rx})")
    return "|".join(parts)


class CombinedReMatcher:
    """One Python ``re`` alternation; leftmost-first, non-overlapping."""

    name = "re"

    def __init__(self, patterns: Sequence[CandidatePattern]) -> None:
        self._rx = re.compile(_combined(patterns, relaxed=False))

    def candidates(self, text: str) -> list[Candidate]:
        """See :class:`Matcher`."""
        return [(Cls[m.lastgroup or ""], m.start(), m.end()) for m in self._rx.finditer(text)]


class Re2Matcher:
    """One RE2 alternation (google-re2); leftmost-first, non-overlapping."""

    name = "re2"

    def __init__(self, patterns: Sequence[CandidatePattern]) -> None:
        import re2  # optional: only the benchmark and the fallback path need it

        options = re2.Options()
        options.max_mem = 64 << 20
        self._rx = re2.compile(_combined(patterns, relaxed=True), options)

    def candidates(self, text: str) -> list[Candidate]:
        """See :class:`Matcher`."""
        return [(Cls[m.lastgroup or ""], m.start(), m.end()) for m in self._rx.finditer(text)]


class HyperscanMatcher:
    """All candidate patterns in one Hyperscan block-mode database.

    Two engines, same results (tested against each other): ``libhs``, the C extension
    :mod:`detectors._hsnative` over the system's Hyperscan library, which collects, sorts and
    thins the match events in C; and ``python-hyperscan``, the PyPI binding, which calls a
    Python function per match event. The C extension is used where it was built
    (``scripts/build-native``; it needs Debian's libhyperscan-dev), else the binding.

    Thread safety: one scratch space per matcher; the binding's scans are serialised by a
    lock, the C extension's by the GIL it holds while scanning.
    """

    name = "hyperscan"

    def __init__(self, patterns: Sequence[CandidatePattern], *, engine: str | None = None) -> None:
        """Compile ``patterns``; ``engine`` ``libhs`` or ``python-hyperscan`` forces one.

        Raises:
            ImportError: the forced engine (or, unforced, either engine) is not available.
        """
        self._classes = [p.cls for p in patterns]
        self._prefix_only = [p.prefix_only for p in patterns]
        exprs = [relax(p.prefix if p.prefix_only else p.regex).encode() for p in patterns]
        self._tail = re.compile(URL_TAIL)
        self._lock = threading.Lock()
        self._native: Any = None
        self._db: Any = None
        native = _hsnative() if engine in (None, "libhs") else None
        if native is not None:
            flags = native.HS_FLAG_SOM_LEFTMOST | native.HS_FLAG_UTF8
            self._native = native.Matcher(exprs, [flags] * len(exprs))
            self.engine = "libhs"
            return
        if engine == "libhs":
            msg = "detectors._hsnative is not built (scripts/build-native, libhyperscan-dev)"
            raise ImportError(msg)
        import hyperscan

        flags = hyperscan.HS_FLAG_SOM_LEFTMOST | hyperscan.HS_FLAG_UTF8
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=exprs,
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=[flags] * len(exprs),
        )
        self.engine = "python-hyperscan"

    def events(self, data: bytes) -> list[tuple[int, int, int]]:
        """Match events ``(pattern, start byte, end byte)`` in ``data``.

        Sorted by (pattern, start, -end); per (pattern, start) only the longest end, and no
        span nested in an earlier, longer span of the same pattern.
        """
        if self._native is not None:
            found: list[tuple[int, int, int]] = self._native.scan(data)
            return found
        raw: list[tuple[int, int, int]] = []
        with self._lock:
            self._db.scan(data, match_event_handler=_collect, context=raw)
        # Ends are stored negated, so the longest end sorts first per (pattern, start).
        raw.sort()
        out: list[tuple[int, int, int]] = []
        last_pid, last_end = -1, -1
        for pid, s, ne in raw:
            e = -ne
            if pid == last_pid and e <= last_end:
                continue  # nested inside a longer candidate of the same class
            last_pid, last_end = pid, e
            out.append((pid, s, e))
        return out

    def candidates(self, text: str) -> list[Candidate]:
        """See :class:`Matcher`."""
        if not text:
            return []
        ascii_only = text.isascii()
        # surrogatepass: str from JSON may hold lone surrogates; keep one char -> 3 bytes.
        data = text.encode("ascii") if ascii_only else text.encode("utf-8", "surrogatepass")
        events = self.events(data)
        if not events:
            return []
        out: list[Candidate] = []
        classes, prefix_only = self._classes, self._prefix_only
        to_char = None if ascii_only else _byte_to_char(data, events)
        for pid, s, e in events:
            if to_char is not None:
                s, e = to_char[s], to_char[e]
            if prefix_only[pid]:
                m = self._tail.match(text, e)
                e = m.end() if m else e
            out.append((classes[pid], s, e))
        return out


def _hsnative() -> Any:
    """The C extension module, or None where it was not built."""
    try:
        return importlib.import_module("detectors._hsnative")
    except ImportError:
        return None


def _collect(
    pid: int, start: int, end: int, _flags: int, events: list[tuple[int, int, int]]
) -> None:
    # python-hyperscan's match callback; a module-level function with the list as scan
    # context, so no closure is built per scan.
    events.append((pid, start, -end))


def _byte_to_char(data: bytes, events: list[tuple[int, int, int]]) -> dict[int, int]:
    """Code-point offsets of every byte offset the events name (start and end).

    One forward pass over ``data`` whatever the order of the events, so mapping stays linear
    in the text's length: the offsets are sorted once, then each is reached by decoding only
    the bytes since the previous one. Offsets fall on code-point boundaries (HS_FLAG_UTF8), so
    every slice decodes cleanly.
    """
    offsets: set[int] = set()
    for _, s, e in events:
        offsets.add(s)
        offsets.add(e)
    out: dict[int, int] = {}
    last_b, last_c = 0, 0
    for b in sorted(offsets):
        last_c += len(data[last_b:b].decode("utf-8", "surrogatepass"))
        last_b = b
        out[b] = last_c
    return out


def build_matcher(name: str, patterns: Sequence[CandidatePattern]) -> Matcher:
    """Build the named matcher (``hyperscan``, ``hyperscan-python``, ``re2`` or ``re``).

    ``hyperscan`` uses the C extension where it was built, ``hyperscan-python`` always the
    python-hyperscan binding (for comparison).

    Raises:
        ValueError: unknown name (the message lists the valid ones).
        ImportError: the engine's package is not installed.
    """
    if name == "hyperscan":
        return HyperscanMatcher(patterns)
    if name == "hyperscan-python":
        return HyperscanMatcher(patterns, engine="python-hyperscan")
    if name == "re2":
        return Re2Matcher(patterns)
    if name == "re":
        return CombinedReMatcher(patterns)
    valid = ["hyperscan", "hyperscan-python", "re", "re2"]
    msg = f"unknown matcher {name!r}; valid: {valid}"
    raise ValueError(msg)


def best_matcher(patterns: Sequence[CandidatePattern]) -> Matcher:
    """Return the fastest available matcher (Hyperscan; combined ``re`` where it is missing).

    Hyperscan wheels exist only for x86-64/arm64 Linux and macOS; elsewhere the combined
    ``re`` is the measured runner-up that needs no extra package.
    """
    try:
        return HyperscanMatcher(patterns)
    except ImportError:
        return CombinedReMatcher(patterns)
