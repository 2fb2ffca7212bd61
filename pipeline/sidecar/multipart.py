"""A strict ``multipart/*`` parser and writer for bodies already held in memory.

The proxy buffers multipart bodies (up to the size limit) before forwarding, so the upstream
only ever receives a complete, fully checked request: a bad part discovered late cannot leave
half a request at the upstream. Parsing is strict on purpose. A body whose structure is not
clear (no closing delimiter, a delimiter followed by junk, folded headers, too many parts) is
refused with 400 instead of being guessed at, because a lenient upstream parser might find a
file part where this one did not.

Parts keep their header bytes exactly as received; only the body of a part that was stripped
changes (and any part-level ``Content-Length``). Preamble and epilogue carry no meaning and are
dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.message import Message
from types import MappingProxyType

from pipeline.sidecar.exceptions import BadRequest

CRLF = b"\r\n"
MAX_HEADER_BYTES = 16 * 1024
_BOUNDARY_CHARS = frozenset(
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? "
)


@dataclass(frozen=True, slots=True)
class Part:
    """One body part.

    Attributes:
        index: 1-based position in the body (used in messages instead of names or values).
        raw_headers: the header block exactly as received, without the blank line after it.
        headers: header names (lower-case) to values, read-only.
        body: the part's content.
    """

    index: int
    raw_headers: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str | None:
        """The declared ``Content-Type`` of the part, if any."""
        return self.headers.get("content-type")

    @property
    def filename(self) -> str | None:
        """The ``filename`` (or RFC 2231 ``filename*``) parameter of Content-Disposition."""
        disposition = self.headers.get("content-disposition")
        if disposition is None:
            return None
        msg = Message()
        msg["Content-Disposition"] = disposition
        name = msg.get_filename()
        return None if name is None else str(name)

    def with_body(self, body: bytes) -> Part:
        """Return a copy with a new body and any part-level Content-Length header dropped."""
        lines = [
            line
            for line in self.raw_headers.split(CRLF)
            if not line.lower().startswith(b"content-length:")
        ]
        headers = {k: v for k, v in self.headers.items() if k != "content-length"}
        return replace(
            self, raw_headers=CRLF.join(lines), headers=MappingProxyType(headers), body=body
        )


def boundary_of(content_type: str) -> bytes:
    """Return the boundary parameter of a ``multipart/*`` Content-Type.

    Raises:
        BadRequest: no boundary, or one that RFC 2046 does not allow.
    """
    msg = Message()
    msg["Content-Type"] = content_type
    value = msg.get_param("boundary")
    if not isinstance(value, str) or not value:
        text = "multipart Content-Type has no boundary parameter"
        raise BadRequest(text, code="malformed_multipart")
    raw = value.encode("latin-1", errors="replace")
    if len(raw) > 70 or raw.endswith(b" ") or not set(raw) <= _BOUNDARY_CHARS:
        text = "multipart boundary is not valid (RFC 2046: 1-70 allowed characters)"
        raise BadRequest(text, code="malformed_multipart")
    return raw


def _parse_headers(raw: bytes, index: int) -> Mapping[str, str]:
    headers: dict[str, str] = {}
    if not raw:
        return MappingProxyType(headers)
    for line in raw.split(CRLF):
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            msg = f"multipart part {index}: malformed header line"
            raise BadRequest(msg, code="malformed_multipart")
        key = name.decode("ascii", errors="replace").lower()
        if key in headers:
            msg = f"multipart part {index}: header {key!r} appears twice"
            raise BadRequest(msg, code="malformed_multipart")
        headers[key] = value.strip().decode("utf-8", errors="replace")
    return MappingProxyType(headers)


def parse(body: bytes, boundary: bytes, *, max_parts: int) -> list[Part]:
    """Split a complete multipart body into its parts.

    Raises:
        BadRequest: (code ``malformed_multipart``) no opening or no closing delimiter
            (a truncated body), a delimiter line with trailing junk, a header block that is
            malformed or over 16 KiB, or more than ``max_parts`` parts.
    """
    delim = b"--" + boundary
    if body.startswith(delim):
        pos = 0
    else:
        found = body.find(CRLF + delim)
        if found < 0:
            msg = "multipart body has no opening boundary"
            raise BadRequest(msg, code="malformed_multipart")
        pos = found + 2
    parts: list[Part] = []
    while True:
        pos += len(delim)
        if body[pos : pos + 2] == b"--":
            return parts
        while body[pos : pos + 1] in (b" ", b"\t"):
            pos += 1
        if body[pos : pos + 2] != CRLF:
            msg = f"multipart body: delimiter {len(parts) + 1} is not followed by a line end"
            raise BadRequest(msg, code="malformed_multipart")
        pos += 2
        index = len(parts) + 1
        if index > max_parts:
            msg = f"multipart body has more than {max_parts} parts"
            raise BadRequest(msg, code="too_many_parts")
        if body[pos : pos + 2] == CRLF:
            raw_headers, start = b"", pos + 2
        else:
            end = body.find(CRLF + CRLF, pos, pos + MAX_HEADER_BYTES + 4)
            if end < 0:
                msg = f"multipart part {index}: header block truncated or over 16 KiB"
                raise BadRequest(msg, code="malformed_multipart")
            raw_headers, start = body[pos:end], end + 4
        nxt = body.find(CRLF + delim, start)
        if nxt < 0:
            msg = f"multipart body truncated: part {index} has no closing boundary"
            raise BadRequest(msg, code="truncated_multipart")
        headers = _parse_headers(raw_headers, index)
        parts.append(Part(index, raw_headers, headers, body[start:nxt]))
        pos = nxt + 2


def build(parts: Sequence[Part], boundary: bytes) -> bytes:
    """Serialize parts back into a multipart body with the same boundary."""
    delim = b"--" + boundary
    out: list[bytes] = []
    for part in parts:
        out.append(delim + CRLF)
        if part.raw_headers:
            out.append(part.raw_headers + CRLF)
        out.append(CRLF)
        out.append(part.body)
        out.append(CRLF)
    out.append(delim + b"--" + CRLF)
    return b"".join(out)
