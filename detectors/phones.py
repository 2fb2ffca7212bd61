"""Phone validation: Presidio's acceptance rule, and an exact fast path for the same answer.

The rule (``slow_valid_phone``) is what Veil has always used: per region, a C-regex
pre-check of the region's general number pattern, then ``phonenumbers.parse`` and the
``PhoneNumberMatcher``'s own leniency-VALID verifier. A parse plus verify costs 50-70 us, and
most digit runs that reach it are no phone at all (order numbers, timestamps, ids).

``valid_phone`` answers the same question faster. Windows made only of ASCII digits, ``+``
at the start and the separators ``( ) - . /`` and space (every window the digit-run matcher
produces, except those with an extension; those take the slow path) are decided without
``phonenumbers.parse``, in two steps:

1. *Rejection filter* (``_region_may_be_valid``, ``_plus_may_be_valid``): enumerate every
   national significant number (NSN) ``parse`` could produce for the region and check each
   against the metadata patterns of its calling code, precompiled once; most digit runs
   (order numbers, ids, timestamps) stop here in a few microseconds.
2. *Exact decision* (``_exact_valid``): ``parse`` from the normalized number on, step by step
   with phonenumbers' own helpers (IDD and ``+`` stripping, country-code extraction, the
   country code written without ``+``, national prefix and carrier code stripping, the
   possible-length test), then ``is_valid_number`` and the matcher's
   ``_is_national_prefix_present_if_required`` with precompiled replicas of the two helpers
   that recompile patterns by string on every call.

Why the shape settles the steps ``_exact_valid`` skips: the extension patterns all need a
label (letters, ``#``, ``~``, ``,`` or ``;``), so nothing is stripped as an extension; there
are no letters, so no keypad conversion; ``_extract_possible_number`` only drops leading
``(`` and trailing separators; the normalized number is the window's digits. Viability is
checked with phonenumbers' own function. Why the filter is complete: ``+`` or a matching IDD
(next digit not 0) fixes the calling code as the shortest known prefix; otherwise the code is
the region's and the NSN is the digits, or the digits minus the code, each with up to two
national-prefix strips (transform rules applied with the same regex and ``re.sub``); and
``is_valid_number`` needs the NSN to match, by length and pattern, the general and one type
description of some region of the code.

``tests/unit/detectors/test_phones.py`` checks ``valid_phone == slow_valid_phone`` on a large
fixed-seed table (every region's example numbers in three formats, mutated, IDD and
bare-code forms, and random windows) and with hypothesis. The mirror follows the pinned
phonenumbers (requirements.lock); after an upgrade that test is what says whether it still holds.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Final

import phonenumbers
from phonenumbers import REGION_CODE_FOR_NON_GEO_ENTITY, CountryCodeSource, Leniency, PhoneMetadata
from phonenumbers.phonemetadata import NumberFormat, PhoneNumberDesc
from phonenumbers.phonenumbermatcher import _verify  # the matcher's own VALID check
from phonenumbers.phonenumberutil import (
    _MAX_LENGTH_FOR_NSN,
    _MIN_LENGTH_FOR_NSN,
    UNKNOWN_REGION,
    ValidationResult,
    _formatting_rule_has_first_group_only,
)

# Presidio's default regions (US GB DE FR IL IN CA BR) plus CN, so recall is never below it.
# Acceptance is "valid in any region", so the order only affects cost: most likely first.
PHONE_REGIONS: Final[tuple[str, ...]] = ("US", "GB", "DE", "FR", "IN", "CN", "BR", "IL", "CA")

_EXT: Final = re.compile(r"[A-Za-z#]")
_DECIMAL: Final = re.compile(r"[-+]?\d+\.\d+")
# The characters the fast path reasons about; anything else takes the slow path.
_FAST_SHAPE: Final = re.compile(r"\(*\+?[0-9 ().\-/]*")
_NOT_DIGIT: Final = re.compile(r"[^0-9]")
# A number with an "x"/"ext" extension, as the digit-run candidate pattern writes one, and
# the plain numbers before one that the fast rule may judge alone.
_X_EXTENSION: Final = re.compile(r"(.*?[0-9])[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6}")
_PLAIN_MAIN: Final = re.compile(r"\+?[0-9][0-9 \-/]*")
_CC_TO_REGIONS: Final = phonenumbers.COUNTRY_CODE_TO_REGION_CODE


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


_GENERAL: Final = _general_patterns()


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
        ext = _X_EXTENSION.fullmatch(window)
        # An "x"/"ext" extension does not change the verdict on the number before it
        # (test_fast_equals_slow_on_fixed_table checks this on ~10,000 reference parses).
        # Only plain numbers (digits, spaces, dashes, slashes): with parentheses or dots the
        # reference parse can read the extension's digits differently (measured mismatches).
        if ext is not None and _PLAIN_MAIN.fullmatch(ext.group(1)):
            return _valid_fast_shape(ext.group(1))
        return slow_valid_phone(window)  # other extensions, non-ASCII digits: rare, full rule
    return _valid_fast_shape(window)


def _valid_fast_shape(window: str) -> bool:
    if window.count(".") == 1 and _DECIMAL.fullmatch(window):
        return False
    digits = _NOT_DIGIT.sub("", window)
    if not 7 <= len(digits) <= 17:
        return False
    # No viability check here: a fast-shape window with 7-17 digits always passes phonenumbers'
    # _is_viable_phone_number(_build_national_number_for_parsing(window)) (it starts with "(",
    # "+" or a digit, and every other character is in VALID_PUNCTUATION), so parse never
    # raises NOT_A_NUMBER for it. test_fast_shape_windows_are_viable checks that claim.
    if window.lstrip("(").startswith("+"):
        return _plus_may_be_valid(digits) and _exact_valid(digits, None)
    if len(digits) >= 14 and digits == window.strip():
        return False
    for region, rx in _GENERAL.items():
        if rx.fullmatch(digits) and _region_may_be_valid(digits, region):
            if _exact_valid(digits, region):
                return True
    return False


def _exact_valid(digits: str, region: str | None) -> bool:
    """``parse_valid(window, region)`` for a fast-shape window with digits ``digits``.

    ``phonenumbers.parse`` from the normalized number on (its string clean-up, viability and
    extension steps are settled by the window's shape and the caller), then ``_verify``'s
    VALID rule, using phonenumbers' own helpers step by step; each step names the line of
    ``parse`` it mirrors. About 10 us instead of 50-70.
    """
    if region is None:  # "+": _maybe_strip_i18n_prefix_and_normalize strips the plus
        source, full, md_r = CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN, digits, None
    else:
        md_r = _metadata(region)
        if md_r is None:
            return False
        idd = md_r.international_prefix if md_r.international_prefix is not None else "NonMatch"
        source, full = _strip_idd(digits, idd)
    cc, national = 0, ""
    if source != CountryCodeSource.FROM_DEFAULT_COUNTRY:
        if len(full) <= _MIN_LENGTH_FOR_NSN:
            return False  # TOO_SHORT_AFTER_IDD
        cc, national = _extract_cc(full)
        if cc == 0:
            return False  # INVALID_COUNTRY_CODE (the retry without "+" finds none either)
    elif md_r is not None and full.startswith(str(md_r.country_code)):
        # _maybe_extract_country_code: the region's own code written without "+"
        pot = _strip_np(full[len(str(md_r.country_code)) :], md_r)[0]
        general = md_r.general_desc
        if (not _national_match(full, general) and _national_match(pot, general)) or _length_result(
            full, md_r
        ) == ValidationResult.TOO_LONG:
            source = CountryCodeSource.FROM_NUMBER_WITHOUT_PLUS_SIGN
            cc, national = int(md_r.country_code or 0), pot
    md = md_r
    if cc != 0:
        number_region = _region_for_cc(cc)
        if number_region != region:
            md = _metadata_or_calling_code(cc, number_region)
    elif md_r is not None:
        national, cc = digits, int(md_r.country_code or 0)
    else:
        return False
    if len(national) < _MIN_LENGTH_FOR_NSN:
        return False
    if md is not None:
        pot = _strip_np(national, md)[0]
        if _length_result(pot, md) not in (
            ValidationResult.TOO_SHORT,
            ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
            ValidationResult.INVALID_LENGTH,
        ):
            national = pot
    if not _MIN_LENGTH_FOR_NSN <= len(national) <= _MAX_LENGTH_FOR_NSN:
        return False
    # national_significant_number() gives back exactly these digits (leading zeros are kept
    # as italian_leading_zero / number_of_leading_zeros).
    if not _is_valid_number(cc, national):
        return False
    if source != CountryCodeSource.FROM_DEFAULT_COUNTRY:
        return True
    return _national_prefix_ok(cc, national, digits)


def _is_valid_number(cc: int, nsn: str) -> bool:
    """``is_valid_number``: the region ``region_code_for_number`` picks, then its types."""
    regions = _CC_TO_REGIONS.get(cc)
    if not regions:
        return False
    region: str | None = regions[0]
    if len(regions) > 1:  # _region_code_for_number_from_list
        region = None
        for r in regions:
            md = _metadata(r.upper())
            if md is None:
                continue
            if md.leading_digits is not None:
                if _compiled(md.leading_digits).match(nsn):
                    region = r
                    break
            elif _type_known(nsn, md):
                region = r
                break
    if region is None:  # is_valid_number_for_region
        return False
    md = _metadata_or_calling_code(cc, region.upper())
    if md is None or (
        region != REGION_CODE_FOR_NON_GEO_ENTITY and cc != _country_code_of_valid_region(region)
    ):
        return False
    return _type_known(nsn, md)


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
    md = _metadata(_region_for_cc(cc))
    if md is None:
        return True
    rule = _choose_format(md, nsn)
    if rule is None or not rule.national_prefix_formatting_rule:
        return True
    if rule.national_prefix_optional_when_formatting:
        return True
    if _first_group_only(rule.national_prefix_formatting_rule):
        return True
    return _strip_np(digits, md)[1]


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


# --------------------------------------------------------------------------- phonenumbers' helpers
#
# The fast path mirrors phonenumbers.parse step by step. phonenumbers' own helpers for those
# steps are interpreted Python that looks its metadata up and compiles (through re's cache)
# the same patterns on every call: a fifth of a scan of synth_dataset_v2. These are the same
# steps over the same metadata, with the lookups and patterns kept once per metadata object
# (static data, not inputs). test_phones.py checks the whole fast path against the reference
# parse on ~22,000 windows.


def _metadata(region: str) -> PhoneMetadata | None:
    """``PhoneMetadata.metadata_for_region(region, None)``, kept."""
    hit = _MD_CACHE.get(region, _MISSING)
    if hit is _MISSING:
        hit = _MD_CACHE.setdefault(region, PhoneMetadata.metadata_for_region(region, None))
    return hit if isinstance(hit, PhoneMetadata) else None


def _metadata_or_calling_code(cc: int, region: str) -> PhoneMetadata | None:
    """``PhoneMetadata.metadata_for_region_or_calling_code(cc, region)``."""
    if region == REGION_CODE_FOR_NON_GEO_ENTITY:
        return PhoneMetadata.metadata_for_nongeo_region(cc, None)
    return _metadata(region)


def _region_for_cc(cc: int) -> str:
    """``phonenumbers.region_code_for_country_code(cc)``."""
    regions = _CC_TO_REGIONS.get(cc)
    return regions[0] if regions else UNKNOWN_REGION


def _country_code_of_valid_region(region: str) -> int:
    """``phonenumbers.country_code_for_valid_region(region)`` (region known valid here)."""
    md = _metadata(region.upper())
    if md is None:
        msg = f"Invalid region code {region}"
        raise ValueError(msg)
    return int(md.country_code or 0)


def _first_group_only(rule: str | None) -> bool:
    """``_formatting_rule_has_first_group_only(rule)``, kept per rule."""
    if rule is None:
        return True
    hit = _FIRST_GROUP_CACHE.get(rule)
    if hit is None:
        hit = _FIRST_GROUP_CACHE.setdefault(rule, bool(_formatting_rule_has_first_group_only(rule)))
    return hit


def _national_match(number: str, desc: PhoneNumberDesc | None) -> bool:
    """``_match_national_number(number, desc, False)``: a full match of the desc's pattern."""
    if desc is None or not desc.national_number_pattern:
        return False
    return _compiled(desc.national_number_pattern).fullmatch(number) is not None


def _strip_idd(digits: str, idd: str) -> tuple[int, str]:
    """``_maybe_strip_i18n_prefix_and_normalize(digits, idd)`` for ASCII digits only.

    No plus sign to strip and nothing to normalise; the IDD is stripped unless the digit
    after it is a 0 (no calling code starts with 0).
    """
    if not digits:
        return CountryCodeSource.FROM_DEFAULT_COUNTRY, digits
    m = _compiled(idd).match(digits)
    if m is None:
        return CountryCodeSource.FROM_DEFAULT_COUNTRY, digits
    rest = digits[m.end() :]
    if rest[:1] == "0":
        return CountryCodeSource.FROM_DEFAULT_COUNTRY, digits
    return CountryCodeSource.FROM_NUMBER_WITH_IDD, rest


def _strip_np(number: str, md: PhoneMetadata) -> tuple[str, bool]:
    """``_maybe_strip_national_prefix_carrier_code(number, md)`` without the carrier code:
    (the number with the national prefix stripped or transformed, whether it was)."""
    rx = _national_prefix_rx(md.national_prefix_for_parsing) if number else None
    m = rx.match(number) if rx is not None else None
    if rx is None or m is None:
        return number, False
    general = md.general_desc
    viable = _national_match(number, general)
    groups = m.groups()
    rule = md.national_prefix_transform_rule
    if not rule or groups[len(groups) - 1] is None:
        if viable and not _national_match(number[m.end() :], general):
            return number, False
        return number[m.end() :], True
    transformed = rx.sub(rule, number, count=1)
    if viable and not _national_match(transformed, general):
        return number, False
    return transformed, True


def _length_result(number: str, md: PhoneMetadata) -> int:
    """``_test_number_length(number, md)`` for the UNKNOWN type (the general description)."""
    desc = md.general_desc
    if desc is None:  # not in any shipped metadata (phonenumbers would fail here too)
        return int(ValidationResult.INVALID_LENGTH)
    possible = desc.possible_length
    n = len(number)
    if n in desc.possible_length_local_only:
        return int(ValidationResult.IS_POSSIBLE_LOCAL_ONLY)
    if possible[0] == n:
        return int(ValidationResult.IS_POSSIBLE)
    if possible[0] > n:
        return int(ValidationResult.TOO_SHORT)
    if possible[-1] < n:
        return int(ValidationResult.TOO_LONG)
    return int(
        ValidationResult.IS_POSSIBLE if n in possible[1:] else ValidationResult.INVALID_LENGTH
    )


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


_REGION_INFO: Final = _region_info()
_MISSING: Final = object()
_MD_CACHE: Final[dict[str, object]] = {}
_FIRST_GROUP_CACHE: Final[dict[str, bool]] = {}
_PATTERNS: Final[dict[str, re.Pattern[str]]] = {}
_TABLES: Final[dict[int, dict[int, re.Pattern[str]]]] = {}
_TABLE_LOCK: Final = threading.Lock()


def _compiled(pattern: str) -> re.Pattern[str]:
    """A metadata pattern, compiled once (metadata patterns are a fixed, bounded set)."""
    rx = _PATTERNS.get(pattern)
    if rx is None:
        rx = _PATTERNS.setdefault(pattern, re.compile(pattern))
    return rx


def _national_prefix_rx(pattern: str | None) -> re.Pattern[str] | None:
    return _compiled(pattern) if pattern else None


def _main_metadata(cc: int) -> PhoneMetadata | None:
    """The metadata ``parse`` switches to for an extracted calling code (its main region)."""
    return _metadata_or_calling_code(cc, _region_for_cc(cc))


_TYPE_DESCS: Final = (
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


# Precompiled replicas of two phonenumbers helpers that look patterns up by string on every
# call (their regex cache costs more than the match). Same descriptions, same order.

_Desc = tuple[frozenset[int] | None, re.Pattern[str] | None] | None
_TypeTable = tuple[_Desc, tuple[_Desc, ...], _Desc, _Desc, bool]
_TYPE_CACHE: Final[dict[int, tuple[PhoneMetadata, _TypeTable]]] = {}
_FORMAT_CACHE: dict[
    int, tuple[PhoneMetadata, list[tuple[re.Pattern[str] | None, re.Pattern[str], NumberFormat]]]
] = {}


def _desc(d: PhoneNumberDesc | None) -> _Desc:
    if d is None:
        return None
    lengths = frozenset(d.possible_length) if d.possible_length else None
    rx = re.compile(d.national_number_pattern) if d.national_number_pattern else None
    return lengths, rx


def _desc_ok(nsn: str, d: _Desc) -> bool:
    """``_is_number_matching_desc``: listed lengths first, then a non-empty pattern."""
    if d is None:
        return False
    lengths, rx = d
    if lengths is not None and len(nsn) not in lengths:
        return False
    return rx is not None and rx.fullmatch(nsn) is not None


def _type_known(nsn: str, md: PhoneMetadata) -> bool:
    """``_number_type_helper(nsn, md) != UNKNOWN``."""
    hit = _TYPE_CACHE.get(id(md))
    if hit is None or hit[0] is not md:
        table: _TypeTable = (
            _desc(md.general_desc),
            tuple(_desc(getattr(md, name)) for name in _TYPE_DESCS[:8]),
            _desc(md.fixed_line),
            _desc(md.mobile),
            bool(md.same_mobile_and_fixed_line_pattern),
        )
        hit = _TYPE_CACHE.setdefault(id(md), (md, table))
    general, others, fixed, mobile, same = hit[1]
    if not _desc_ok(nsn, general):
        return False
    if any(_desc_ok(nsn, d) for d in others) or _desc_ok(nsn, fixed):
        return True
    return not same and _desc_ok(nsn, mobile)


def _choose_format(md: PhoneMetadata, nsn: str) -> NumberFormat | None:
    """``_choose_formatting_pattern_for_number(md.number_format, nsn)``."""
    hit = _FORMAT_CACHE.get(id(md))
    if hit is None or hit[0] is not md:
        formats = [
            (
                re.compile(f.leading_digits_pattern[-1]) if f.leading_digits_pattern else None,
                re.compile(f.pattern or ""),
                f,
            )
            for f in md.number_format
        ]
        hit = _FORMAT_CACHE.setdefault(id(md), (md, formats))
    for leading, pattern, fmt in hit[1]:
        if (leading is None or leading.match(nsn)) and pattern.fullmatch(nsn):
            return fmt
    return None
