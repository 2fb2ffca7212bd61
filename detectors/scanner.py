"""The fast text scanner: one matcher pass, validators on candidates, deterministic overlaps.

Contract (other modules depend on it):

* :func:`scan` ``(text) -> list[Finding]`` sorted by ``(start, -end)``. Offsets are ``str``
  indices into ``text``. The only overlap in the result is a finding inside a URL finding: PII
  in a URL's path, query or fragment (also percent-encoded, ``email=jo%40example.com``, and
  ``+`` for space) is reported with offsets into the original text.
* :func:`redact` ``(text, findings) -> str`` replaces each innermost finding by
  ``<ENTITY_TYPE>``.
* ``scan(text, entities=...)`` restricts the entity types; each subset compiles its own
  matcher once (cached), so a subset is cheaper than filtering a full scan.

Matcher choice, measured by ``veil bench detectors`` on the same 3,000-event fixed-seed corpus
and one core (numbers in the README): Hyperscan is the fastest of Hyperscan, RE2 and one
combined ``re`` and also the only one that reports overlapping candidates across classes, so it
is the default; the combined ``re`` is the fallback where the hyperscan wheel is missing.
Override with ``VEIL_MATCHER=hyperscan|hyperscan-python|re2|re`` (benchmarks).

Overlaps are resolved by a fixed order: earlier start first, then the longer span, then the
candidate-class priority of :class:`detectors.patterns.Cls`.
"""

from __future__ import annotations

import os
import re
import threading
from bisect import bisect_right
from collections.abc import Collection, Iterable, Sequence
from typing import Final

from detectors.findings import Finding
from detectors.matchers import HyperscanMatcher, Matcher, best_matcher, build_matcher
from detectors.numbers import MIN_RUN, classify_run
from detectors.patterns import ENTITY_TYPES, Cls, may_hold_candidate, patterns_for
from detectors.validators import (
    dms_ok,
    gps_component_start,
    gps_ok,
    iban_end,
    ipv6_ok,
    mac_ok,
    percent_decode,
    uuid_ok,
)

__all__ = ["ENTITY_TYPES", "Scanner", "get_scanner", "redact", "scan"]

# Candidate classes as module constants: compiled code reads a Final from a C static,
# while Cls.X is a class attribute lookup on every use.
_C_NUM: Final = Cls.NUM
_C_URL: Final = Cls.URL
_C_EMAIL: Final = Cls.EMAIL
_C_GPS_KV: Final = Cls.GPS_KV
_C_IBAN: Final = Cls.IBAN
_C_GPS_DMS: Final = Cls.GPS_DMS
_C_GPS: Final = Cls.GPS
_C_UUID: Final = Cls.UUID
_C_MAC: Final = Cls.MAC
_MAX_URL_DEPTH: Final = 3  # nested encodings (a redirect URL inside a query value) we unwrap
_URL_TRAILING: Final = ".,;:!?'\")]}>"
_HEX_OR_WORD: Final = re.compile(r"[\w:.]")
_SCORES: Final = {
    "URL": 0.8,
    "EMAIL_ADDRESS": 0.95,
    "IBAN_CODE": 1.0,
    "GPS_COORDINATES": 0.8,
    "DEVICE_ID": 0.85,
    "MAC_ADDRESS": 0.9,
    "IP_ADDRESS": 0.9,
}
_PRIORITY: Final = {c: i for i, c in enumerate(Cls)}
_NUM_PRIORITY: Final = _PRIORITY[Cls.NUM]


class Scanner:
    """A compiled scanner for a fixed set of entity types.

    Build once and reuse (compilation costs milliseconds; a scan of a log line microseconds).
    Thread-safe.
    """

    def __init__(self, entities: Collection[str] | None = None, matcher: str | None = None):
        """Compile the candidate patterns for ``entities`` (all when None).

        Raises:
            ValueError: unknown entity type or matcher name (lists the valid names).
        """
        self.entities: frozenset[str] = ENTITY_TYPES if entities is None else frozenset(entities)
        patterns = patterns_for(self.entities)
        name = matcher or os.environ.get("VEIL_MATCHER")
        self._matcher: Matcher = build_matcher(name, patterns) if name else best_matcher(patterns)
        self.matcher_name = self._matcher.name
        # The default matcher, typed concretely so compiled code calls it directly instead of
        # looking the method up through the Matcher protocol on every scan.
        self._hs: HyperscanMatcher | None = (
            self._matcher if isinstance(self._matcher, HyperscanMatcher) else None
        )
        # The no-candidate pre-check pays where a matcher call is dear (a Python callback per
        # match event, or re): with the C extension a call on a text without candidates costs
        # about what the pre-check does (0.7 vs 0.6 us on synth_dataset_v2), so it is skipped.
        self._precheck = self._hs is None or self._hs.engine != "libhs"

    def scan(self, text: str) -> list[Finding]:
        """Find the PII in ``text``; see the module docstring for the contract."""
        if not text:
            return []
        found = self._scan(text, 0)
        found.sort(key=lambda f: (f.start, -f.end))
        return found

    def _scan(self, text: str, depth: int) -> list[Finding]:
        if self._precheck and not may_hold_candidate(text):
            return []
        wanted = self.entities
        raw: list[tuple[Finding, int]] = []
        runs: list[tuple[int, int]] = []
        taken: list[tuple[int, int]] = []
        hs = self._hs
        cands = hs.candidates(text) if hs is not None else self._matcher.candidates(text)
        for cls, s, e in cands:
            if cls is _C_NUM:
                if e - s >= MIN_RUN:  # shorter runs hold no entity (classify_run's rule)
                    runs.append((s, e))
                continue
            for f in self._validate(cls, text, s, e, wanted):
                raw.append((f, _PRIORITY[cls]))
                taken.append((f.start, f.end))
        # Digit runs last, and only outside spans already validated (URLs, IBANs, UUIDs, GPS):
        # classifying a run is the expensive step (phonenumbers), and a run inside a validated
        # span would lose the overlap resolution anyway.
        inside = _Containment(taken) if taken and runs else None
        for s, e in runs:
            if inside is not None and inside(s, e):
                continue
            for f in classify_run(text, s, e, wanted):
                raw.append((f, _NUM_PRIORITY))
        if not raw:
            return []
        raw.sort(key=lambda fp: (fp[0].start, fp[0].start - fp[0].end, fp[1]))
        out: list[Finding] = []
        last_end = -1
        for f, _ in raw:
            if f.start < last_end:
                continue  # overlaps a kept finding that starts earlier or is longer
            last_end = f.end
            if f.detector == "url":
                if "URL" in wanted and depth == 0:
                    out.append(Finding(f.start, f.end, "URL", _SCORES["URL"], "pattern"))
                if depth < _MAX_URL_DEPTH:
                    out.extend(self._scan_url(text, f.start, f.end, depth))
            else:
                out.append(f)
        return out

    def _scan_url(self, text: str, start: int, end: int, depth: int) -> Iterable[Finding]:
        """Scan a URL's components, decoded, and map findings back to ``text`` offsets."""
        url = text[start:end]
        # Skip the scheme or the "www." prefix, so the inner scan does not see a URL again.
        body = url.find("://")
        body = body + 3 if body >= 0 else (4 if url[:4].lower() == "www." else 0)
        part = url[body:]
        base = start + body
        if "%" not in part and "+" not in part:
            return [
                Finding(base + f.start, base + f.end, f.entity_type, f.score, f.detector)
                for f in self._scan(part, depth + 1)
            ]
        decoded, origin = percent_decode(part, plus_is_space=True)
        return [
            Finding(
                base + origin[f.start], base + origin[f.end], f.entity_type, f.score, f.detector
            )
            for f in self._scan(decoded, depth + 1)
        ]

    def _validate(
        self, cls: Cls, text: str, s: int, e: int, wanted: frozenset[str]
    ) -> list[Finding]:
        """Turn one candidate into zero or more findings (detector ``url`` marks URL spans)."""
        if cls is _C_NUM:
            return classify_run(text, s, e, wanted)
        if cls is _C_URL:
            while e > s and text[e - 1] in _URL_TRAILING:
                if text[e - 1] == ")" and text.count("(", s, e) > text.count(")", s, e) - 1:
                    break  # a balanced parenthesis belongs to the URL (wiki links)
                e -= 1
            host = text[s:e].split("://", 1)[-1]
            if "." not in host.split("/", 1)[0] and not host.startswith("localhost"):
                return []
            return [Finding(s, e, "URL", _SCORES["URL"], "url")]
        if cls is _C_EMAIL:
            while s < e and text[s] in "._%+-":
                s += 1  # a local part cannot start with a dot or an escape remnant
            local, _, domain = text[s:e].partition("@")
            if not local or ".." in local or local.endswith(".") or "--" in domain[:2]:
                return []
            if "EMAIL_ADDRESS" not in wanted:
                return []
            return [Finding(s, e, "EMAIL_ADDRESS", _SCORES["EMAIL_ADDRESS"], "pattern")]
        if cls is _C_GPS_KV:  # the finding is the value; the label stays readable
            at = gps_component_start(text[s:e])
            if at is None or "GPS_COORDINATES" not in wanted:
                return []
            return [Finding(s + at, e, "GPS_COORDINATES", _SCORES["GPS_COORDINATES"], "pattern")]
        entity, ok, end = self._simple(cls, text, s, e)
        if not ok or entity not in wanted:
            return []
        return [Finding(s, end, entity, _SCORES[entity], "pattern")]

    @staticmethod
    def _simple(cls: Cls, text: str, s: int, e: int) -> tuple[str, bool, int]:
        cand = text[s:e]
        if cls is _C_IBAN:
            n = iban_end(cand)
            return "IBAN_CODE", n is not None, s + (n or 0)
        if cls is _C_GPS:
            return "GPS_COORDINATES", gps_ok(cand, text[max(0, s - 40) : s]), e
        if cls is _C_GPS_DMS:
            return "GPS_COORDINATES", dms_ok(cand), e
        if cls is _C_UUID:
            return "DEVICE_ID", uuid_ok(cand), e
        if cls is _C_MAC:
            return "MAC_ADDRESS", mac_ok(cand), e
        # IPV6: must not be glued to more hex, colons or dots (part of a longer token).
        glued = (s > 0 and _HEX_OR_WORD.match(text[s - 1]) is not None) or (
            e < len(text) and (text[e].isalnum() or text[e] == "_")
        )
        return "IP_ADDRESS", not glued and ipv6_ok(cand), e


class _Containment:
    """Answers "is [s, e) inside one of these spans?" in O(log n) per question.

    A text can hold hundreds of thousands of validated spans (a megabyte line of PII); testing
    each digit run against all of them would make the scan quadratic. Sorted by start, with the
    running maximum of the ends: some span contains [s, e) iff the furthest end among the spans
    starting at or before s reaches e.
    """

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        self._starts = [a for a, _ in spans]
        self._reach: list[int] = []
        furthest = -1
        for _, b in spans:
            furthest = max(furthest, b)
            self._reach.append(furthest)

    def __call__(self, s: int, e: int) -> bool:
        k = bisect_right(self._starts, s) - 1
        return k >= 0 and self._reach[k] >= e


_LOCK: Final = threading.Lock()
_SCANNERS: Final[dict[frozenset[str], Scanner]] = {}


def get_scanner(entities: Collection[str] | None = None) -> Scanner:
    """Return the process-wide scanner for ``entities`` (compiled on first use, then cached).

    Raises:
        ValueError: an unknown entity type (the message lists the valid names).
    """
    key = ENTITY_TYPES if entities is None else frozenset(entities)
    scanner = _SCANNERS.get(key)
    if scanner is None:
        with _LOCK:
            scanner = _SCANNERS.get(key)
            if scanner is None:
                scanner = Scanner(key)
                _SCANNERS[key] = scanner
    return scanner


def scan(text: str, *, entities: Collection[str] | None = None) -> list[Finding]:
    """Find PII in ``text`` with the shared scanner.

    Args:
        text: any string (empty, NUL bytes, lone surrogates and megabyte lines are fine).
        entities: restrict to these entity types (default: all of :data:`ENTITY_TYPES`).

    Returns:
        Findings sorted by ``(start, -end)``; see the module docstring for overlaps.

    Raises:
        ValueError: an unknown entity type.
    """
    return get_scanner(entities).scan(text)


def redact(text: str, findings: Iterable[Finding], *, origin: Sequence[int] | None = None) -> str:
    """Replace each innermost finding in ``text`` by ``<ENTITY_TYPE>``.

    A finding that contains another (a URL holding an e-mail) is kept as text around the inner
    placeholder; overlapping findings that do not nest are merged into the earlier one.
    ``origin``: the findings index a decoded form of ``text`` (``percent_decode``), and
    ``origin[i]`` is where decoded character ``i`` starts in ``text``; the placeholders then
    replace the encoded spans, so the rest of ``text`` keeps its encoding.
    """
    ordered = sorted(findings, key=lambda f: (f.start, -f.end))
    inner: list[Finding] = []
    for i, f in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        if nxt is not None and nxt.start < f.end and nxt.end <= f.end:
            continue  # f contains the next finding: keep the inner one only
        inner.append(f)
    pieces: list[str] = []
    pos = 0
    for f in inner:
        start, end = (f.start, f.end) if origin is None else (origin[f.start], origin[f.end])
        if start < pos:
            continue
        pieces.append(text[pos:start])
        pieces.append(f"<{f.entity_type}>")
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)
