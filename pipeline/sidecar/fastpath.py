"""Proxy mode's front: the common upload is served here, everything else by aiohttp.

Every connection to a proxy-mode sidecar starts with :class:`FrontProtocol`. Measured on the
development machine, aiohttp's server costs 0.23-0.31 ms of CPU to receive a 100 KB upload
and answer it, against 0.05 ms for llhttp (``httptools``) behind a plain asyncio protocol, and
a proxy on two shared cores has about 0.4 ms per upload to keep half of the direct
throughput. Bodies here are read by the socket straight into a buffer of their declared
length (one copy instead of aiohttp's three). So the one request shape that dominates an
upload service is served here:

* ``POST``/``PUT``/``PATCH``, HTTP/1.1, origin-form target outside ``/_veil/``;
* a ``Content-Length`` body (no ``Transfer-Encoding``, no ``Upgrade``, no
  ``Content-Encoding``, not ``multipart/*``; ``Expect: 100-continue`` is answered here),
  within the body limit;
* the proxy token, when one is configured, present and right;
* a body whose first bytes sniff as an image or video.

The request head is split on exactly the head's bytes by a strict RFC 9112 grammar in C
(``http_head`` in detectors/_hsnative.c: well-formed ASCII only; no head llhttp refuses gets
past it and :func:`request_framing`), or by llhttp (the parser of Node.js) where the
extension is not built; the body is then taken by its declared length, so no framing is
decided here but that one.
Anything else -- an admin endpoint, a multipart or chunked body, a non-media body, a head
that split refuses, one over 16 KiB, a wrong token -- is **handed off**: the connection, with
every byte received so far, goes to aiohttp's request handler, which parses it from the first
byte exactly as it would have without this front (and answers the refusals: 400, 407, 413,
415). A request is only ever handed off before anything of it was forwarded or answered.

The usual upload is served without a task: stripped on the event loop, written on an idle
kept-alive upstream connection, and answered from that connection's callbacks
(:meth:`UpstreamPool.start`); a task takes over only where waiting is needed (a body stripped
on a worker thread, no idle connection, a retry, a streamed answer).

What a fast-path request gets is what :func:`pipeline.sidecar.proxy.handle` does for the same
request, through the same functions: the consent, the stripper, the forwarded headers, the
upstream client, the error bodies, the metrics and the access log line. Beyond aiohttp, the
front answers 408 and closes a connection whose request head does not arrive within the
request timeout (aiohttp has no such limit), and closes an idle keep-alive connection after
75 s (aiohttp's default). Differences: a client that half-closes before its body is complete
is disconnected without the 400 aiohttp would write; error answers carry no ``Server``
header.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Coroutine
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, Final, cast

import httptools
from multidict import CIMultiDict, CIMultiDictProxy, MultiMapping

from detectors.native import native_helper
from pipeline.sidecar.accessline import log_line
from pipeline.sidecar.accesslog import safe_target
from pipeline.sidecar.app import ADMIN_PREFIX, PROXY_ENDPOINT, REFUSAL_STATUSES
from pipeline.sidecar.engine import INLINE_STRIP_BYTES, Engine, Stripped
from pipeline.sidecar.exceptions import RequestTimeout, SidecarError
from pipeline.sidecar.forwarding import (
    HOP_BY_HOP,
    REMOVED_HEADER,
    SMALL_RESPONSE,
    answer_for,
    consent_of,
    forward_headers_from,
    is_compressed,
    is_multipart,
    proxy_token_ok,
    read_answer,
    removed_header,
    response_drop,
    send_upstream,
    start_upstream,
)
from pipeline.sidecar.http1 import HTTP_HEAD, MovingTimer, WriteGate
from pipeline.sidecar.sniff import SNIFF_BYTES, MediaKind, sniff
from pipeline.sidecar.upstream import (
    IDEMPOTENT,
    UpstreamError,
    UpstreamPool,
    UpstreamResponse,
)

log = logging.getLogger(__name__)

MAX_HEAD: Final = 16 * 1024  # a longer head is handed off (aiohttp enforces its own limits)
HEAD_BUFFER: Final = 64 * 1024  # reads before a head is complete land here
# Each read before a head is complete takes at most this much: a head is usually far
# shorter, and body bytes read with it are copied into the body's buffer, where a read
# after the head puts them directly (a 64 KiB read copied most of a 100 KB upload twice).
HEAD_READ: Final = 4096
# Bodies on the fast path are read into buffers of their declared length, allocated when the
# head arrives; this caps what all connections together may hold that way (more waits for
# aiohttp's path, which allocates as data arrives), so declared lengths alone cannot
# exhaust memory.
# Not Final: compiled code would inline it, and the tests lower it.
FAST_BODY_BUDGET = 256 * 1024 * 1024
KEEPALIVE_TIMEOUT: Final = 75.0  # aiohttp's default for idle keep-alive connections
JOIN_ANSWER: Final = 16 * 1024  # an answer body up to this size is written with its head
_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
# An origin-form target that aiohttp would forward byte for byte: no dot segments, no empty
# segments, printable ASCII only. Anything else is handed off.
_PLAIN_TARGET: Final = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*(?:\?[!-~]*)?")
_ODD_SEGMENT: Final = re.compile(r"//|/\.\.?(?:/|\?|$)")
_HANDED_HEADERS: Final = frozenset(
    {"transfer-encoding", "upgrade", "te", "trailer", "http2-settings"}
)
_NO_BODY_STATUS: Final = frozenset({204, 304})
# Upstream response headers never relayed as they are (the length is recomputed).
_RELAY_SKIP: Final = HOP_BY_HOP | frozenset({"content-length"})


# detectors._hsnative.BodyBuffer, or None where the C extension is not built (bodies are
# then read into a bytearray and copied once).
BodyBuffer: Final[Any] = native_helper("BodyBuffer")
BODY_BUFFER_MIN: Final = 2  # BodyBuffer refuses smaller sizes (CPython's shared bytes)


def split_request(head: bytes) -> tuple[str, str, list[tuple[str, str]]] | None:
    """(method, target, headers) of an HTTP/1.1 request head (request line, header lines,
    empty line), header values stripped of SP/HTAB; None unless it is well-formed, ASCII and
    HTTP/1.1 (the request is then handed off).

    In C where the extension is built (strict RFC 9112 grammar: a property test checks that
    no head llhttp refuses gets past it and :func:`request_framing`), else
    :func:`split_request_llhttp`.
    """
    if HTTP_HEAD is not None:
        return cast("tuple[str, str, list[tuple[str, str]]] | None", HTTP_HEAD(head, False))
    return split_request_llhttp(head)


def split_request_llhttp(head: bytes) -> tuple[str, str, list[tuple[str, str]]] | None:
    """:func:`split_request` by llhttp (the parser of Node.js, through httptools)."""
    collected = _Head()
    parser = httptools.HttpRequestParser(collected)
    try:
        parser.feed_data(head)
    except httptools.HttpParserError:
        return None
    if not collected.complete or parser.get_http_version() != "1.1":
        return None
    method, target = parser.get_method(), collected.target
    if not method.isascii() or not target.isascii():
        return None
    pairs = []
    for raw_name, raw_value in collected.headers:
        if not raw_name.isascii() or not raw_value.isascii():
            return None
        pairs.append((raw_name.decode("ascii"), raw_value.decode("ascii").strip(" \t")))
    return method.decode("ascii"), target.decode("ascii"), pairs


def request_framing(
    pairs: list[tuple[str, str]],
) -> tuple[CIMultiDict[str], int, bool] | None:
    """(headers, body length, keep-alive) of a request with header ``pairs``, or None when
    its framing or expectations are not the fast path's: not exactly one Content-Length of
    digits, no Host, Transfer-Encoding or an upgrade, an Expect other than 100-continue."""
    lengths = 0
    keep_alive = True
    for name, value in pairs:
        lowered = name.lower()
        if lowered in _HANDED_HEADERS:
            return None
        if lowered == "content-length":
            lengths += 1
        elif lowered == "expect" and value.lower() != "100-continue":
            return None  # an expectation we cannot meet: aiohttp answers 417
        elif lowered == "connection" and _has_close(value):
            keep_alive = False  # RFC 9112 9.6
    headers: CIMultiDict[str] = CIMultiDict(pairs)
    length_text = headers.get("Content-Length", "")
    if lengths != 1 or not length_text.isdigit() or "Host" not in headers:
        return None
    return headers, int(length_text), keep_alive


def _has_close(connection: str) -> bool:
    """True when a Connection header value lists the ``close`` option."""
    for option in connection.split(","):
        if option.strip().lower() == "close":
            return True
    return False


class _Head:
    """llhttp callbacks collecting one request head."""

    __slots__ = ("complete", "headers", "target")

    def __init__(self) -> None:
        self.target = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.complete = True


class _Request:
    """A request taken on the fast path."""

    __slots__ = ("deadline", "headers", "keep_alive", "length", "method", "target")

    def __init__(
        self,
        method: str,
        target: str,
        headers: CIMultiDictProxy[str],
        length: int,
        keep_alive: bool,
        deadline: float,
    ) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.length = length
        self.keep_alive = keep_alive
        self.deadline = deadline


class FrontServer:
    """Shared state of the front connections: the core, the upstream pool, aiohttp's handler
    factory for hand-offs, and the open connections (for shutdown)."""

    def __init__(
        self,
        engine: Engine,
        pool: UpstreamPool,
        fallback: Callable[[], asyncio.Protocol],
        access_log: logging.Logger,
    ) -> None:
        self.engine = engine
        self.pool = pool
        self.fallback = fallback
        self.access_log = access_log
        self.connections: set[FrontProtocol] = set()
        token = engine.settings.token
        self.token = token.get_secret_value() if token is not None else None
        self.max_body = int(engine.settings.max_body)
        self.request_timeout = engine.settings.request_timeout
        self.reserved = 0  # bytes of body buffers allocated on the fast path

    def __call__(self) -> FrontProtocol:
        return FrontProtocol(self)

    def take_buffer(self, length: int) -> memoryview | None:
        """A writable view of exactly ``length`` bytes for a request body,
        counted against FAST_BODY_BUDGET; None when that would be exceeded (the request is
        handed off).

        With the C extension built, the view is of a :class:`BodyBuffer`: the bytes object
        the body is then stripped from, read into by the socket and taken without a copy
        (:meth:`body_bytes`). Otherwise (or for a 1-byte body, below BodyBuffer's minimum) it
        is of a bytearray, copied once complete.
        """
        if self.reserved + length > FAST_BODY_BUDGET:
            return None
        self.reserved += length
        if BodyBuffer is not None and length >= BODY_BUFFER_MIN:
            return memoryview(BodyBuffer(length))
        return memoryview(bytearray(length))

    def give_buffer(self, view: memoryview) -> None:
        """Drop ``view`` (from take_buffer), giving its bytes back to the budget."""
        self.reserved -= view.nbytes
        view.release()

    def body_bytes(self, view: memoryview) -> bytes:
        """The complete body in ``view`` (from take_buffer) as bytes; the view is given back.

        Without a copy where the C extension is built and no other view of the buffer is
        left (the event loop releases its read buffer once its read callback returns, so
        call this after that); otherwise the bytes are copied.
        """
        buffer = view.obj
        self.give_buffer(view)
        if BodyBuffer is not None and isinstance(buffer, BodyBuffer):
            try:
                return cast(bytes, buffer.take())
            except BufferError:
                return bytes(memoryview(buffer))
        return bytes(cast(bytearray, buffer))

    def close_idle(self) -> None:
        """Close every connection that is not serving a request (shutdown)."""
        for conn in list(self.connections):
            conn.close_if_idle()

    async def wait_busy(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for requests in progress, then close the rest."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while any(c.busy for c in self.connections) and loop.time() < end:
            await asyncio.sleep(0.05)
        for conn in list(self.connections):
            conn.abort()


class FrontProtocol(asyncio.BufferedProtocol):
    """One client connection; see the module docstring.

    Reads go into a head buffer until a request head is complete; a fast-path body then goes
    straight into a buffer of its declared length (the socket reads into it, and reads stop
    at its end, so a pipelined next request stays in the socket until it is wanted).
    """

    def __init__(self, server: FrontServer) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._head_buf = bytearray(HEAD_BUFFER)
        self._head_view = memoryview(self._head_buf)
        self._filled = 0  # bytes in the head buffer
        self._raw_head = b""  # the current request's head, for a hand-off
        self._surplus = b""  # bytes after the body that arrived with the head
        self._body_view: memoryview | None = None  # over a buffer of the declared length
        self._have = 0  # body bytes received
        self._sniffed = False
        self._request: _Request | None = None
        self._last_target: tuple[str, str] | None = None  # see _safe_target
        self._last_safe = ""
        # The task serving the request, if one does: held here, as the loop keeps only a weak
        # reference to a running task.
        self._task: asyncio.Task[None] | None = None
        self._current: _Request | None = None  # the request being served
        self._started = 0.0  # when serving it began (loop time)
        # What was sent upstream by start_upstream, kept until its answer in case it must be
        # sent again (a kept-alive connection that ended before answering).
        self._resend: tuple[list[tuple[str, str]], tuple[bytes | memoryview, ...]] | None = None
        self._remote: str | None = None  # the client's address, for X-Forwarded-For
        self._timer = MovingTimer(self._loop)  # the connection's timeouts, one at a time
        self._gate = WriteGate()
        self._closed = False
        self._eof = False
        self.busy = False

    # -- connection events ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport (uvloop's does not subclass asyncio.Transport, hence the cast).
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._remote = peer[0] if isinstance(peer, tuple) and peer else None
        self._server.connections.add(self)
        self._arm(KEEPALIVE_TIMEOUT, self._idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._drop_body()
        self._server.connections.discard(self)
        self._timer.cancel()
        self._gate.lost("client connection lost")

    def pause_writing(self) -> None:
        self._gate.pause()

    def resume_writing(self) -> None:
        self._gate.resume()

    def get_buffer(self, sizehint: int) -> memoryview:
        if self._body_view is not None:
            return self._body_view[self._have :]
        return self._head_view[self._filled : self._filled + HEAD_READ]

    def buffer_updated(self, nbytes: int) -> None:
        if self._body_view is not None:
            self._have += nbytes
        else:
            if self._filled == 0 and not self.busy:
                # The first bytes of a request: its head must arrive within the timeout.
                self._arm(self._server.request_timeout, self._head_timeout)
            self._filled += nbytes
        if not self.busy:
            self._advance()

    def eof_received(self) -> bool | None:
        # The client finished sending. While its request is served, keep the connection
        # half open so the answer can still be written; it is closed after that.
        self._eof = True
        return True if self.busy else None

    # -- request handling -----------------------------------------------------------------

    def _advance(self) -> None:
        """Act on what is buffered: parse a head, then collect the body, then serve."""
        if self._request is None:
            if not self._filled:
                return
            end = self._head_buf.find(b"\r\n\r\n", 0, min(self._filled, MAX_HEAD))
            if end < 0:
                if self._filled >= MAX_HEAD:
                    self._hand_off()
                return
            head_len = end + 4
            raw_head = bytes(self._head_view[:head_len])
            request = self._parse_head(raw_head)
            view = None if request is None else self._server.take_buffer(request.length)
            if request is None or view is None:
                self._hand_off()
                return
            self._request = request
            self._timer.arm_at(request.deadline, self._body_timeout)
            # The body goes into its own buffer; what arrived with the head is moved there.
            take = min(self._filled - head_len, request.length)
            self._body_view = view
            view[:take] = self._head_view[head_len : head_len + take]
            self._have = take
            self._raw_head = raw_head
            self._surplus = bytes(self._head_view[head_len + take : self._filled])
            self._filled = 0
            self._sniffed = False
            if take < request.length and "Expect" in request.headers and self._transport:
                # The client waits for this before sending the body (curl does above 1 MB).
                # Should the body be handed off after all, aiohttp sends its own 100 too;
                # a client reads any number of 1xx answers (RFC 9110 15.2).
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request = self._request
        body_view = self._body_view
        assert body_view is not None  # noqa: S101  # set with the request
        if not self._sniffed:
            if self._have < min(SNIFF_BYTES, request.length):
                return
            if sniff(bytes(body_view[:SNIFF_BYTES])) is MediaKind.OTHER:
                self._hand_off()
                return
            self._sniffed = True
        if self._have < request.length:
            return
        # The task takes the body (see FrontServer.body_bytes): the event loop still holds
        # its read buffer, a view of it, until this callback returns.
        self._body_view = None
        self._have = 0
        # A pipelined next request that came with this head waits in the head buffer.
        surplus, self._surplus = self._surplus, b""
        self._head_view[: len(surplus)] = surplus
        self._filled = len(surplus)
        self._request = None
        self._timer.disarm()
        self.busy = True
        assert self._transport is not None  # noqa: S101  # set in connection_made
        self._transport.pause_reading()  # a pipelined next request waits in the buffer
        self._server.engine.metrics.front_path("fast")
        self._loop.call_soon(self._begin, request, body_view)

    def _parse_head(self, head: bytes) -> _Request | None:
        """The request if it may take the fast path, else None (hand it off)."""
        split = split_request(head)
        if split is None:
            return None
        method, target, pairs = split
        if method not in _METHODS or _PLAIN_TARGET.fullmatch(target) is None:
            return None
        path = target.split("?", 1)[0]
        if (
            _ODD_SEGMENT.search(path) is not None
            or "%2e" in path.lower()  # an encoded dot segment: aiohttp decides
            or path.startswith(ADMIN_PREFIX)
        ):
            return None
        framed = request_framing(pairs)
        if framed is None:
            return None
        headers, length, keep_alive = framed
        if length == 0 or length > self._server.max_body:
            return None
        if is_multipart(headers.get("Content-Type", "")) or is_compressed(headers):
            return None
        if not proxy_token_ok(headers, self._server.token):
            return None
        deadline = self._loop.time() + self._server.request_timeout
        return _Request(method, target, CIMultiDictProxy(headers), length, keep_alive, deadline)

    def _drop_body(self) -> None:
        if self._body_view is not None:
            self._server.give_buffer(self._body_view)
        self._body_view = None
        self._have = 0

    def _received(self) -> bytes:
        """Every byte of the current request received so far (and any after it)."""
        if self._body_view is None:
            return bytes(self._head_view[: self._filled])
        return self._raw_head + bytes(self._body_view[: self._have]) + self._surplus

    def _hand_off(self) -> None:
        """Give the connection, with every byte received so far, to aiohttp."""
        transport = self._transport
        if transport is None or self._closed:
            return
        self._timer.cancel()  # aiohttp keeps its own; this one would hold self alive
        self._server.connections.discard(self)
        self._server.engine.metrics.front_path("aiohttp")
        data = self._received()
        self._drop_body()
        self._filled = 0
        self._request = None
        protocol = self._server.fallback()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    # -- serving ----------------------------------------------------------------------------
    #
    # The usual upload is served without a task: strip on the event loop, write the request
    # on an idle upstream connection, and answer from that connection's callbacks
    # (UpstreamPool.start). A task takes over where waiting is needed: a body stripped on a
    # worker thread, no idle upstream connection, a retry, a streamed answer. Either way a
    # request ends in _complete, once.

    def _begin(self, request: _Request, body_view: memoryview) -> None:
        """Serve a request whose body is complete (called soon after its last byte)."""
        server = self._server
        engine = server.engine
        self._current = request
        self._started = self._loop.time()
        try:
            body = server.body_bytes(body_view)
            if len(body) > INLINE_STRIP_BYTES:
                self._task = self._loop.create_task(self._run(self._proxy(request, body)))
                return
            consent = consent_of(engine, request.headers)
            content_type = request.headers.get("Content-Type", "")
            stripped = engine.strip_now(body, consent, where="body", content_type=content_type)
            headers = self._forward_headers(request, stripped)
            parts = stripped.result.parts
            if start_upstream(server.pool, request.method, request.target, headers, parts, self):
                self._resend = (headers, parts)
                return
            forward = self._forward(request, headers, parts, fresh=False)
            self._task = self._loop.create_task(self._run(forward))
        except Exception as exc:
            self._complete(*self._error_outcome(exc, request.keep_alive))

    async def _run(self, work: Coroutine[Any, Any, tuple[int, int, bool]]) -> None:
        """Serve the current request by ``work``, a coroutine giving (status, body bytes
        answered, keep-alive)."""
        request = self._current
        assert request is not None  # noqa: S101  # set by _begin
        try:
            outcome = await work
        except Exception as exc:
            outcome = self._error_outcome(exc, request.keep_alive)
        except BaseException:
            # Cancelled (the loop is shutting down): still accounted, nothing more.
            self._current = None
            self._account(request, 500, request.length, 0, self._loop.time() - self._started)
            raise
        self._complete(*outcome)

    def _error_outcome(self, exc: Exception, keep_alive: bool) -> tuple[int, int, bool]:
        """Answer a failed request: (status, body bytes answered, keep-alive)."""
        if isinstance(exc, SidecarError):
            if exc.status in REFUSAL_STATUSES:
                self._server.engine.metrics.refused.labels(exc.code).inc()
            out = self._write_error(exc.status, exc.code, str(exc), keep_alive)
            return exc.status, out, keep_alive
        if isinstance(exc, ConnectionError):
            return 500, 0, False  # the client went away while its answer was being written
        # Type only: an exception's text could quote request content.
        log.error("unexpected error on %s: %s", PROXY_ENDPOINT, type(exc).__name__)
        return 500, self._write_error(500, "internal_error", "internal error", False), False

    def _complete(self, status: int, out_bytes: int, keep_alive: bool) -> None:
        """The current request is answered: account for it and go on with the connection."""
        request = self._current
        self._current = None
        self._resend = None
        if request is not None:
            seconds = self._loop.time() - self._started
            self._account(request, status, request.length, out_bytes, seconds)
        self._finish(keep_alive)

    # The upstream's answers to a request sent by start_upstream (upstream.ExchangeHandler).

    def upstream_answered(self, response: UpstreamResponse, body: bytes) -> None:
        """A small answer, read whole: relay it."""
        request = self._current
        if request is None:
            return
        try:
            outcome = self._answer(response, body, request.keep_alive)
        except Exception as exc:
            outcome = self._error_outcome(exc, request.keep_alive)
        self._complete(*outcome)

    def upstream_streaming(self, response: UpstreamResponse) -> None:
        """A larger or unframed answer: streamed through by a task."""
        request = self._current
        if request is None:
            response.release()
            return
        self._resend = None
        self._task = self._loop.create_task(self._run(self._relayed(response, request.keep_alive)))

    def upstream_failed(self, exc: UpstreamError, retry: bool) -> None:
        """No answer: sent again on a fresh connection when that is safe, else 502 or 504."""
        request = self._current
        if request is None:
            return
        resend, self._resend = self._resend, None
        if retry and resend is not None and request.method in IDEMPOTENT:
            forward = self._forward(request, resend[0], resend[1], fresh=True)
            self._task = self._loop.create_task(self._run(forward))
            return
        self._complete(*self._error_outcome(answer_for(exc), request.keep_alive))

    def _forward_headers(self, request: _Request, stripped: Stripped) -> list[tuple[str, str]]:
        headers = forward_headers_from(
            request.headers, self._remote, "http", request.headers.get("Host", "")
        )
        headers.append((REMOVED_HEADER, removed_header([stripped])))
        return headers

    def _account(
        self, request: _Request, status: int, in_bytes: int, out_bytes: int, seconds: float
    ) -> None:
        """The request's metrics and access line, as aiohttp's middleware and logger write."""
        self._server.engine.metrics.request_done(PROXY_ENDPOINT, status, seconds)
        path, _, query = request.target.partition("?")
        log_line(
            self._server.access_log,
            request.method,
            path,
            query,
            status,
            in_bytes,
            out_bytes,
            seconds,
            self._safe_target,
        )

    def _safe_target(self, path: str, query: str) -> str:
        """:func:`safe_target`, remembered for the connection's last target: a kept-alive
        client usually uploads to the same one again, and running the detectors over it
        was a few percent of each upload. Only the last target is held, as long as the
        connection (which held it while serving that request anyway)."""
        key = (path, query)
        if self._last_target != key:
            self._last_safe = safe_target(path, query)
            self._last_target = key
        return self._last_safe

    async def _proxy(self, request: _Request, body: bytes) -> tuple[int, int, bool]:
        """Strip (on a worker thread for a large body), forward and relay."""
        stripped = await self._server.engine.strip(
            body,
            consent_of(self._server.engine, request.headers),
            where="body",
            content_type=request.headers.get("Content-Type", ""),
        )
        headers = self._forward_headers(request, stripped)
        return await self._forward(request, headers, stripped.result.parts, fresh=False)

    async def _forward(
        self,
        request: _Request,
        headers: list[tuple[str, str]],
        parts: tuple[bytes | memoryview, ...],
        *,
        fresh: bool,
    ) -> tuple[int, int, bool]:
        """Forward and relay; returns (status, body bytes answered, keep-alive)."""
        upstream = await send_upstream(
            self._server.pool, request.method, request.target, headers, parts, fresh=fresh
        )
        return await self._relayed(upstream, request.keep_alive)

    async def _relayed(self, upstream: UpstreamResponse, keep_alive: bool) -> tuple[int, int, bool]:
        try:
            return await self._relay(upstream, keep_alive)
        finally:
            upstream.release()

    def _answer(
        self, upstream: UpstreamResponse, data: bytes, keep_alive: bool
    ) -> tuple[int, int, bool]:
        """Relay a response whose whole body is ``data`` (b"" when it has none)."""
        status = upstream.status
        no_body = status in _NO_BODY_STATUS or 100 <= status < 200
        head = _head(
            status,
            upstream.reason,
            upstream.headers,
            keep_alive,
            None if no_body else len(data),
            skip=response_drop(upstream.headers, _RELAY_SKIP),
        )
        if len(data) <= JOIN_ANSWER:
            self._write(head + data)  # one buffer for the transport, not two
        else:
            self._write(head, data)
        return status, len(data), keep_alive

    async def _relay(self, upstream: UpstreamResponse, keep_alive: bool) -> tuple[int, int, bool]:
        # The upstream's headers are written as they come, less those not relayed (no copy).
        length = upstream.content_length
        status = upstream.status
        no_body = status in _NO_BODY_STATUS or 100 <= status < 200
        if no_body or (length is not None and length <= SMALL_RESPONSE):
            data = b"" if no_body else await read_answer(upstream)
            return self._answer(upstream, data, keep_alive)
        # Larger or unframed answers stream through: the same length, or chunked.
        skip = response_drop(upstream.headers, _RELAY_SKIP)
        self._write(
            _head(status, upstream.reason, upstream.headers, keep_alive, length, skip=skip), b""
        )
        sent = 0
        try:
            async for chunk in upstream.iter_chunks():
                if not chunk:
                    continue
                sent += len(chunk)
                if length is None:
                    self._write(f"{len(chunk):x}\r\n".encode("ascii"), chunk, b"\r\n")
                else:
                    self._write(chunk)
                await self._drain()
        except UpstreamError as exc:
            # Headers already sent: the only honest signal left is a cut connection.
            log.warning("upstream broke off its response: %s", type(exc).__name__)
            return status, sent, False
        if length is None:
            self._write(b"0\r\n\r\n")
        return status, sent, keep_alive

    def _write(self, *parts: bytes) -> None:
        transport = self._transport
        if transport is None or self._closed:
            msg = "client connection lost"
            raise ConnectionResetError(msg)
        transport.writelines([p for p in parts if p])

    async def _drain(self) -> None:
        if self._closed:
            msg = "client connection lost"
            raise ConnectionResetError(msg)
        if not self._gate.paused:
            return
        waiter = self._gate.waiter = self._loop.create_future()
        await waiter

    def _write_error(self, status: int, code: str, message: str, keep_alive: bool) -> int:
        body = json.dumps({"error": code, "message": message}).encode("utf-8")
        headers: CIMultiDict[str] = CIMultiDict()
        headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            self._write(_head(status, "", headers, keep_alive, len(body)), body)
        except ConnectionError:
            return 0
        return len(body)

    def _finish(self, keep_alive: bool) -> None:
        self.busy = False
        self._task = None
        transport = self._transport
        if transport is None or self._closed:
            return
        if not keep_alive or self._eof:
            transport.close()
            return
        self._arm(KEEPALIVE_TIMEOUT, self._idle_timeout)
        transport.resume_reading()
        if self._filled:
            self._arm(self._server.request_timeout, self._head_timeout)
            self._advance()

    # -- timers and closing ---------------------------------------------------------------

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._timer.arm_at(self._loop.time() + delay, callback)

    def _idle_timeout(self) -> None:
        if not self.busy and not self._filled:
            self.abort()

    def _head_timeout(self) -> None:
        # A head that never completes (a slow or stuck client): answered and closed, so it
        # cannot hold the connection open forever.
        if self.busy or self._request is not None:
            return
        self._answer_and_close(
            RequestTimeout("request head not received within the request timeout")
        )

    def _body_timeout(self) -> None:
        request = self._request
        if self.busy or request is None:
            return
        exc = RequestTimeout("request body not received within the request timeout")
        self._server.engine.metrics.refused.labels(exc.code).inc()
        received = self._have
        out = self._answer_and_close(exc)
        self._account(request, exc.status, received, out, self._server.request_timeout)

    def _answer_and_close(self, exc: SidecarError) -> int:
        out = self._write_error(exc.status, exc.code, str(exc), False)
        self._drop_body()
        self._filled = 0
        self._request = None
        if self._transport is not None:
            self._transport.close()
        return out

    def close_if_idle(self) -> None:
        """Close the connection unless a request is being served (shutdown)."""
        if not self.busy and self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close the connection now."""
        if self._transport is not None:
            self._transport.close()


_DATE: Final[list[tuple[int, str]]] = [(0, "")]


def _date() -> str:
    """The Date header value (RFC 9110 5.6.7), formatted once per second (as aiohttp does)."""
    now = time.time()
    second = int(now)
    cached = _DATE[0]
    if cached[0] == second:
        return cached[1]
    value = formatdate(now, usegmt=True)
    _DATE[0] = (second, value)
    return value


def _head(
    status: int,
    reason: str,
    headers: MultiMapping[str],
    keep_alive: bool,
    length: int | None,
    *,
    skip: frozenset[str] = frozenset(),
) -> bytes:
    """A response head; ``length`` None means chunked (or no body for 1xx/204/304).
    Headers whose lower-case name is in ``skip`` are left out."""
    if not reason:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}\r\n"]
    for name, value in headers.items():
        if skip and name.lower() in skip:
            continue
        lines.append(f"{name}: {value}\r\n")
    if "Date" not in headers or "date" in skip:
        lines.append(f"Date: {_date()}\r\n")
    if status not in _NO_BODY_STATUS and not 100 <= status < 200:
        if length is None:
            lines.append("Transfer-Encoding: chunked\r\n")
        else:
            lines.append(f"Content-Length: {length}\r\n")
    if not keep_alive:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    # Upstream values were decoded as UTF-8 with surrogateescape: this gives their bytes back.
    return "".join(lines).encode("utf-8", "surrogateescape")
