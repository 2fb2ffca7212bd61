"""Checksums and decoders on their own."""

from __future__ import annotations

import pytest

from detectors.validators import iban_end, ipv4_ok, luhn_ok, percent_decode, ssn_ok


@pytest.mark.parametrize(
    ("digits", "ok"),
    [("4111111111111111", True), ("4111111111111112", False), ("490154203237518", True),
     ("79927398713", True), ("79927398710", False)],
)  # fmt: skip
def test_luhn(digits: str, ok: bool) -> None:
    assert luhn_ok(digits) is ok


@pytest.mark.parametrize(
    ("candidate", "end"),
    [("GB82WEST12345698765432", 22), ("GB82 WEST 1234 5698 7654 32 this", 27),
     ("GB82WEST12345698765433", None), ("XX82WEST12345698765432", None), ("GB82WEST123", None)],
)  # fmt: skip
def test_iban_end(candidate: str, end: int | None) -> None:
    assert iban_end(candidate) == end


@pytest.mark.parametrize(
    ("parts", "ok"),
    [(("536", "22", "1234"), True), (("000", "22", "1234"), False), (("666", "22", "1234"), False),
     (("900", "22", "1234"), False), (("536", "00", "1234"), False), (("536", "22", "0000"), False),
     (("111", "11", "1111"), False), (("078", "05", "1120"), False)],
)  # fmt: skip
def test_ssn_ranges(parts: tuple[str, str, str], ok: bool) -> None:
    assert ssn_ok(*parts) is ok


@pytest.mark.parametrize(
    ("groups", "ok"),
    [
        (["10", "0", "0", "1"], True),
        (["256", "1", "1", "1"], False),
        (["01", "2", "3", "4"], False),
    ],
)
def test_ipv4(groups: list[str], ok: bool) -> None:
    assert ipv4_ok(groups) is ok


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [("jo%40ex.com", "jo@ex.com"), ("a+b", "a b"), ("%E2%9C%93x", "✓x"), ("%zz%4", "%zz%4"),
     ("%FFa", "\ufffda")],
)  # fmt: skip
def test_percent_decode_maps_back(raw: str, decoded: str) -> None:
    out, origin = percent_decode(raw, plus_is_space=True)
    assert out == decoded
    assert len(origin) == len(out) + 1 and origin[-1] == len(raw)
    assert origin == sorted(origin)
