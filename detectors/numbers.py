"""Classify a run of digit groups: card, IMEI, SSN, IPv4, account number or phone.

The matcher reports one candidate per run of digit groups ("2024-01-01 4111 1111 1111 1111",
"+1-984-182-0190 x12"). A run can hold several entities or none, so the run is split into its
digit groups and consecutive groups are tried in a fixed order, strongest evidence first:

1. dates at the start of a run (``YYYY-MM-DD``): consumed, never PII;
2. IPv4 (four dotted groups 0-255, not part of a longer dotted version like ``1.2.3.4.5``);
3. card or IMEI (13-19 digits, 12 for Maestro, Luhn; 15-digit numbers are IMEI unless a card
   prefix says otherwise or an "imei" keyword precedes them);
4. US SSN (3-2-4 with one separator kind; a bare 9-digit number only after an SSN keyword);
5. account number (6-20 digits after an account keyword, when that keyword is nearer than a
   phone keyword);
6. phone (``phonenumbers``), on what is left.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from detectors.findings import Finding
from detectors.phones import valid_phone
from detectors.validators import ipv4_ok, luhn_ok, ssn_ok

_GROUP: Final = re.compile(r"\d+")
# Shapes that are never PII, rejected before any splitting: a bare date, a decimal number
# (price, one coordinate). Five dotted groups stay: French numbers are written 01.84.17.61.18.
_NOT_PII: Final = re.compile(r"(?:19|20)\d\d([-/.])\d\d?\1\d\d?|\d{1,5}\.\d{1,5}")
_DATE_SEPS: Final = frozenset({"-", "/", "."})
_EXT_SEP: Final = re.compile(r"[^\W\d_]|#")  # a letter or "#": "x12", "ext. 3", "#4"
_KW_WINDOW: Final = 40
# "1.2.3.4" is the shortest entity a run can hold (7 chars); 6 digits for accounts.
MIN_RUN: Final = 6
# Keywords are matched in the lowercased context before the run (one .lower() per run instead
# of case-insensitive matching in every search).
_ACCOUNT_KW: Final = re.compile(r"(?:account|acct|a/c|konto|acc(?:t)?\s*(?:no|#|num))")
_PHONE_KW: Final = re.compile(r"(?:phone|tel|call|mobile|cell|fax|sms|whatsapp)")
_SSN_KW: Final = re.compile(r"(?:ssn|social security)")
_VERSION_WORDS: Final = ("version", "ver.", "ver", "build", "release", "firmware", "v")

SCORES: Final[dict[str, float]] = {
    "CREDIT_CARD": 1.0,
    "IMEI": 0.95,
    "IP_ADDRESS": 0.9,
    "US_SSN": 0.85,
    "ACCOUNT_NUMBER": 0.6,
    "PHONE_NUMBER": 0.75,
}


def _last(rx: re.Pattern[str], before: str) -> int:
    """Position of the last keyword match in ``before`` (-1 if none)."""
    pos = -1
    for m in rx.finditer(before):
        pos = m.end()
    return pos


def _card_prefix_ok(digits: str) -> bool:
    # Issuer identification: 2-6 cover Visa/Mastercard/Amex/Discover/JCB/UnionPay/Maestro;
    # 1800 is JCB's 15-digit range. 13-digit numbers starting with 1 are epoch milliseconds.
    if len(digits) == 12:  # only Maestro issues 12-digit cards (50, 56-69)
        return digits[:2] == "50" or "56" <= digits[:2] <= "69"
    first = digits[0]
    if first in "23456":
        return True
    return first == "1" and len(digits) != 13


def _is_card_15(digits: str) -> bool:
    return digits[:2] in ("34", "37") or digits[:4] in ("1800", "2131")


def classify_run(text: str, start: int, end: int, wanted: frozenset[str]) -> list[Finding]:
    """Return findings for the digit run ``text[start:end]`` (offsets into ``text``)."""
    if end - start < MIN_RUN:
        return []
    run = text[start:end]
    if _NOT_PII.fullmatch(run):
        return []
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(run)]
    if not groups:
        return []
    before = text[max(0, start - _KW_WINDOW) : start].lower()
    ndigits = 0
    for a, b in groups:
        ndigits += b - a
    if ndigits < 7 and "." not in run:
        # Without dots (IPv4) and under seven digits (phone, SSN, card, IMEI) only an account
        # number fits, and only after an account keyword: most such runs are dates, times
        # and order numbers, settled here without splitting the run.
        if ndigits < 6 or "ACCOUNT_NUMBER" not in wanted or _ACCOUNT_KW.search(before) is None:
            return []
    seps = [run[groups[i][1] : groups[i + 1][0]] for i in range(len(groups) - 1)]
    k = len(groups)
    # An extension ("x12", "ext. 3") belongs to the phone before it; nothing else spans it.
    ext_at = k
    for t, sep in enumerate(seps):
        if sep != " " and sep != "-" and sep != "." and _EXT_SEP.search(sep) is not None:
            ext_at = t + 1
            break
    digs = [run[a:b] for a, b in groups]
    out: list[Finding] = []
    covered = [False] * k
    i = 0
    if k >= 3 and _is_date(digs, seps):
        covered[0] = covered[1] = covered[2] = True
        i = 3
    while i < ext_at:
        j = _match_at(i, digs, seps, ext_at, run, before, wanted, start, groups, out)
        if j > i:
            for t in range(i, j):
                covered[t] = True
            i = j
        else:
            i += 1
    _phone_or_account(text, start, run, groups, covered, ext_at, before, wanted, out)
    return out


def _after_version_word(context: str) -> bool:
    """Does lowercased ``context`` end in a version word ("version", "v", "build: ")?

    The regex ``(?:version|ver\\.?|build|release|firmware|v)\\s*[:=]?\\s*$``, decided from
    the end of the string instead of trying it at every position.
    """
    tail = context.rstrip()
    if tail[-1:] in (":", "="):
        tail = tail[:-1].rstrip()
    return tail.endswith(_VERSION_WORDS)


def _is_date(digs: list[str], seps: list[str]) -> bool:
    a, b, c = digs[0], digs[1], digs[2]
    if seps[0] != seps[1] or seps[0] not in _DATE_SEPS:
        return False
    if len(a) == 4 and a[:2] in ("19", "20"):
        return len(b) <= 2 and len(c) <= 2 and 1 <= int(b) <= 12 and 1 <= int(c) <= 31
    if len(c) == 4 and c[:2] in ("19", "20"):
        return len(a) <= 2 and len(b) <= 2 and int(a) <= 31 and int(b) <= 31
    return False


def _match_at(
    i: int,
    digs: list[str],
    seps: list[str],
    limit: int,
    run: str,
    before: str,
    wanted: frozenset[str],
    base: int,
    groups: list[tuple[int, int]],
    out: list[Finding],
) -> int:
    """Try the fixed-shape entities starting at group ``i``; return the group after the match."""

    # IPv4: exactly four dotted groups, not a longer dotted sequence, not after "version".
    if i + 4 <= limit and seps[i] == "." and seps[i + 1] == "." and seps[i + 2] == ".":
        longer = (i > 0 and seps[i - 1] == ".") or (i + 4 < len(digs) and seps[i + 3] == ".")
        if not longer and ipv4_ok(digs[i : i + 4]):
            # Only the end of the context matters here; a bounded slice keeps a megabyte run
            # of addresses linear.
            at = groups[i][0]
            prefix = before + run[max(0, at - _KW_WINDOW) : at]
            if prefix.endswith("/") or _after_version_word(prefix):
                return i + 4  # a version string: consumed, not an address
            if "IP_ADDRESS" in wanted:
                return _emit(out, "IP_ADDRESS", base, groups, i, i + 4)
            return i + 4
    # Cards and IMEIs: longest window of 13-19 digits joined by single spaces or dashes.
    # A run that starts with "+" is an international phone number, never a card.
    total = 0
    best = -1
    plus = i == 0 and "+" in run[: groups[0][0]]
    for j in range(i, limit if not plus else i):
        if j > i and seps[j - 1] not in (" ", "-"):
            break
        total += len(digs[j])
        if total > 19:
            break
        if total >= 12:
            best = j
    for j in range(best, i - 1, -1) if best >= 0 else ():
        number = "".join(digs[i : j + 1])
        if len(number) < 12 or not luhn_ok(number):
            continue
        if len(number) == 15 and ("imei" in before or not _is_card_15(number)):
            return _emit(out, "IMEI", base, groups, i, j + 1) if "IMEI" in wanted else j + 1
        if _card_prefix_ok(number):
            if "CREDIT_CARD" in wanted:
                return _emit(out, "CREDIT_CARD", base, groups, i, j + 1)
            return j + 1
    # US SSN: 3-2-4 with one separator kind, or 9 digits after an SSN keyword.
    if i + 3 <= limit and len(digs[i]) == 3 and len(digs[i + 1]) == 2 and len(digs[i + 2]) == 4:
        if seps[i] == seps[i + 1] and seps[i] in ("-", " ", "."):
            if ssn_ok(digs[i], digs[i + 1], digs[i + 2]) and "US_SSN" in wanted:
                return _emit(out, "US_SSN", base, groups, i, i + 3)
            return i + 3  # SSN-shaped but an invalid range: not a phone either
    if len(digs[i]) == 9 and _SSN_KW.search(before[-24:]):
        d = digs[i]
        if ssn_ok(d[:3], d[3:5], d[5:]):
            return _emit(out, "US_SSN", base, groups, i, i + 1) if "US_SSN" in wanted else i + 1
    return i


def _emit(
    out: list[Finding], entity: str, base: int, groups: list[tuple[int, int]], i: int, j: int
) -> int:
    """Append the finding spanning groups ``i`` to ``j - 1``; return ``j``."""
    out.append(
        Finding(base + groups[i][0], base + groups[j - 1][1], entity, SCORES[entity], "pattern")
    )
    return j


def _phone_or_account(
    text: str,
    base: int,
    run: str,
    groups: list[tuple[int, int]],
    covered: list[bool],
    ext_at: int,
    before: str,
    wanted: frozenset[str],
    out: list[Finding],
) -> None:
    """Classify each maximal stretch of uncovered groups as an account number or a phone."""
    k = len(groups)
    i = 0
    while i < k:
        if covered[i]:
            i += 1
            continue
        j = i
        while j + 1 < k and not covered[j + 1]:
            j += 1
        lo = groups[i][0]
        # Keep a leading "+" or "(" with the number; keep a closing ")" and the extension.
        while lo > 0 and run[lo - 1] in "+( ":
            lo -= 1
            if run[lo] == "+" or run[lo] == "(":
                break
        lo = lo if run[lo] in "+(" else groups[i][0]
        hi = groups[j][1]
        ndigits = 0
        for a, b in groups[i : min(j + 1, ext_at)]:
            ndigits += b - a
        # Keywords can only sit in `before` (a run holds digits, separators and "x"/"ext"/"#"),
        # and the checks below read the end of the context: a bounded slice of the run keeps
        # a long run with many stretches linear.
        ctx = before + run[max(0, lo - _KW_WINDOW) : lo]
        if (
            "ACCOUNT_NUMBER" in wanted
            and 6 <= ndigits <= 20
            and _ACCOUNT_KW.search(ctx)
            and _last(_ACCOUNT_KW, ctx) > _last(_PHONE_KW, ctx)
        ):
            s = base + groups[i][0]
            out.append(Finding(s, base + hi, "ACCOUNT_NUMBER", SCORES["ACCOUNT_NUMBER"], "pattern"))
        elif "PHONE_NUMBER" in wanted and 7 <= ndigits <= 17 and not ctx.endswith("/"):
            if not _after_version_word(ctx):
                for a, b in phone_spans(run[lo:hi]):
                    out.append(
                        Finding(
                            base + lo + a,
                            base + lo + b,
                            "PHONE_NUMBER",
                            SCORES["PHONE_NUMBER"],
                            "pattern",
                        )
                    )
        i = j + 1


@lru_cache(maxsize=8192)
def phone_spans(window: str) -> tuple[tuple[int, int], ...]:
    """Spans of valid phone numbers in ``window`` (a digit run with its punctuation).

    The whole window is tried first (one parse per plausible region, first valid wins); if it
    is not a phone, windows that drop leading or trailing groups are tried, so a phone glued to
    an order number by a space is still found. Cached: logs repeat numbers.
    """
    if valid_phone(window):
        return ((0, len(window)),)
    groups = [(m.start(), m.end()) for m in _GROUP.finditer(window)]
    found: list[tuple[int, int]] = []
    for t in range(1, len(groups)):
        if valid_phone(window[groups[t][0] : len(window)]):
            found.append((groups[t][0], len(window)))
            break
        if valid_phone(window[: groups[-t - 1][1]]):
            found.append((0, groups[-t - 1][1]))
            break
    return tuple(found)
