"""What the proxy forwards and how upstream failures are answered.

Shared by aiohttp's proxy handler (:mod:`pipeline.sidecar.proxy`) and the upload fast path
(:mod:`pipeline.sidecar.fastpath`), so that both forward and answer alike; compiled with
mypyc (detectors/native.py) since the fast path calls it for every upload.
"""

from __future__ import annotations

import hmac
import logging
from typing import Final

from multidict import CIMultiDict, MultiMapping

from pipeline.consent import Consent
from pipeline.sidecar.consent import resolve
from pipeline.sidecar.engine import Engine, Stripped
from pipeline.sidecar.exceptions import (
    BadRequest,
    SidecarError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from pipeline.sidecar.upstream import (
    Body,
    ExchangeHandler,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeoutError,
)

log = logging.getLogger("pipeline.sidecar.proxy")  # the proxy's log, as before the split

# Upstream answers up to this size are relayed in one piece, larger ones streamed.
SMALL_RESPONSE: Final = 256 * 1024

# RFC 9110 7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP: Final = frozenset(
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
_REQUEST_DROP: Final = HOP_BY_HOP | {"host", "content-length", "expect", "x-veil-removed"}
# What forward_headers_from does not copy from the request (it sets the X-Forwarded ones).
_FORWARD_DROP: Final = _REQUEST_DROP | {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"}
_RESPONSE_DROP: Final = HOP_BY_HOP
_IDENTITY: Final = frozenset({"", "identity"})
REMOVED_HEADER: Final = "X-Veil-Removed"


def connection_tokens(headers: MultiMapping[str]) -> set[str]:
    # Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1). getall is the
    # case-insensitive lookup of every Connection header, without walking all headers.
    tokens: set[str] = set()
    for value in headers.getall("Connection", ()):
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def forward_headers_from(
    headers: MultiMapping[str],
    remote: str | None,
    scheme: str,
    host: str,
) -> list[tuple[str, str]]:
    """The headers forwarded upstream for a request with ``headers`` from ``remote`` over
    ``scheme`` to ``host``: the request's own, less hop-by-hop ones (and those named in its
    Connection header), Host, Content-Length, Expect and any X-Veil-Removed; then
    X-Forwarded-For (the client's chain, extended), X-Forwarded-Proto and -Host (replacing
    the client's). A list, in order: the upstream client writes it as it is; a caller that
    stripped media appends X-Veil-Removed (:func:`removed_header`)."""
    drop = _FORWARD_DROP
    tokens = connection_tokens(headers)
    if tokens:
        drop = drop | tokens
    out = [(name, value) for name, value in headers.items() if name.lower() not in drop]
    # Standard reverse-proxy headers: the upload service would see the client's address
    # without the sidecar, so forwarding it reveals nothing new to it (it is never logged).
    forwarded_for = ", ".join([*headers.getall("X-Forwarded-For", []), remote or ""])
    out.append(("X-Forwarded-For", forwarded_for.strip(", ")))
    out.append(("X-Forwarded-Proto", scheme))
    out.append(("X-Forwarded-Host", host))
    return out


def response_headers(upstream: MultiMapping[str]) -> CIMultiDict[str]:
    """The upstream's response headers minus hop-by-hop ones."""
    drop = response_drop(upstream)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        if name.lower() not in drop:
            out.add(name, value)
    return out


def response_drop(
    upstream: MultiMapping[str], base: frozenset[str] = _RESPONSE_DROP
) -> frozenset[str]:
    """Lower-case names of the upstream's response headers that are not relayed: ``base``
    (the hop-by-hop ones unless given) and those its Connection header names."""
    tokens = connection_tokens(upstream)
    return base | tokens if tokens else base


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


def is_compressed(headers: MultiMapping[str]) -> bool:
    """True when the body declares a Content-Encoding other than identity."""
    return headers.get("Content-Encoding", "").strip().lower() not in _IDENTITY


def is_multipart(content_type: str) -> bool:
    """True for a ``multipart/*`` Content-Type (parsed and rebuilt part by part)."""
    return content_type.lower().lstrip().startswith("multipart/")


def removed_header(stripped: list[Stripped]) -> str:
    """The X-Veil-Removed value: removed categories, comma-separated, or ``none``."""
    if len(stripped) != 1:
        return ",".join(sorted({cat for one in stripped for cat in one.categories})) or "none"
    categories = stripped[0].categories
    value = _REMOVED_VALUES.get(categories)
    if value is None:
        value = ",".join(sorted(categories)) or "none"
        if len(_REMOVED_VALUES) >= _MAX_REMOVED_VALUES:
            _REMOVED_VALUES.clear()
        _REMOVED_VALUES[categories] = value
    return value


# One upload's categories (names from pipeline.media.policy.CATEGORIES, never values) -> its
# X-Veil-Removed value: uploads from one camera remove the same categories every time.
_REMOVED_VALUES: Final[dict[tuple[str, ...], str]] = {}
_MAX_REMOVED_VALUES: Final = 256


async def send_upstream(
    pool: UpstreamPool,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    data: Body,
    *,
    content_length: int | None = None,
    fresh: bool = False,
) -> UpstreamResponse:
    """Send the request upstream and return its response head (on a new connection when
    ``fresh``: see :meth:`UpstreamPool.request`).

    Raises:
        SidecarError: a streamed body's own refusal (408/413/400); 400 when the request line
            or a header cannot be forwarded; 504 when the upstream does not answer in time;
            502 when it cannot be reached or breaks off.
    """
    try:
        return await pool.request(
            method, target, headers, data, content_length=content_length, fresh=fresh
        )
    except SidecarError:
        raise  # the streamed body's own refusal (408/413/400), raised through the client
    except ValueError:
        raise unforwardable_error() from None
    except UpstreamError as exc:
        raise answer_for(exc) from None


def start_upstream(
    pool: UpstreamPool,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    data: bytes | tuple[bytes | memoryview, ...],
    handler: ExchangeHandler,
) -> bool:
    """:func:`send_upstream` without a coroutine when it can be done at once (see
    :meth:`UpstreamPool.start`; responses up to SMALL_RESPONSE are read whole). False: nothing
    was sent, use send_upstream.

    Raises:
        SidecarError: 400 when the request line or a header cannot be forwarded.
    """
    try:
        return pool.start(method, target, headers, data, handler, small=SMALL_RESPONSE)
    except ValueError:
        raise unforwardable_error() from None


def unforwardable_error() -> BadRequest:
    """The 400 answered for values the parser let through but HTTP/1.1 cannot carry."""
    msg = "request line or headers cannot be forwarded"
    return BadRequest(msg)


def answer_for(exc: UpstreamError) -> SidecarError:
    """What the client is answered when the exchange with the upstream failed: 504 when it
    did not answer in time, else 502."""
    if isinstance(exc, UpstreamTimeoutError):
        return timeout_error()
    return unavailable_error(exc)


async def read_answer(upstream: UpstreamResponse) -> bytes:
    """The upstream's whole (small) response body.

    Raises:
        SidecarError: 504 when it does not arrive in time, 502 when the upstream breaks off.
    """
    try:
        return await upstream.read()
    except UpstreamError as exc:
        raise answer_for(exc) from None


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


def consent_of(engine: Engine, headers: MultiMapping[str]) -> Consent:
    """The request's consent: its header and, when configured, the snapshot."""
    return resolve(
        headers.get("X-Veil-Consent"), headers.get(engine.settings.user_header), engine.snapshot
    )
