"""Candidate patterns for the one-pass scanner.

A *candidate class* is a cheap, over-approximating shape (an e-mail-ish token, a run of digit
groups, a UUID...). The multi-pattern matcher finds every candidate in one pass; validators in
:mod:`detectors.classify` then decide which entity type, if any, each candidate is. One class can
yield several entity types (a digit run can be a card, an IMEI, an SSN, an IPv4 address, a phone
or an account number), which is why classes and entity types are kept apart.

Every regex here is written in the subset that Python ``re``, RE2 and Hyperscan all accept (no
look-around, no back-references, no possessive quantifiers), so the three matchers can be
measured on identical patterns. Repeats are bounded wherever a match could otherwise start at
every position of a long run: that keeps a backtracking engine linear on adversarial input
(1 MB of ``a``, 1 MB of digits). Digit runs must start and end on a word boundary, so a run of
digits longer than any entity never matches at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from detectors.validators import HEX_CHARS


class Cls(StrEnum):
    """Candidate classes, in the priority order used by the combined ``re``/RE2 alternation."""

    URL = "URL"
    EMAIL = "EMAIL"
    IBAN = "IBAN"
    GPS = "GPS"
    GPS_DMS = "GPS_DMS"
    GPS_KV = "GPS_KV"
    UUID = "UUID"
    MAC = "MAC"
    IPV6 = "IPV6"
    NUM = "NUM"


@dataclass(frozen=True, slots=True)
class CandidatePattern:
    """One candidate class: its regex and the entity types it can produce.

    Attributes:
        cls: the candidate class.
        regex: the portable regex (Python ``re`` / RE2 / Hyperscan).
        entities: entity types a candidate of this class can be classified as.
        prefix_only: for Hyperscan, report only ``prefix`` and extend the match in Python; used
            where the tail is long and Hyperscan would report one event per character.
        prefix: the prefix regex used when ``prefix_only`` is set.
    """

    cls: Cls
    regex: str
    entities: frozenset[str]
    prefix_only: bool = False
    prefix: str = ""


_HEX = "[0-9A-Fa-f]"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_URL_PREFIX = r"(?:[Hh][Tt][Tt][Pp][Ss]?://|[Ff][Tt][Pp]://|[Ww][Ww][Ww]\.)"
# A URL ends at whitespace, quotes or angle brackets; trailing punctuation is trimmed later.
URL_TAIL = r"[^\s<>\"'`{}|\\^]{1,4096}"
_SEP = r"[ .\-/()]{1,3}"
# Digit runs: optional + or ( prefix, up to 10 groups of 1-19 digits with one or two separators
# between them, optional extension. Covers cards (4-4-4-4, 4-6-5, 16 contiguous), SSN (3-2-4),
# IMEI (2-6-6-1 or 15), IPv4 (dotted quad), national and E.164 phones, account numbers.
# Parentheses count as separators: "(579)888-3058", "+46 (0)8 928 571 38".
_NUM = (
    r"(?:\+[ ]?|\()?\b\d{1,19}(?:" + _SEP + r"\d{1,19}){0,9}"
    r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?\b"
)
_DEC_LAT = r"[-+]?\d{1,2}\.\d{2,10}"
_DEC_LON = r"[-+]?\d{1,3}\.\d{2,10}"
_GPS = (
    _DEC_LAT
    + r"[ ]?(?:°[ ]?)?[NSns]?[ ]{0,2}[,;/]?[ ]{0,2}"
    + _DEC_LON
    + r"(?:[ ]?°)?(?:[ ]?[EWew])?"
)
# One labelled component: "lat=48.858370", "longitude: 2.2945", '"lng": -122.4194'. Each half
# alone is precise location (URL query pairs and JSON keys are scanned one pair at a time).
# Letters spelled as classes: the same regex must compile in re, RE2 and Hyperscan.
_GPS_KEY = (
    r"(?:[Ll][Aa][Tt](?:[Ii][Tt][Uu][Dd][Ee])?"
    r"|[Ll][Oo][Nn](?:[Gg](?:[Ii][Tt][Uu][Dd][Ee])?)?|[Ll][Nn][Gg])"
)
_GPS_KV = r"\b" + _GPS_KEY + r"[\"']?[ ]{0,2}[=:][ ]{0,2}[\"']?[-+]?\d{1,3}\.\d{3,10}\b"
_DMS_ONE = r"\d{1,3}°[ ]?\d{1,2}['′][ ]?\d{1,2}(?:\.\d{1,4})?(?:\"|″|'')?[ ]?"
_GPS_DMS = _DMS_ONE + r"[NSns][ ,;]{1,3}" + _DMS_ONE + r"[EWew]"

PATTERNS: tuple[CandidatePattern, ...] = (
    CandidatePattern(
        Cls.URL,
        _URL_PREFIX + URL_TAIL,
        frozenset({"URL"}),
        prefix_only=True,
        prefix=_URL_PREFIX,
    ),
    CandidatePattern(
        Cls.EMAIL,
        r"[A-Za-z0-9._%+\-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r"){0,8}\.[A-Za-z]{2,24}\b",
        frozenset({"EMAIL_ADDRESS"}),
    ),
    CandidatePattern(
        Cls.IBAN,
        r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,4})?\b",
        frozenset({"IBAN_CODE"}),
    ),
    CandidatePattern(Cls.GPS, _GPS, frozenset({"GPS_COORDINATES"})),
    CandidatePattern(Cls.GPS_DMS, _GPS_DMS, frozenset({"GPS_COORDINATES"})),
    CandidatePattern(Cls.GPS_KV, _GPS_KV, frozenset({"GPS_COORDINATES"})),
    CandidatePattern(
        Cls.UUID,
        r"\b" + _HEX + "{8}-" + _HEX + "{4}-" + _HEX + "{4}-" + _HEX + "{4}-" + _HEX + r"{12}\b",
        frozenset({"DEVICE_ID"}),
    ),
    CandidatePattern(
        Cls.MAC,
        r"\b(?:"
        + _HEX
        + "{2}[:-]){5}"
        + _HEX
        + r"{2}\b|\b"
        + _HEX
        + r"{4}\."
        + _HEX
        + r"{4}\."
        + _HEX
        + r"{4}\b",
        frozenset({"MAC_ADDRESS"}),
    ),
    CandidatePattern(
        Cls.IPV6,
        # At least two colons; ipaddress decides. Optional dotted-quad tail (::ffff:1.2.3.4).
        r"(?:" + _HEX + r"{1,4})?(?::" + _HEX + r"{0,4}){2,7}(?:\d{1,3}(?:\.\d{1,3}){3})?",
        frozenset({"IP_ADDRESS"}),
    ),
    CandidatePattern(
        Cls.NUM,
        _NUM,
        frozenset(
            {
                "CREDIT_CARD",
                "IMEI",
                "US_SSN",
                "IP_ADDRESS",
                "PHONE_NUMBER",
                "ACCOUNT_NUMBER",
            }
        ),
    ),
)

ENTITY_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL_ADDRESS",
        "PHONE_NUMBER",
        "CREDIT_CARD",
        "IBAN_CODE",
        "IP_ADDRESS",
        "MAC_ADDRESS",
        "IMEI",
        "DEVICE_ID",
        "US_SSN",
        "GPS_COORDINATES",
        "URL",
        "ACCOUNT_NUMBER",
    }
)


def patterns_for(entities: frozenset[str]) -> tuple[CandidatePattern, ...]:
    """Return the candidate classes needed to find ``entities``, in priority order.

    URL is always included when any entity is wanted: PII inside a URL is found by scanning the
    URL's decoded components, and an URL left out would let the e-mail pattern see only the
    undecoded text.

    Raises:
        ValueError: if an entity type is unknown (the message lists the valid names).
    """
    unknown = entities - ENTITY_TYPES
    if unknown:
        msg = f"unknown entity types {sorted(unknown)}; valid: {sorted(ENTITY_TYPES)}"
        raise ValueError(msg)
    return tuple(p for p in PATTERNS if p.cls is Cls.URL or p.entities & entities)


_DIGIT: Final = re.compile(r"\d")  # a superset of the ASCII digits Hyperscan matches


def _all_hex(text: str, start: int, end: int) -> bool:
    for k in range(start, end):
        if text[k] not in HEX_CHARS:
            return False
    return True


def may_hold_candidate(text: str) -> bool:
    """False only when no candidate class can match anywhere in ``text``.

    Every class above contains a digit (digit runs, IBAN, coordinates), "@" (e-mail),
    ":" (URL schemes, IPv6, colon MACs), "www." (URL), or a hex-letter shape: a UUID's 8 hex
    digits before "-", a dash MAC's "hh-hh-", a dot MAC's "hhhh.". This checks a superset of
    those with memchr-speed searches; a matcher call costs microseconds even when it finds
    nothing, and many texts (names, prose) have no digit at all.
    """
    if "@" in text or ":" in text or _DIGIT.search(text) is not None:
        return True
    i = text.find("-")
    while i >= 0:
        if i >= 2 and text[i - 1] in HEX_CHARS and text[i - 2] in HEX_CHARS:
            return True
        i = text.find("-", i + 1)
    i = text.find(".")
    while i >= 0:
        if i >= 3 and text[i - 3 : i].lower() == "www":
            return True
        if i >= 4 and _all_hex(text, i - 4, i):
            return True
        i = text.find(".", i + 1)
    return False
