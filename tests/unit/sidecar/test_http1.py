"""The upstream response head parser: its one-pass check agrees with the line-by-line rules."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from pipeline.sidecar.http1 import UpstreamProtocolError, parse_head

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
    return int(match.group(1)), int(match.group(2)), (match.group(3) or b"").decode(), headers


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


@settings(max_examples=3000, deadline=None)
@given(lines=st.lists(_line, max_size=6), end=st.sampled_from([b"\r\n\r\n", b"\r\n", b""]))
def test_one_pass_check_agrees_with_the_line_rules(lines: list[bytes], end: bytes) -> None:
    head = b"HTTP/1.1 200 OK\r\n" + b"\r\n".join(lines) + end
    assert _outcome(parse_head, head) == _outcome(reference, head)


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
