"""HTTP/1.1 head parsing: the upstream response head parser (its one-pass check and the C
split agree with the line-by-line rules) and the fast path's request head split (no head
llhttp refuses gets past the C split and the framing checks; what both accept is split
alike)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from pipeline.sidecar.fastpath import request_framing, split_request, split_request_llhttp
from pipeline.sidecar.http1 import HTTP_HEAD, UpstreamProtocolError, parse_head

Parser = Callable[[bytes], tuple[int, int, str, CIMultiDict[str]]]
_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([^\r\n]*))?")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def reference(head: bytes) -> tuple[int, int, str, CIMultiDict[str]]:
    """The parser as it was written first: every line checked on its own."""
    lines = head.split(b"\r\n")
    match = _STATUS.fullmatch(lines[0])
    if match is None:
        raise UpstreamProtocolError("status")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep or _TOKEN.fullmatch(name) is None:
            raise UpstreamProtocolError("malformed")
        value = value.strip(b" \t")
        if _FORBIDDEN.search(value) is not None:
            raise UpstreamProtocolError("control")
        headers.add(name.decode("ascii"), value.decode("utf-8", "surrogateescape"))
    reason = (match.group(3) or b"").decode("latin-1")
    return int(match.group(1)), int(match.group(2)), reason, headers


def _outcome(parser: Parser, head: bytes) -> object:
    try:
        minor, status, reason, headers = parser(head)
    except UpstreamProtocolError:
        return "error"
    return minor, status, reason, list(headers.items())


_piece = st.sampled_from(
    [b"Content-Length", b"X-A", b":", b" ", b"\t", b"\r\n", b"\r", b"\n", b"\x00", b"\x7f",
     b"\x01", b"v", b"9", b"\xc3\xa9", b"\xff", b"(", b"a b", b""]
)  # fmt: skip
_line = st.lists(_piece, max_size=8).map(b"".join)


_status_line = st.sampled_from(
    [b"HTTP/1.1 200 OK", b"HTTP/1.0 404", b"HTTP/1.1 200 ", b"HTTP/1.1 100 Continue",
     b"HTTP/1.2 200 OK", b"HTTP/1.1 099 X", b"HTTP/1.1 2000 OK", b"HTTP/1.1 200 O\tK",
     b"HTTP/1.1 200 caf\xc3\xa9", b"http/1.1 200 OK", b"HTTP/1.1  200 OK", b"HTTP/1.1 200 A\x01"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    status=_status_line,
    lines=st.lists(_line, max_size=6),
    end=st.sampled_from([b"\r\n\r\n", b"\r\n", b""]),
)
def test_one_pass_check_agrees_with_the_line_rules(
    status: bytes, lines: list[bytes], end: bytes
) -> None:
    head = status + b"\r\n" + b"\r\n".join(lines) + end
    assert _outcome(parse_head, head) == _outcome(reference, head)


_name = st.text("abcXYZ09-_!#$%&'*+.^`|~", min_size=1, max_size=12)
_value = st.text(" \tabcXYZ09-_!#$%&'*+.^`|~\"(),/:;<=>?@[\\]{}", max_size=20)


@pytest.mark.skipif(HTTP_HEAD is None, reason="the C extension is not built")
@settings(max_examples=500, deadline=None)
@given(
    status=st.integers(100, 999),
    reason=st.text("abc XYZ\t-", max_size=10),
    pairs=st.lists(st.tuples(_name, _value), max_size=8),
)
def test_well_formed_responses_are_split_in_c(
    status: int, reason: str, pairs: list[tuple[str, str]]
) -> None:
    # Not a vacuous agreement: the usual head does take the C split, and gets it right.
    lines = "".join(f"{name}:{value}\r\n" for name, value in pairs)
    head = f"HTTP/1.1 {status} {reason}\r\n{lines}\r\n".encode("ascii")
    expected = (1, status, reason, [(n, v.strip(" \t")) for n, v in pairs])
    assert HTTP_HEAD(head, True) == expected
    assert _outcome(reference, head) == expected


# -- request heads (the upload fast path) -----------------------------------------------------

_request_piece = st.sampled_from(
    [b"POST", b"GET", b" ", b"/a", b"?q=1", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"\r", b"\n",
     b"Host", b"Content-Length", b"Connection", b"Transfer-Encoding", b"Expect", b":", b"\t",
     b"12", b"-1", b"chunked", b"close", b"x y",
     b"\x00", b"\x7f", b"\xc3\xa9", b"(", b"@", b"", b"\r\n\r\n"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(
    start=st.sampled_from([b"POST /up HTTP/1.1\r\n", b"PUT /a?b=c HTTP/1.1\r\n", b""]),
    pieces=st.lists(_request_piece, max_size=14),
    end=st.sampled_from([b"\r\n\r\n", b"\r\n", b""]),
)
def test_request_split_lets_through_nothing_llhttp_refuses(
    start: bytes, pieces: list[bytes], end: bytes
) -> None:
    head = start + b"".join(pieces) + end
    ours = split_request(head)
    if ours is None:
        return
    theirs = split_request_llhttp(head)
    if theirs is None:
        # llhttp also checks framing headers' values (an empty Content-Length, say); the fast
        # path refuses those heads right after the split, so they are handed off alike.
        assert request_framing(ours[2]) is None
    else:
        assert theirs == ours


@settings(max_examples=500, deadline=None)
@given(
    method=st.sampled_from(["POST", "PUT", "PATCH", "GET"]),
    target=st.from_regex(r"/[a-z0-9/%._~-]{0,12}(\?[a-z0-9=&]{0,8})?", fullmatch=True),
    pairs=st.lists(st.tuples(_name, _value), max_size=8),
)
def test_well_formed_requests_are_split_alike(
    method: str, target: str, pairs: list[tuple[str, str]]
) -> None:
    lines = "".join(f"{name}: {value}\r\n" for name, value in pairs)
    head = f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode("ascii")
    expected = (method, target, [(n, v.strip(" \t")) for n, v in pairs])
    assert split_request(head) == expected
    assert split_request_llhttp(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"POST /a HTTP/1.0\r\nHost: x\r\n\r\n",  # HTTP/1.1 only
        b"POST /a HTTP/1.1\r\n folded: no\r\n\r\n",
        b"POST /a HTTP/1.1\r\nA: bare\nLF\r\n\r\n",
        b"POST /a HTTP/1.1\r\nA : space before the colon\r\n\r\n",
        b"POST /a HTTP/1.1\r\nA: caf\xc3\xa9\r\n\r\n",  # not ASCII: aiohttp decides
        b"POST /a HTTP/1.1\r\nA: 1\r\n",  # no empty line
        b"POST /a\x7f HTTP/1.1\r\n\r\n",
    ],
)
def test_request_heads_not_split(head: bytes) -> None:
    assert split_request(head) is None


@pytest.mark.skipif(HTTP_HEAD is None, reason="the C extension is not built")
def test_c_request_split_is_stricter_than_llhttp() -> None:
    # llhttp (the fallback) is lenient about a doubled space in the request line; the C split
    # hands such a head off (aiohttp then decides).
    head = b"POST  /a HTTP/1.1\r\n\r\n"
    assert split_request_llhttp(head) is not None
    assert HTTP_HEAD(head, False) is None


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nA: 1\r\nB:\t x \t\r\n\r\n",
        b"HTTP/1.0 500 \r\nX: caf\xc3\xa9\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded: no\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: bare\nLF\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nA: 1\r\n",  # no empty line: parsed by the line rules alike
        b"HTTP/1.1 200 OK",
    ],
)
def test_edges(head: bytes) -> None:
    assert _outcome(parse_head, head) == _outcome(reference, head)
