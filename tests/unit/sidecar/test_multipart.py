"""The strict multipart parser and writer."""

from __future__ import annotations

import pytest

from pipeline.sidecar.exceptions import BadRequest
from pipeline.sidecar.multipart import Part, boundary_of, build, parse

B = b"XyZ123"


def body(*parts: tuple[bytes, bytes], close: bool = True, preamble: bytes = b"") -> bytes:
    out = preamble
    for headers, content in parts:
        out += b"--" + B + b"\r\n" + headers + b"\r\n\r\n" + content + b"\r\n"
    if close:
        out += b"--" + B + b"--\r\n"
    return out


FIELD = (b'Content-Disposition: form-data; name="title"', b"hello")
FILE = (
    b'Content-Disposition: form-data; name="f"; filename="a.jpg"\r\nContent-Type: image/jpeg',
    b"\xff\xd8\xff\xe0binary\r\n--XyZ12 not a delimiter",
)


def test_parse_round_trip_keeps_headers_and_bodies_byte_for_byte() -> None:
    raw = body(FIELD, FILE)
    parts = parse(raw, B, max_parts=10)
    assert [p.index for p in parts] == [1, 2]
    assert parts[0].raw_headers == FIELD[0] and parts[0].body == b"hello"
    assert parts[1].body == FILE[1]
    assert parts[1].filename == "a.jpg" and parts[1].content_type == "image/jpeg"
    assert parts[0].filename is None
    assert build(parts, B) == raw


def test_preamble_and_epilogue_are_dropped() -> None:
    raw = body(FIELD, preamble=b"ignore me\r\n") + b"epilogue"
    parts = parse(raw, B, max_parts=10)
    assert build(parts, B) == body(FIELD)


def test_part_without_headers() -> None:
    raw = b"--" + B + b"\r\n\r\nno headers\r\n--" + B + b"--"
    parts = parse(raw, B, max_parts=10)
    assert parts[0].raw_headers == b"" and parts[0].body == b"no headers"
    assert parse(build(parts, B), B, max_parts=10)[0].body == b"no headers"


def test_with_body_replaces_content_and_drops_part_content_length() -> None:
    part = Part(1, b"Content-Type: image/jpeg\r\nContent-Length: 4", {}, b"abcd")
    new = part.with_body(b"xy")
    assert new.body == b"xy" and new.raw_headers == b"Content-Type: image/jpeg"


def test_rfc2231_filename() -> None:
    headers = b"Content-Disposition: form-data; name=\"f\"; filename*=UTF-8''%C3%A9t%C3%A9.jpg"
    parts = parse(body((headers, b"x")), B, max_parts=10)
    assert parts[0].filename == "\u00e9t\u00e9.jpg"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (body(FIELD, FILE, close=False), "truncated_multipart"),  # no closing delimiter
        (body(FIELD)[:-12], "truncated_multipart"),  # cut inside the last delimiter
        (b"--" + B + b"\r\nContent-Type: x", "malformed_multipart"),  # cut in headers
        (b"no boundary at all", "malformed_multipart"),
        (b"--" + B + b"junk\r\n\r\nx\r\n--" + B + b"--", "malformed_multipart"),
        (body((b"Bad header line", b"x")), "malformed_multipart"),
        (body((b"A: 1\r\n folded", b"x")), "malformed_multipart"),
        (body((b"A: 1\r\na: 2", b"x")), "malformed_multipart"),  # duplicate header
        (body(FIELD, FIELD, FIELD), "too_many_parts"),
    ],
)
def test_bad_bodies_are_refused(raw: bytes, code: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse(raw, B, max_parts=2)
    assert info.value.code == code
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("multipart/form-data; boundary=XyZ123", b"XyZ123"),
        ('multipart/form-data; boundary="a b:c"', b"a b:c"),
        ("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWx",
         b"----WebKitFormBoundary7MA4YWx"),
    ],
)  # fmt: skip
def test_boundary_of(content_type: str, expected: bytes) -> None:
    assert boundary_of(content_type) == expected


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "x" * 71,
        'multipart/form-data; boundary="bad\x01char"',
        'multipart/form-data; boundary="ends with space "',
    ],
)
def test_bad_boundaries(content_type: str) -> None:
    with pytest.raises(BadRequest):
        boundary_of(content_type)
