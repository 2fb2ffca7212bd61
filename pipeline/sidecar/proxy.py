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

import hmac
import logging
from collections.abc import AsyncIterable, AsyncIterator

from aiohttp import web
from multidict import CIMultiDict, MultiMapping

from pipeline.consent import Consent
from pipeline.sidecar.body import BodyReader
from pipeline.sidecar.consent import resolve
from pipeline.sidecar.engine import Engine, Stripped
from pipeline.sidecar.exceptions import (
    BadRequest,
    SidecarError,
    Unsupported,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pipeline.sidecar.keys import DEADLINE_KEY, ENGINE_KEY, UPSTREAM_KEY
from pipeline.sidecar.multipart import boundary_of, build, parse
from pipeline.sidecar.sniff import SNIFF_BYTES, MediaKind, claims_media, sniff
from pipeline.sidecar.upstream import (
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeoutError,
)

log = logging.getLogger(__name__)

# RFC 9110 7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the proxy itself (length recomputed, Host from the upstream URL, Expect answered
# here, X-Veil-Removed must not be forgeable by the client).
_REQUEST_DROP = HOP_BY_HOP | {"host", "content-length", "expect", "x-veil-removed"}
_RESPONSE_DROP = HOP_BY_HOP
_IDENTITY = frozenset({"", "identity"})
_PLAIN_TRANSFER = frozenset({"7bit", "8bit", "binary"})
REMOVED_HEADER = "X-Veil-Removed"
# Upstream answers up to this size are relayed in one piece, larger ones streamed.
SMALL_RESPONSE = 256 * 1024


def _connection_tokens(headers: MultiMapping[str]) -> set[str]:
    # Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1). getall is the
    # case-insensitive lookup of every Connection header, without walking all headers.
    tokens: set[str] = set()
    for value in headers.getall("Connection", ()):
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def forward_headers(request: web.Request) -> CIMultiDict[str]:
    """The request headers to send upstream: hop-by-hop ones removed, X-Forwarded-* added."""
    return forward_headers_from(request.headers, request.remote, request.scheme, request.host)


def forward_headers_from(
    headers: MultiMapping[str], remote: str | None, scheme: str, host: str
) -> CIMultiDict[str]:
    """:func:`forward_headers` from the request's parts (the upload fast path has no
    aiohttp request): its headers, the client's address, scheme and Host."""
    drop = _REQUEST_DROP | _connection_tokens(headers)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in drop:
            out.add(name, value)
    # Standard reverse-proxy headers: the upload service would see the client's address
    # without the sidecar, so forwarding it reveals nothing new to it (it is never logged).
    forwarded_for = ", ".join([*headers.getall("X-Forwarded-For", []), remote or ""])
    out["X-Forwarded-For"] = forwarded_for.strip(", ")
    out["X-Forwarded-Proto"] = scheme
    out["X-Forwarded-Host"] = host
    return out


def response_headers(upstream: MultiMapping[str]) -> CIMultiDict[str]:
    """The upstream's response headers minus hop-by-hop ones."""
    drop = _RESPONSE_DROP | _connection_tokens(upstream)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        if name.lower() not in drop:
            out.add(name, value)
    return out


def proxy_token_ok(headers: MultiMapping[str], token: str | None) -> bool:
    """True when no token is configured or ``Proxy-Authorization: Bearer <token>`` matches
    (compared in constant time)."""
    if token is None:
        return True
    given = headers.get("Proxy-Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    )


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


def consent_of(engine: Engine, headers: MultiMapping[str]) -> Consent:
    """The request's consent: its header and, when configured, the snapshot."""
    return resolve(
        headers.get("X-Veil-Consent"), headers.get(engine.settings.user_header), engine.snapshot
    )


def is_compressed(headers: MultiMapping[str]) -> bool:
    """True when the body declares a Content-Encoding other than identity."""
    return headers.get("Content-Encoding", "").strip().lower() not in _IDENTITY


def is_multipart(content_type: str) -> bool:
    """True for a ``multipart/*`` Content-Type (parsed and rebuilt part by part)."""
    return content_type.lower().lstrip().startswith("multipart/")


def check_encoding(headers: MultiMapping[str], body_exists: bool) -> None:
    """Refuse compressed request bodies.

    Raises:
        Unsupported: (415) a body with a Content-Encoding other than identity.
    """
    if body_exists and is_compressed(headers):
        # Compressed bodies cannot be inspected without decompressing, which is a bomb risk.
        msg = "compressed request bodies (Content-Encoding) are not accepted"
        raise Unsupported(msg, code="unsupported_encoding")


def removed_header(stripped: list[Stripped]) -> str:
    """The X-Veil-Removed value: removed categories, comma-separated, or ``none``."""
    return ",".join(sorted({cat for one in stripped for cat in one.categories})) or "none"


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
        headers[REMOVED_HEADER] = removed_header(stripped)
    return await _forward(request, headers, data)


async def _forward(
    request: web.Request,
    headers: CIMultiDict[str],
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


async def send_upstream(
    pool: UpstreamPool,
    method: str,
    target: str,
    headers: CIMultiDict[str],
    data: bytes | AsyncIterable[bytes] | None,
    *,
    content_length: int | None = None,
) -> UpstreamResponse:
    """Send the request upstream and return its response head.

    Raises:
        SidecarError: a streamed body's own refusal (408/413/400); 400 when the request line
            or a header cannot be forwarded; 504 when the upstream does not answer in time;
            502 when it cannot be reached or breaks off.
    """
    try:
        return await pool.request(
            method, target, headers.items(), data, content_length=content_length
        )
    except SidecarError:
        raise  # the streamed body's own refusal (408/413/400), raised through the client
    except ValueError:
        # Only from values the parser let through but HTTP/1.1 cannot carry.
        msg = "request line or headers cannot be forwarded"
        raise BadRequest(msg) from None
    except UpstreamTimeoutError:
        raise timeout_error() from None
    except UpstreamError as exc:
        raise unavailable_error(exc) from None


async def read_answer(upstream: UpstreamResponse) -> bytes:
    """The upstream's whole (small) response body.

    Raises:
        SidecarError: 504 when it does not arrive in time, 502 when the upstream breaks off.
    """
    try:
        return await upstream.read()
    except UpstreamTimeoutError:
        raise timeout_error() from None
    except UpstreamError as exc:
        raise unavailable_error(exc) from None


def timeout_error() -> UpstreamTimeout:
    """The 504 answered when the upstream does not answer in time."""
    msg = "upstream did not answer in time"
    return UpstreamTimeout(msg)


def unavailable_error(exc: UpstreamError) -> UpstreamUnavailable:
    """The 502 answered when the upstream cannot be reached (logs the cause's type only)."""
    # The cause is named by type only; the request body is never logged or echoed.
    log.warning("upstream unavailable: %s", type(exc).__name__)
    msg = "upstream unavailable"
    return UpstreamUnavailable(msg)


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
