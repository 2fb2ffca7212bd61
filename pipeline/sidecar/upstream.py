"""A lean HTTP/1.1 client for the one upstream the proxy forwards to.

aiohttp's ``ClientSession`` is general (redirects, cookies, auth, proxies, tracing, payload
classes) and costs about as much CPU per request as the sidecar's own HTTP server; the proxy
needs none of that. This client does only what the proxy needs, strictly:

* a keep-alive pool of connections to one origin (``http`` or ``https``), at most ``limit``
  open at once; idle ones are reused newest first and dropped after ``idle_timeout`` or when
  the upstream has closed them;
* one write of the request head and a body in memory (``bytes``, or pieces such as a
  stripped JPEG's rewritten segments and a view of its image data: no join, no copy), or a
  streamed body with ``Content-Length`` or chunked framing, under flow control;
* a strict response parser: status line, headers (no obs-fold, no control characters,
  bounded size), bodies framed by ``Content-Length``, ``Transfer-Encoding: chunked`` or the
  connection closing; 1xx interim answers are skipped; anything else malformed is an
  :class:`UpstreamProtocolError` (the proxy answers 502);
* timeouts: ``connect_timeout`` to connect, ``read_timeout`` for each wait on the upstream
  (a read, or room in the send buffer), then :class:`UpstreamTimeoutError`.

A connection goes back to the pool only after a complete exchange that both sides agreed to
keep open; every other ending (an error, a cancelled handler, a body not read to its end)
closes it. A request is retried once on a fresh connection only when it is idempotent, its
body is in memory, and a *reused* connection failed before any byte of the answer arrived
(RFC 9112 9.3.1; the same rule as aiohttp's).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterable, Iterable
from typing import Final, Protocol, TypeAlias
from urllib.parse import urlsplit

from multidict import CIMultiDict

from pipeline.sidecar.http1 import (
    MAX_HEAD_BYTES,
    TOKEN,
    Connection,
    UpstreamClosedError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
    content_length,
    parse_head,
)

__all__ = [
    "Body",
    "BodyChunks",
    "Exchange",
    "ExchangeHandler",
    "Slots",
    "UpstreamClosedError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamProtocolError",
    "UpstreamResponse",
    "UpstreamTimeoutError",
]

# A request body: bytes, pieces in order (sent as they are: no join), a stream, or none.
Body: TypeAlias = bytes | tuple[bytes | memoryview, ...] | AsyncIterable[bytes] | None

MAX_CHUNK_LINE: Final = 4096
READ_CHUNK: Final = 64 * 1024
IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
# Methods whose empty body is still announced (RFC 9110 8.6: a user agent should send
# Content-Length when the method defines a meaning for content).
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
# Forbidden in header names and values we send (RFC 9110 5.5, RFC 9112 4): CTLs but HTAB.
_FORBIDDEN: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_FORBIDDEN_TARGET: Final = re.compile(r"[\x00-\x20\x7f]")
_HEX: Final = frozenset(b"0123456789abcdefABCDEF")


class UpstreamResponse:
    """A response head with its body still on the connection.

    Read the body with :meth:`read` or :meth:`iter_chunks`, once; then call :meth:`release`
    (done for you at the end of the body, and safe to call again). A response released before
    its body was read to the end closes its connection.

    Attributes:
        status: the status code.
        reason: the reason phrase (may be empty).
        headers: every response header, as received.
        content_length: the body length when the response is framed by ``Content-Length``
            (0 for a response that has no body by definition), None when it is chunked or
            ends when the connection closes.
    """

    def __init__(
        self,
        pool: UpstreamPool,
        conn: Connection,
        status: int,
        reason: str,
        headers: CIMultiDict[str],
        *,
        framing: str,
        content_length: int | None,
        keep_alive: bool,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.content_length = content_length
        self._pool = pool
        self._conn: Connection | None = conn
        self._framing = framing  # "length", "chunked" or "close"
        self._keep_alive = keep_alive
        self._done = framing == "length" and content_length == 0
        # Bytes left of the body (length framing) or of the current chunk (chunked).
        self._left = (content_length or 0) if framing == "length" else 0
        self._in_chunk = False  # chunked: inside a chunk's data (its CRLF still to come)

    async def read(self) -> bytes:
        """The whole body (the proxy only calls this for a small ``Content-Length``).

        Raises:
            UpstreamError: the body ended early, was malformed, or timed out.
        """
        conn = self._conn
        length = self.content_length
        if self._framing == "length" and conn is not None and length:
            try:
                data = await self._exactly(conn, length)
            except BaseException as exc:
                self.release()
                raise _translate(exc) from None
            self._done = True
            self.release()
            return data
        pieces = []
        async for piece in self.iter_chunks():
            pieces.append(piece)
        return b"".join(pieces)

    def iter_chunks(self) -> BodyChunks:
        """The body in pieces of at most 64 KiB as they arrive (de-chunked): an async
        iterator whose ``__anext__`` raises :class:`UpstreamError` when the body ends early,
        is malformed or times out."""
        return BodyChunks(self)

    async def _next_piece(self, conn: Connection) -> bytes | None:
        # The body's next piece, or None at its end.
        if self._framing == "length":
            return await self._next_length(conn)
        if self._framing == "chunked":
            return await self._next_chunked(conn)
        return await self._next_close(conn)

    async def _some(self, conn: Connection, n: int) -> bytes:
        # Up to n bytes, at least one; b"" only at the end of the connection.
        while not conn.buffer:
            if conn.eof:
                return b""
            await conn.wait_for_data(self._pool.read_timeout)
        return conn.take(n)

    async def _exactly(self, conn: Connection, n: int) -> bytes:
        while len(conn.buffer) < n:
            if conn.eof:
                msg = "upstream closed the connection before the end of its response body"
                raise UpstreamClosedError(msg)
            await conn.wait_for_data(self._pool.read_timeout)
        return conn.take(n)

    async def _next_length(self, conn: Connection) -> bytes | None:
        # Content-Length framing: self._left counts down to the end.
        if not self._left:
            return None
        return await self._next_of_left(conn)

    async def _next_of_left(self, conn: Connection) -> bytes:
        # Up to self._left bytes (at least one), counted off; the body must not end first.
        data = await self._some(conn, min(self._left, READ_CHUNK))
        if not data:
            msg = "upstream closed the connection before the end of its response body"
            raise UpstreamClosedError(msg)
        self._left -= len(data)
        return data

    async def _next_chunked(self, conn: Connection) -> bytes | None:
        # Chunked framing: self._left counts down the current chunk's data.
        if not self._left:
            if self._in_chunk:
                if await self._exactly(conn, 2) != b"\r\n":
                    msg = "upstream chunked response: chunk data not followed by CRLF"
                    raise UpstreamProtocolError(msg)
                self._in_chunk = False
            size = await self._chunk_size(conn)
            if size == 0:
                await self._trailers(conn)
                return None
            self._left, self._in_chunk = size, True
        return await self._next_of_left(conn)

    async def _trailers(self, conn: Connection) -> None:
        # Trailer fields are dropped (the proxy does not forward trailers); read to the end.
        total = 0
        while True:
            line = await self._line(conn)
            total += len(line)
            if line == b"\r\n":
                return
            if total > MAX_HEAD_BYTES:
                msg = "upstream chunked response: trailer section too large"
                raise UpstreamProtocolError(msg)

    async def _line(self, conn: Connection) -> bytes:
        while True:
            end = conn.buffer.find(b"\r\n")
            if end >= 0:
                return conn.take(end + 2)
            if len(conn.buffer) > MAX_CHUNK_LINE:
                msg = "upstream chunked response: line too long"
                raise UpstreamProtocolError(msg)
            if conn.eof:
                msg = "upstream closed the connection in the middle of a chunked body"
                raise UpstreamClosedError(msg)
            await conn.wait_for_data(self._pool.read_timeout)

    async def _chunk_size(self, conn: Connection) -> int:
        line = await self._line(conn)
        digits = line[:-2].split(b";", 1)[0].strip(b" \t")
        if not digits or len(digits) > 16 or not all(c in _HEX for c in digits):
            msg = "upstream chunked response: invalid chunk size line"
            raise UpstreamProtocolError(msg)
        return int(digits, 16)

    async def _next_close(self, conn: Connection) -> bytes | None:
        # Close-delimited: the body ends when the connection does.
        data = await self._some(conn, READ_CHUNK)
        if data:
            return data
        if conn.error is not None:
            # Reset rather than closed: the end of the body is not known.
            msg = "upstream connection broke during a close-delimited body"
            raise UpstreamClosedError(msg)
        return None

    def release(self) -> None:
        """Give the connection back (after a complete body) or close it (otherwise)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep_alive:
            self._pool._put(conn)  # the pool and its responses are one unit
        else:
            self._pool._discard(conn)


class BodyChunks:
    """Async iterator over a response body's pieces; see :meth:`UpstreamResponse.iter_chunks`.

    A class rather than an async generator, so that mypyc compiles it. At the end of the
    body, or on any error, the response is released (its connection reused or closed).
    """

    def __init__(self, response: UpstreamResponse) -> None:
        self._response = response

    def __aiter__(self) -> BodyChunks:
        return self

    async def __anext__(self) -> bytes:
        response = self._response
        conn = response._conn  # the response and its iterator are one unit
        if conn is None or response._done:
            response.release()
            raise StopAsyncIteration
        try:
            piece = await response._next_piece(conn)
        except BaseException as exc:
            response.release()
            raise _translate(exc) from None
        if piece is None:
            response._done = True
            response.release()
            raise StopAsyncIteration
        return piece


def _translate(exc: BaseException) -> BaseException:
    """Map transport-level failures to :class:`UpstreamError` types; others pass as they are."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeoutError("upstream did not answer in time")
    if isinstance(exc, (ConnectionError, OSError)):
        return UpstreamClosedError(f"upstream connection failed ({type(exc).__name__})")
    return exc


class Slots:
    """A counting semaphore for the pool's connection limit: at most ``limit`` holders at
    once, waiters served first come, first served.

    What :class:`asyncio.Semaphore` does, compiled: its ``acquire`` is an interpreted
    coroutine with a generator expression per call, about 2 % of the sidecar's CPU per
    proxied upload. A slot is taken without a coroutine when one is free
    (:meth:`try_take`); :meth:`take` waits otherwise. A released slot goes straight to the
    first waiter, so a newcomer cannot overtake it.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            msg = "the connection limit must be at least 1"
            raise ValueError(msg)
        self._free = limit
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> int:
        """Slots neither held nor promised to a waiter."""
        return self._free

    def try_take(self) -> bool:
        """Take a slot if one is free and nobody waits for one; True if taken."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def take(self) -> None:
        """Take a slot, waiting for one if none is free. Cancelled while waiting, it takes
        none (a slot already handed over is passed on)."""
        if self.try_take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot, then cancelled before using it
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    def release(self) -> None:
        """Give a slot back: to the first live waiter, else to the free count."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class UpstreamPool:
    """Keep-alive connections to one upstream origin, and requests over them.

    Args:
        base_url: ``http(s)://host[:port][/base]``; request targets are appended to the base
            path. Credentials in the URL are not supported (settings refuse them).
        connect_timeout: seconds to open a connection (TCP, and TLS for https).
        read_timeout: seconds for each wait on the upstream: room to send, a response
            head, a body read.
        limit: most connections open at once; more requests wait for one to free up.
        idle_timeout: seconds an idle connection is kept for reuse.
        max_idle: most idle connections kept.
    """

    def __init__(
        self,
        base_url: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        limit: int = 256,
        idle_timeout: float = 15.0,
        max_idle: int = 64,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = "upstream base URL must be http:// or https:// with a host"
            raise ValueError(msg)
        if parts.username is not None or parts.password is not None:
            msg = "upstream base URL must not carry credentials"
            raise ValueError(msg)
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.host_header = parts.netloc
        self.base_path = parts.path.rstrip("/")
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None
        )
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.max_idle = max_idle
        self._slots = Slots(limit)
        self._idle: list[Connection] = []
        self._closed = False

    # -- connections ------------------------------------------------------------------------

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: Connection(loop),
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl is not None else None,
                )
        except TimeoutError:
            msg = "connecting to the upstream timed out"
            raise UpstreamTimeoutError(msg) from None
        except (OSError, ssl.SSLError) as exc:
            msg = f"cannot connect to the upstream ({type(exc).__name__})"
            raise UpstreamConnectError(msg) from None
        return conn

    def _take_idle(self) -> Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.usable(now, self.idle_timeout):
                return conn
            conn.close()
        return None

    def _put(self, conn: Connection) -> None:
        self._slots.release()
        if self._closed or len(self._idle) >= self.max_idle:
            conn.close()
            return
        conn.reused = True
        conn.idle_since = time.monotonic()
        self._idle.append(conn)

    def _discard(self, conn: Connection) -> None:
        self._slots.release()
        conn.close()

    async def close(self) -> None:
        """Close every idle connection; later requests fail. Connections in use close when
        their response is released."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- requests ---------------------------------------------------------------------------

    def _head(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        framing: str,
    ) -> bytes:
        bad_method = TOKEN.fullmatch(method.encode("utf-8", "surrogateescape")) is None
        if bad_method or _FORBIDDEN_TARGET.search(target) is not None:
            msg = "request line has a forbidden character"
            raise ValueError(msg)
        lines = [f"{method} {self.base_path}{target} HTTP/1.1\r\nHost: {self.host_header}\r\n"]
        fields = []
        for name, value in headers:
            fields.append(name)
            fields.append(value)
            lines.append(f"{name}: {value}\r\n")
        # One search over every name and value: aiohttp's parser already refuses these in
        # what the client sent, this guards the values the proxy computes (and any bug).
        if _FORBIDDEN.search("".join(fields)) is not None:
            msg = "request header has a forbidden control character"
            raise ValueError(msg)
        lines.append(framing)
        return "".join(lines).encode("utf-8", "surrogateescape")

    async def request(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: Body,
        *,
        content_length: int | None = None,
        fresh: bool = False,
    ) -> UpstreamResponse:
        """Send one request and return the response once its head has arrived.

        Args:
            method: the request method (a token).
            target: origin-form target (path and query, already encoded), appended to the
                base path.
            headers: headers to send; must not include Host, Content-Length,
                Transfer-Encoding or Connection (the client sets those).
            body: ``bytes`` or a tuple of pieces (sent in one write with the head), an async
                iterable of chunks (streamed), or None.
            content_length: for a streamed body, its length when known (then it is sent
                with ``Content-Length``; else chunked).
            fresh: send it on a new connection, and do not retry (the retry of a request
                whose reused connection failed in :meth:`start`).

        Raises:
            ValueError: a method, target or header that cannot be sent as it is.
            UpstreamConnectError: the upstream could not be reached.
            UpstreamTimeoutError: connecting, sending or waiting for the head timed out.
            UpstreamProtocolError: the response head is malformed.
            UpstreamClosedError: the connection broke before a response head arrived.
            Exception: whatever the streamed ``body`` raised (the connection is aborted, so
                the upstream never sees a complete request).
        """
        if self._closed:
            msg = "upstream client is closed"
            raise UpstreamClosedError(msg)
        if body is None:
            framing = "Content-Length: 0\r\n\r\n" if method in _BODY_METHODS else "\r\n"
        elif isinstance(body, bytes):
            framing = f"Content-Length: {len(body)}\r\n\r\n"
        elif isinstance(body, tuple):
            framing = f"Content-Length: {sum(len(piece) for piece in body)}\r\n\r\n"
        elif content_length is not None:
            framing = f"Content-Length: {content_length}\r\n\r\n"
        else:
            framing = "Transfer-Encoding: chunked\r\n\r\n"
        head = self._head(method, target, headers, framing)
        retry = method in IDEMPOTENT and not isinstance(body, AsyncIterable) and not fresh
        if not self._slots.try_take():
            await self._slots.take()
        while True:
            conn = None if fresh else self._take_idle()
            try:
                if conn is None:
                    conn = await self._connect()
                return await self._exchange(conn, method, head, body, content_length)
            except _RetryableError:
                if not retry:
                    self._slots.release()
                    msg = "upstream closed a kept-alive connection before answering"
                    raise UpstreamClosedError(msg) from None
                retry = False  # once, on a fresh connection
                if self._idle:
                    # The others may be as stale as this one: start over with new ones.
                    for stale in self._idle:
                        stale.close()
                    self._idle.clear()
            except BaseException:
                self._slots.release()
                raise

    async def _exchange(
        self,
        conn: Connection,
        method: str,
        head: bytes,
        body: Body,
        content_length: int | None,
    ) -> UpstreamResponse:
        # On any failure the connection is closed here; the caller releases the slot.
        try:
            send_error: BaseException | None = None
            try:
                await self._send(conn, head, body, content_length)
            except (ConnectionError, OSError) as exc:
                # The upstream may have answered early (e.g. 413) and closed: read its answer.
                send_error = exc
            response = await self._response(conn, method)
        except _NothingReceivedError:
            conn.close()
            if conn.reused:
                raise _RetryableError from None
            msg = "upstream closed the connection before answering"
            raise UpstreamClosedError(msg) from None
        except BaseException as exc:
            conn.close()
            raise _translate(exc) from None
        if send_error is not None:
            response._keep_alive = False  # the request was not fully sent
        return response

    async def _drain(self, conn: Connection) -> None:
        try:
            await conn.drain(self.read_timeout)
        except TimeoutError:
            msg = "upstream did not accept the request body in time"
            raise UpstreamTimeoutError(msg) from None

    async def _send(
        self,
        conn: Connection,
        head: bytes,
        body: Body,
        content_length: int | None,
    ) -> None:
        transport = conn.transport
        if transport is None or transport.is_closing():
            msg = "upstream connection closed"
            raise ConnectionResetError(msg)
        if body is None or isinstance(body, bytes):
            # One writev for head and body: no join (a copy of the body), one syscall.
            transport.writelines((head, body) if body else (head,))
            await self._drain(conn)
            return
        if isinstance(body, tuple):
            transport.writelines((head, *body))
            await self._drain(conn)
            return
        transport.write(head)
        chunked = content_length is None
        sent = 0
        async for chunk in body:
            if not chunk:
                continue
            sent += len(chunk)
            if chunked:
                transport.writelines((f"{len(chunk):x}\r\n".encode("ascii"), chunk, b"\r\n"))
            else:
                if sent > (content_length or 0):
                    msg = "streamed request body is longer than its Content-Length"
                    raise ValueError(msg)
                transport.write(chunk)
            await self._drain(conn)
        if chunked:
            transport.write(b"0\r\n\r\n")
        elif sent != content_length:
            msg = "streamed request body is shorter than its Content-Length"
            raise ValueError(msg)
        await self._drain(conn)

    async def _head_bytes(self, conn: Connection, *, first: bool) -> bytes:
        # Up to and including the empty line that ends a response head.
        while True:
            end = conn.buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES)
            if end >= 0:
                return conn.take(end + 4)
            if len(conn.buffer) >= MAX_HEAD_BYTES:
                msg = "upstream response head too large"
                raise UpstreamProtocolError(msg)
            if conn.eof:
                if first and not conn.buffer:
                    raise _NothingReceivedError
                msg = "upstream closed the connection in the middle of its response head"
                raise UpstreamClosedError(msg)
            try:
                await conn.wait_for_data(self.read_timeout)
            except TimeoutError:
                msg = "upstream did not answer in time"
                raise UpstreamTimeoutError(msg) from None

    async def _response(self, conn: Connection, method: str) -> UpstreamResponse:
        first = True
        while True:
            raw = await self._head_bytes(conn, first=first)
            first = False
            minor, status, reason, headers = parse_head(raw)
            if _is_final(status):
                return _response_for(self, conn, method, minor, status, reason, headers)

    # -- requests by callbacks --------------------------------------------------------------

    def start(
        self,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        body: bytes | tuple[bytes | memoryview, ...],
        handler: ExchangeHandler,
        *,
        small: int,
    ) -> bool:
        """Send one request without a coroutine, if that can be done at once.

        It can when a connection slot is free and a kept-alive connection is idle: the
        request is then written, and the response is read by callbacks on that connection
        (:class:`Exchange`), which end in exactly one call of ``handler``'s
        ``upstream_answered`` (a ``Content-Length`` body of at most ``small`` bytes, read
        whole), ``upstream_streaming`` (any other body, left on the connection for
        :meth:`UpstreamResponse.iter_chunks`) or ``upstream_failed``. Those calls come from
        the event loop, never from within this method. Otherwise nothing is sent and this
        returns False: use :meth:`request`, which waits for a slot or connects.

        What a request by :meth:`request` would get, it gets here: the same head, limits,
        timeouts and response checks; a connection goes back to the pool only after a
        complete exchange.

        Raises:
            ValueError: a method, target or header that cannot be sent as it is.
        """
        if self._closed:
            return False
        if isinstance(body, bytes):
            length = len(body)
        else:
            length = sum(len(piece) for piece in body)
        head = self._head(method, target, headers, f"Content-Length: {length}\r\n\r\n")
        if not self._slots.try_take():
            return False
        conn = self._take_idle()
        transport = None if conn is None else conn.transport
        if conn is None or transport is None:
            self._slots.release()
            return False
        exchange = Exchange(self, conn, method, handler, small)
        conn.on_event = exchange.progress
        conn.arm(self.read_timeout, exchange.expire)
        if isinstance(body, bytes):
            transport.writelines((head, body) if body else (head,))
        else:
            transport.writelines((head, *body))
        return True


def _is_final(status: int) -> bool:
    """True for a final status; False for an interim one that is skipped (100 Continue, 102,
    103 Early Hints: not relayed, the final one follows).

    Raises:
        UpstreamProtocolError: 101, which the proxy never asks for (Upgrade is hop-by-hop
            and dropped).
    """
    if status >= 200:
        return True
    if status == 101:
        msg = "upstream switched protocols without being asked"
        raise UpstreamProtocolError(msg)
    return False


def _response_for(
    pool: UpstreamPool,
    conn: Connection,
    method: str,
    minor: int,
    status: int,
    reason: str,
    headers: CIMultiDict[str],
) -> UpstreamResponse:
    """The response to ``method`` with this final head: its framing decided (RFC 9112 6.3).

    Raises:
        UpstreamProtocolError: framing that is ambiguous or not supported.
    """
    connection = {t.strip().lower() for v in headers.getall("Connection", ()) for t in v.split(",")}
    keep_alive = "close" not in connection and (minor == 1 or "keep-alive" in connection)
    encodings = headers.getall("Transfer-Encoding", ())
    lengths = headers.getall("Content-Length", ())
    if method == "HEAD" or status in (204, 304):
        framing, length = "length", 0
        if lengths:
            content_length(lengths)  # validated, not used: there is no body
    elif encodings:
        if lengths:
            msg = "upstream response has both Transfer-Encoding and Content-Length"
            raise UpstreamProtocolError(msg)
        if ",".join(encodings).strip().lower() != "chunked":
            msg = "upstream response uses a transfer coding other than chunked"
            raise UpstreamProtocolError(msg)
        framing, length = "chunked", None
    elif lengths:
        framing, length = "length", content_length(lengths)
    else:
        framing, length, keep_alive = "close", None, False
    return UpstreamResponse(
        pool,
        conn,
        status,
        reason,
        headers,
        framing=framing,
        content_length=length,
        keep_alive=keep_alive,
    )


class ExchangeHandler(Protocol):
    """Who is told how a request sent by :meth:`UpstreamPool.start` ended (exactly one call)."""

    def upstream_answered(self, response: UpstreamResponse, body: bytes) -> None:
        """A final response framed by ``Content-Length`` (or without a body by definition),
        read whole; its connection is already released."""

    def upstream_streaming(self, response: UpstreamResponse) -> None:
        """A final response whose body is chunked, close-delimited or larger than ``small``:
        read it with ``iter_chunks`` and release it, as a response from ``request``."""

    def upstream_failed(self, exc: UpstreamError, retry: bool) -> None:
        """The exchange failed (its connection is closed). ``retry`` is True when a reused
        connection ended before any byte of the answer: the request may be sent again on a
        fresh connection (``request(..., fresh=True)``) if its method is idempotent."""


class Exchange:
    """A request sent by :meth:`UpstreamPool.start`, its response read by callbacks.

    The connection calls :meth:`progress` on every event (bytes, end of stream, loss, room
    to send) and :meth:`expire` when ``read_timeout`` passes without one. The checks are
    those of :meth:`UpstreamPool.request`: bounded head, strict parse, interim answers
    skipped, framing by :func:`_response_for`.
    """

    def __init__(
        self,
        pool: UpstreamPool,
        conn: Connection,
        method: str,
        handler: ExchangeHandler,
        small: int,
    ) -> None:
        self._pool = pool
        self._conn: Connection | None = conn
        self._method = method
        self._handler = handler
        self._small = small
        self._heads = 0  # response heads parsed so far (interim ones included)
        self._response: UpstreamResponse | None = None

    def progress(self) -> None:
        """Act on what the connection has: parse the head, then take a small body."""
        conn = self._conn
        if conn is None:
            return
        try:
            self._advance(conn)
        except _NothingReceivedError:
            msg = "upstream closed the connection before answering"
            self._fail(UpstreamClosedError(msg), retry=conn.reused)
        except UpstreamError as exc:
            self._fail(exc, retry=False)

    def expire(self) -> None:
        """``read_timeout`` passed without progress."""
        self._fail(UpstreamTimeoutError("upstream did not answer in time"), retry=False)

    def _advance(self, conn: Connection) -> None:
        response = self._response
        while response is None:
            buffer = conn.buffer
            end = buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES)
            if end < 0:
                if len(buffer) >= MAX_HEAD_BYTES:
                    msg = "upstream response head too large"
                    raise UpstreamProtocolError(msg)
                if conn.eof:
                    if not self._heads and not buffer:
                        raise _NothingReceivedError
                    msg = "upstream closed the connection in the middle of its response head"
                    raise UpstreamClosedError(msg)
                conn.arm(self._pool.read_timeout, self.expire)
                return
            minor, status, reason, headers = parse_head(conn.take(end + 4))
            self._heads += 1
            if _is_final(status):
                response = _response_for(
                    self._pool, conn, self._method, minor, status, reason, headers
                )
                self._response = response
                if response._framing != "length" or (response.content_length or 0) > self._small:
                    self._detach(conn)
                    self._handler.upstream_streaming(response)
                    return
        length = response.content_length or 0
        if len(conn.buffer) < length:
            if conn.eof:
                msg = "upstream closed the connection before the end of its response body"
                raise UpstreamClosedError(msg)
            conn.arm(self._pool.read_timeout, self.expire)
            return
        body = conn.take(length) if length else b""
        response._done = True
        self._detach(conn)
        response.release()
        self._handler.upstream_answered(response, body)

    def _detach(self, conn: Connection) -> None:
        conn.on_event = None
        conn.disarm()
        self._conn = None

    def _fail(self, exc: UpstreamError, *, retry: bool) -> None:
        conn = self._conn
        if conn is None:
            return
        self._detach(conn)
        response = self._response
        if response is not None:
            response.release()  # its body was not read to the end: closes the connection
        else:
            self._pool._discard(conn)
        if retry:
            # The others may be as stale as this one (as in request()).
            for stale in self._pool._idle:
                stale.close()
            self._pool._idle.clear()
        self._handler.upstream_failed(exc, retry)


class _NothingReceivedError(Exception):
    """Internal: the connection ended before any byte of the answer arrived."""


class _RetryableError(Exception):
    """Internal: a reused connection failed before any byte of the answer."""
