"""Phone validation: Presidio's acceptance rule, with an exact fast rejection in front of it.

The rule (``slow_valid_phone``) is what Veil has always used: per region, a C-regex
pre-check of the region's general number pattern, then ``phonenumbers.parse`` and the
``PhoneNumberMatcher``'s own leniency-VALID verifier. A parse plus verify costs 50-70 us, and
most digit runs that reach it are no phone at all (order numbers, timestamps, ids).

``valid_phone`` answers the same question faster. For windows made only of ASCII digits,
``+`` at the start and the separators ``( ) - . /`` and space (every window the digit-run
matcher produces, except extensions), it enumerates every national significant number (NSN)
``phonenumbers.parse`` could produce for a region and checks each against the region's
metadata patterns, precompiled once. Only when some NSN could be valid does it run the full
parse and verify, so acceptance is decided by ``phonenumbers`` itself and the fast path can
only skip work that would have ended in a rejection. Why the enumeration is complete (it
mirrors ``parse`` in phonenumbers 8.x for these characters):

* the extension patterns all need a label (letters, ``#``, ``~``, ``,`` or ``;``) and none
  of those is in the window, so nothing is stripped as an extension; the normalized number is
  the window's digits ``D``;
* ``+`` (``parse(window, None)``): the country code is the shortest prefix of ``D`` that is a
  known calling code (none: rejected); the NSN is the rest, or the rest after the national
  prefix of that code's main region (``_maybe_strip_national_prefix_carrier_code``, which can
  also apply a transform rule: computed here with the same regex and ``re.sub``);
* region ``R`` without ``+``: if ``R``'s international prefix (IDD) matches the start of ``D``
  and the next digit is not 0, as for ``+`` after the IDD; otherwise the country code is
  ``R``'s and the NSN is ``D``, or ``D`` minus ``R``'s country code, each with up to two
  national-prefix strips (once inside the country-code extraction, once after it);
* ``is_valid_number`` needs the NSN to match, length and pattern, the general description and
  one of the type descriptions of some region of its country code; ``_may_be_valid_nsn``
  checks exactly that, for every region of the code (a superset of the one region
  ``is_valid_number`` picks).

``tests/unit/detectors/test_phones.py`` checks ``valid_phone == slow_valid_phone`` on a large
fixed-seed table and with hypothesis.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata
from phonenumbers.phonenumbermatcher import _verify  # the matcher's own VALID check
from phonenumbers.phonenumberutil import (
    _choose_formatting_pattern_for_number,
    _formatting_rule_has_first_group_only,
    _maybe_strip_national_prefix_carrier_code,
)

# Presidio's default regions (US GB DE FR IL IN CA BR) plus CN, so recall is never below it.
# Acceptance is "valid in any region", so the order only affects cost: most likely first.
PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "IN", "CN", "BR", "IL", "CA")

_EXT = re.compile(r"[A-Za-z#]")
_DECIMAL = re.compile(r"[-+]?\d+\.\d+")
# The characters the fast path reasons about; anything else takes the slow path.
_FAST_SHAPE = re.compile(r"\(*\+?[0-9 ().\-/]*")
_NOT_DIGIT = re.compile(r"[^0-9]")
_CC_TO_REGIONS = phonenumbers.COUNTRY_CODE_TO_REGION_CODE


def _general_patterns() -> dict[str, re.Pattern[str]]:
    """Per region: optional national/international prefix digits, then the general pattern.

    A superset of what ``is_valid_number`` accepts, checked in C before the expensive parse.
    """
    out = {}
    for region in PHONE_REGIONS:
        md = PhoneMetadata.metadata_for_region(region)
        general = md.general_desc.national_number_pattern if md and md.general_desc else None
        if general:
            out[region] = re.compile(r"\d{0,5}?(?:" + general + ")")
    return out


_GENERAL = _general_patterns()


# --------------------------------------------------------------------------- slow path


def slow_valid_phone(window: str) -> bool:
    """The reference rule: is ``window`` a phone number Presidio's matcher would accept?"""
    main = _EXT.split(window, maxsplit=1)[0]
    if main.count(".") == 1 and _DECIMAL.fullmatch(main):
        return False  # a decimal number (a coordinate, a price), not a dialled number
    digits = "".join(ch for ch in main if ch.isdigit())
    if not 7 <= len(digits) <= 17:
        return False
    if window.lstrip("(").startswith("+"):
        return parse_valid(window, None)
    if len(digits) >= 14 and digits == main.strip():
        return False  # 14+ contiguous digits without "+" are ids or cards, not dialled numbers
    return any(
        rx.fullmatch(digits) and parse_valid(window, region) for region, rx in _GENERAL.items()
    )


def parse_valid(window: str, region: str | None) -> bool:
    """Presidio's acceptance rule on one window: ``PhoneNumberMatcher`` leniency VALID.

    That is a valid number whose ``x`` characters are an extension or carrier code and which
    carries the national prefix where the region's format requires one (``17151 2450`` is no
    French number without its leading 0). The matcher's own verifier is reused so the rule
    stays identical to the anchor's.
    """
    try:
        number = phonenumbers.parse(window, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return False
    return bool(_verify(Leniency.VALID, number, window, None))  # type: ignore[arg-type]  # VALID never reads the matcher


# --------------------------------------------------------------------------- fast path


def valid_phone(window: str) -> bool:
    """Same answer as :func:`slow_valid_phone`, rejecting impossible numbers in microseconds."""
    if not _FAST_SHAPE.fullmatch(window):
        return slow_valid_phone(window)  # extensions, non-ASCII digits: rare, full rule
    if window.count(".") == 1 and _DECIMAL.fullmatch(window):
        return False
    digits = _NOT_DIGIT.sub("", window)
    if not 7 <= len(digits) <= 17:
        return False
    if window.lstrip("(").startswith("+"):
        return _plus_may_be_valid(digits) and parse_valid(window, None)
    if len(digits) >= 14 and digits == window.strip():
        return False
    for region, rx in _GENERAL.items():
        if rx.fullmatch(digits) and _region_may_be_valid(digits, region):
            if parse_valid(window, region):
                return True
    return False


def _plus_may_be_valid(digits: str) -> bool:
    cc, national = _extract_cc(digits)
    return cc != 0 and _any_valid(cc, _strips(national, _main_metadata(cc)))


def _region_may_be_valid(digits: str, region: str) -> bool:
    """Can ``parse(window, region)`` give a valid number, given the window's digits?"""
    info = _REGION_INFO[region]
    m = info.idd.match(digits) if info.idd is not None else None
    if m is not None and (m.end() == len(digits) or digits[m.end()] != "0"):
        cc, national = _extract_cc(digits[m.end() :])  # dialled with the IDD: any country
        return cc != 0 and _any_valid(cc, _strips(national, _main_metadata(cc)))
    cc = info.cc
    if digits.startswith(info.cc_str):  # "49 30 1234567" in DE: the code without "+"
        main = _main_metadata(cc)
        with_cc: set[str] = set()
        for p in _strips(digits[len(info.cc_str) :], info.md):
            with_cc.update(_strips(p, main))
            with_cc.update(_strips(p, info.md))
        if _any_valid(cc, with_cc):
            return True
    # Written nationally: the verifier also wants the national prefix where the format has one.
    table = _validity_table(cc)
    for nsn in _strips(digits, info.md):
        rx = table.get(len(nsn))
        if rx is not None and rx.fullmatch(nsn) and _national_prefix_ok(cc, nsn, digits):
            return True
    return False


def _national_prefix_ok(cc: int, nsn: str, digits: str) -> bool:
    """The matcher's ``_is_national_prefix_present_if_required`` for a nationally written number.

    Uses phonenumbers' own helpers on the same inputs (the NSN, the raw input's digits).
    """
    md = PhoneMetadata.metadata_for_region(phonenumbers.region_code_for_country_code(cc))
    if md is None:
        return True
    rule = _choose_formatting_pattern_for_number(md.number_format, nsn)
    if rule is None or not rule.national_prefix_formatting_rule:
        return True
    if rule.national_prefix_optional_when_formatting:
        return True
    if _formatting_rule_has_first_group_only(rule.national_prefix_formatting_rule):
        return True
    return bool(_maybe_strip_national_prefix_carrier_code(digits, md)[2])


def _extract_cc(digits: str) -> tuple[int, str]:
    """``phonenumbers._extract_country_code``: shortest known calling-code prefix, or 0."""
    if not digits or digits[0] == "0":
        return 0, ""
    for i in range(1, min(3, len(digits)) + 1):
        cc = int(digits[:i])
        if cc in _CC_TO_REGIONS:
            return cc, digits[i:]
    return 0, ""


def _strips(number: str, md: PhoneMetadata | None) -> set[str]:
    """``number`` and what stripping ``md``'s national prefix (or its transform) leaves."""
    out = {number}
    if md is None or not number:
        return out
    rx = _national_prefix_rx(md.national_prefix_for_parsing)
    if rx is None:
        return out
    m = rx.match(number)
    if m is None:
        return out
    out.add(number[m.end() :])
    rule = md.national_prefix_transform_rule
    if rule and m.groups() and m.groups()[-1] is not None:
        out.add(rx.sub(rule, number, count=1))
    return out


def _any_valid(cc: int, nsns: Iterable[str]) -> bool:
    table = _validity_table(cc)
    for nsn in nsns:
        rx = table.get(len(nsn))
        if rx is not None and rx.fullmatch(nsn):
            return True
    return False


# --------------------------------------------------------------------------- metadata


class _RegionInfo:
    __slots__ = ("cc", "cc_str", "idd", "md")

    def __init__(self, md: PhoneMetadata) -> None:
        self.md = md
        self.cc = int(md.country_code or 0)
        self.cc_str = str(self.cc)
        self.idd = re.compile(md.international_prefix) if md.international_prefix else None


def _region_info() -> dict[str, _RegionInfo]:
    out = {}
    for region in PHONE_REGIONS:
        md = PhoneMetadata.metadata_for_region(region)
        if md is not None:
            out[region] = _RegionInfo(md)
    return out


_REGION_INFO = _region_info()
_NP_CACHE: dict[str, re.Pattern[str] | None] = {}
_TABLES: dict[int, dict[int, re.Pattern[str]]] = {}
_TABLE_LOCK = threading.Lock()


def _national_prefix_rx(pattern: str | None) -> re.Pattern[str] | None:
    if not pattern:
        return None
    rx = _NP_CACHE.get(pattern)
    if rx is None:
        rx = _NP_CACHE.setdefault(pattern, re.compile(pattern))
    return rx


def _main_metadata(cc: int) -> PhoneMetadata | None:
    """The metadata ``parse`` switches to for an extracted calling code (its main region)."""
    region = phonenumbers.region_code_for_country_code(cc)
    return PhoneMetadata.metadata_for_region_or_calling_code(cc, region)


_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)


def _validity_table(cc: int) -> dict[int, re.Pattern[str]]:
    """Per NSN length: one regex that fullmatches iff the NSN is valid in some region of ``cc``.

    ``_number_type_helper`` semantics: the general description (length, then pattern) and one
    type description (length when it lists lengths, then a non-empty pattern). Built on first
    use per calling code (a few milliseconds) and kept.
    """
    table = _TABLES.get(cc)
    if table is not None:
        return table
    with _TABLE_LOCK:
        table = _TABLES.get(cc)
        if table is None:
            table = _build_table(cc)
            _TABLES[cc] = table
    return table


def _build_table(cc: int) -> dict[int, re.Pattern[str]]:
    alts: dict[int, list[str]] = {}
    for region in _CC_TO_REGIONS.get(cc, ()):
        md = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
        if md is None or md.general_desc is None:
            continue
        general = md.general_desc.national_number_pattern
        if not general:
            continue
        types = [getattr(md, name) for name in _TYPE_DESCS]
        for length in range(2, 18):  # parse keeps NSNs of 2-17 digits
            if md.general_desc.possible_length and length not in md.general_desc.possible_length:
                continue
            pats = [
                t.national_number_pattern
                for t in types
                if t is not None
                and t.national_number_pattern
                and (not t.possible_length or length in t.possible_length)
            ]
            if pats:
                body = "|".join(f"(?:{p})" for p in pats)
                alts.setdefault(length, []).append(f"(?=(?:{general})\\Z)(?:{body})")
    return {n: re.compile("|".join(f"(?:{a})" for a in parts)) for n, parts in alts.items()}
