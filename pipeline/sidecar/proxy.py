"""Reverse-proxy mode: forward every request, stripping media on the way.

What is forwarded, by body:

* ``multipart/*``: buffered up to the size limit, parsed strictly; every part whose bytes are
  an image or video is stripped, a part that *claims* to be one (type or file name) but is not
  is refused (415), other parts pass byte for byte. Then forwarded whole with a recomputed
  ``Content-Length``.
* any other body whose first bytes are an image or video: buffered, stripped, forwarded with
  the new length. A body declared ``image/*``/``video/*`` whose bytes are not is refused.
* everything else streams through untouched, counted against the limit.

Nothing that failed a check is ever sent: refusals happen before the upstream is contacted,
except for a streamed non-media body that runs over the limit or the deadline midway, whose
upstream request is then aborted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from multidict import MultiMapping

from pipeline.sidecar.body import BodyReader
from pipeline.sidecar.engine import Engine, Stripped
from pipeline.sidecar.exceptions import (
    SidecarError,
    Unsupported,
)
from pipeline.sidecar.forwarding import (
    REMOVED_HEADER,
    SMALL_RESPONSE,
    consent_of,
    forward_headers_from,
    is_compressed,
    is_multipart,
    proxy_token_ok,
    read_answer,
    removed_header,
    response_headers,
    send_upstream,
)
from pipeline.sidecar.keys import DEADLINE_KEY, ENGINE_KEY, UPSTREAM_KEY
from pipeline.sidecar.multipart import boundary_of, build, parse
from pipeline.sidecar.sniff import SNIFF_BYTES, MediaKind, claims_media, sniff
from pipeline.sidecar.upstream import (
    UpstreamError,
    UpstreamResponse,
)

log = logging.getLogger(__name__)

_PLAIN_TRANSFER = frozenset({"7bit", "8bit", "binary"})


def forward_headers(request: web.Request) -> list[tuple[str, str]]:
    """The request headers to send upstream: hop-by-hop ones removed, X-Forwarded-* added."""
    return forward_headers_from(request.headers, request.remote, request.scheme, request.host)


def check_proxy_token(request: web.Request, token: str | None) -> None:
    """Require ``Proxy-Authorization: Bearer <token>`` when a token is configured.

    Raises:
        SidecarError: (407) missing or wrong; compared in constant time.
    """
    if not proxy_token_ok(request.headers, token):
        err = SidecarError("proxy authorization required", code="proxy_auth_required")
        err.status = 407
        raise err


class _Streamed:
    """An async iterable over a non-media body (its sniffed head, then the rest)."""

    def __init__(self, head: bytes, reader: BodyReader) -> None:
        self.head = head
        self.reader = reader

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.head:
            yield self.head
        async for chunk in self.reader.rest():
            yield chunk


async def _strip_multipart(
    engine: Engine, reader: BodyReader, content_type: str, request: web.Request
) -> tuple[bytes, list[Stripped]]:
    boundary = boundary_of(content_type)
    body = await reader.read_all()
    parts = parse(body, boundary, max_parts=engine.settings.max_parts)
    consent = None
    out = []
    done: list[Stripped] = []
    for part in parts:
        where = f"multipart part {part.index}"
        encoding = part.headers.get("content-transfer-encoding", "binary").strip().lower()
        if encoding not in _PLAIN_TRANSFER:
            # A base64 part would hide an image from the sniffer.
            msg = f"{where}: Content-Transfer-Encoding other than binary is not accepted"
            raise Unsupported(msg, code="unsupported_encoding")
        declared = part.content_type or ""
        if declared.lower().startswith("multipart/"):
            msg = f"{where}: nested multipart bodies are not accepted"
            raise Unsupported(msg, code="unsupported_encoding")
        if sniff(part.body[:SNIFF_BYTES]) is not MediaKind.OTHER:
            if consent is None:
                consent = consent_of(engine, request.headers)
            stripped = await engine.strip(
                part.body,
                consent,
                where=where,
                content_type=part.content_type,
                filename=part.filename,
            )
            done.append(stripped)
            out.append(part.with_body(stripped.result.data))
        elif claims_media(part.content_type, part.filename):
            msg = f"{where} is declared as an image or video but its bytes are not one"
            raise Unsupported(msg, code="content_type_mismatch")
        else:
            out.append(part)
    return build(out, boundary), done


def check_encoding(headers: MultiMapping[str], body_exists: bool) -> None:
    """Refuse compressed request bodies.

    Raises:
        Unsupported: (415) a body with a Content-Encoding other than identity.
    """
    if body_exists and is_compressed(headers):
        # Compressed bodies cannot be inspected without decompressing, which is a bomb risk.
        msg = "compressed request bodies (Content-Encoding) are not accepted"
        raise Unsupported(msg, code="unsupported_encoding")


async def handle(request: web.Request) -> web.StreamResponse:
    """Forward ``request`` to the upstream (see the module docstring for what changes).

    Raises:
        SidecarError: the refusals above, 502 when the upstream cannot be reached, 504 when
            it does not answer in time. Raised before any response byte is sent.
    """
    engine: Engine = request.app[ENGINE_KEY]
    settings = engine.settings
    token = settings.token.get_secret_value() if settings.token else None
    check_proxy_token(request, token)
    check_encoding(request.headers, request.body_exists)
    reader = BodyReader(request, limit=int(settings.max_body), deadline=request[DEADLINE_KEY])
    headers = forward_headers(request)
    content_type = request.headers.get("Content-Type", "")
    data: bytes | _Streamed | None = None
    stripped: list[Stripped] = []
    if not request.body_exists:
        data = None
    elif is_multipart(content_type):
        data, stripped = await _strip_multipart(engine, reader, content_type, request)
    else:
        head = await reader.head(SNIFF_BYTES)
        if sniff(head) is not MediaKind.OTHER:
            body = await reader.read_all(head)
            one = await engine.strip(
                body, consent_of(engine, request.headers), where="body", content_type=content_type
            )
            stripped.append(one)
            data = one.result.data
        elif claims_media(content_type, None):
            msg = "body is declared as an image or video but its bytes are not one"
            raise Unsupported(msg, code="content_type_mismatch")
        else:
            data = _Streamed(head, reader)
    if stripped:
        headers.append((REMOVED_HEADER, removed_header(stripped)))
    return await _forward(request, headers, data)


async def _forward(
    request: web.Request,
    headers: list[tuple[str, str]],
    data: bytes | _Streamed | None,
) -> web.StreamResponse:
    content_length = request.content_length if isinstance(data, _Streamed) else None
    upstream_response = await send_upstream(
        request.app[UPSTREAM_KEY],
        request.method,
        request.rel_url.raw_path_qs,
        headers,
        data,
        content_length=content_length,
    )
    try:
        return await _relay(request, upstream_response)
    finally:
        upstream_response.release()


async def _relay(request: web.Request, upstream: UpstreamResponse) -> web.StreamResponse:
    headers_out = response_headers(upstream.headers)
    length = upstream.content_length
    if length is not None and 0 < length <= SMALL_RESPONSE:
        # One write for a small answer: fewer packets and wake-ups than streaming.
        body = await read_answer(upstream)
        headers_out.popall("Content-Length", None)
        return web.Response(
            status=upstream.status, reason=upstream.reason, headers=headers_out, body=body
        )
    response = web.StreamResponse(
        status=upstream.status, reason=upstream.reason, headers=headers_out
    )
    await response.prepare(request)
    try:
        async for chunk in upstream.iter_chunks():
            await response.write(chunk)
    except (UpstreamError, ConnectionError) as exc:
        # Headers already sent: the only honest signal left is a cut connection.
        log.warning("upstream broke off its response: %s", type(exc).__name__)
        response.force_close()
        return response
    await response.write_eof()
    return response
