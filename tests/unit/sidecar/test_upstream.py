"""The proxy's upstream client against a scripted raw HTTP server (real sockets, no aiohttp).

Each test gives the server a script: for every request it reads (head and body, framed by
Content-Length or chunked), the script returns the raw bytes to answer, or None to close the
connection without answering. The server records what it received and how many connections
it accepted, so reuse and framing are asserted on the wire. It closes the connection after an
HTTP/1.0 or ``Connection: close`` answer.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from pipeline.sidecar.http1 import parse_head
from pipeline.sidecar.upstream import (
    Slots,
    UpstreamClosedError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamPool,
    UpstreamProtocolError,
    UpstreamResponse,
    UpstreamTimeoutError,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Got:
    """One request as the server read it."""

    connection: int
    head: bytes
    body: bytes
    complete: bool = True


# (connection number, request number on that connection, request) -> answer or None (close)
Script = Callable[[int, int, Got], bytes | None]


@dataclass
class RawServer:
    script: Script
    received: list[Got] = field(default_factory=list)
    connections: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        nth = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                got = Got(number, head, b"")
                self.received.append(got)
                lower = head.lower()
                try:
                    if b"transfer-encoding: chunked" in lower:
                        while True:
                            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
                            got.body += (await reader.readexactly(size + 2))[:-2]
                            if size == 0:
                                break
                    elif b"content-length:" in lower:
                        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
                        got.body = await reader.readexactly(length)
                except (asyncio.IncompleteReadError, ValueError, ConnectionError):
                    got.complete = False
                    return
                nth += 1
                answer = self.script(number, nth, got)
                if answer is None:
                    return
                writer.write(answer)
                await writer.drain()
                if answer.startswith(b"HTTP/1.0") or b"\r\nConnection: close\r\n" in answer:
                    return  # as a real server does after such an answer
        finally:
            writer.close()


Serve = Callable[[Script], Awaitable["RawServer"]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> RawServer:
        raw = RawServer(script)
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(server)
        raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/base"
        return raw

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _pool(url: str, read_timeout: float = 2.0) -> UpstreamPool:
    return UpstreamPool(url, connect_timeout=2.0, read_timeout=read_timeout)


async def test_keep_alive_reuses_one_connection_and_frames_the_request(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    for i in range(3):
        resp = await pool.request("POST", f"/up?i={i}", [("X-A", "1")], b"x" * 1000)
        assert (resp.status, await resp.read()) == (200, b"ok")
    assert raw.connections == 1
    got = raw.received[0]
    assert got.head.startswith(b"POST /base/up?i=0 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-A: 1\r\n" in got.head and b"\r\nContent-Length: 1000\r\n" in got.head
    assert got.body == b"x" * 1000
    await pool.close()


async def test_empty_post_announces_zero_length_get_announces_nothing(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    await (await pool.request("POST", "/a", [], None)).read()
    await (await pool.request("GET", "/b", [], None)).read()
    assert b"Content-Length: 0" in raw.received[0].head
    assert b"Content-Length" not in raw.received[1].head
    await pool.close()


async def test_chunked_response_with_extensions_and_trailers(serve: Serve) -> None:
    answer = (
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-Up: y\r\n\r\n"
        b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n"
    )
    raw = await serve(lambda c, n, got: answer)
    pool = _pool(raw.url)
    resp = await pool.request("GET", "/", [], None)
    assert resp.status == 201 and resp.content_length is None
    assert resp.headers["X-Up"] == "y"
    assert await resp.read() == b"hello world"
    resp = await pool.request("GET", "/", [], None)  # the connection was clean: reused
    assert await resp.read() == b"hello world"
    assert raw.connections == 1
    await pool.close()


async def test_close_delimited_response_is_read_to_eof_and_not_reused(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: b"HTTP/1.0 200 OK\r\n\r\n" + b"z" * 200_000)
    pool = _pool(raw.url)
    for _ in range(2):
        resp = await pool.request("GET", "/", [], None)
        assert await resp.read() == b"z" * 200_000
    assert raw.connections == 2
    await pool.close()


async def test_large_response_streams_in_bounded_pieces(serve: Serve) -> None:
    size = 3 * 1024 * 1024
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"q" * size
    raw = await serve(lambda c, n, got: answer)
    pool = _pool(raw.url)
    resp = await pool.request("GET", "/", [], None)
    assert resp.content_length == size
    pieces = [piece async for piece in resp.iter_chunks()]
    assert sum(map(len, pieces)) == size and max(map(len, pieces)) <= 64 * 1024
    await (await pool.request("GET", "/", [], None)).read()
    assert raw.connections == 1
    await pool.close()


async def test_response_released_before_its_body_closes_the_connection(serve: Serve) -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    raw = await serve(lambda c, n, got: answer)
    pool = _pool(raw.url)
    (await pool.request("GET", "/", [], None)).release()
    assert await (await pool.request("GET", "/", [], None)).read() == b"hello"
    assert raw.connections == 2
    await pool.close()


async def test_head_and_204_have_no_body_and_keep_the_connection(serve: Serve) -> None:
    answers = {
        "HEAD": b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
        "DELETE": b"HTTP/1.1 204 No Content\r\n\r\n",
    }
    raw = await serve(lambda c, n, got: answers[got.head.split()[0].decode()])
    pool = _pool(raw.url)
    for method in ("HEAD", "DELETE", "HEAD"):
        resp = await pool.request(method, "/", [], None)
        assert resp.content_length == 0 and await resp.read() == b""
    assert resp.headers["Content-Length"] == "1234"
    assert raw.connections == 1
    await pool.close()


async def test_interim_1xx_answers_are_skipped(serve: Serve) -> None:
    raw = await serve(
        lambda c, n, got: (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n" + OK
        )
    )
    pool = _pool(raw.url)
    resp = await pool.request("POST", "/", [], b"body")
    assert resp.status == 200 and await resp.read() == b"ok"
    await pool.close()


async def test_body_cut_short_by_the_upstream(serve: Serve) -> None:
    raw = await serve(
        lambda c, n, got: (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 100\r\n\r\nonly ten.."
        )
    )
    pool = _pool(raw.url)
    resp = await pool.request("GET", "/", [], None)
    with pytest.raises(UpstreamClosedError):
        await resp.read()
    await pool.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_upstream_down_is_a_connect_error() -> None:
    pool = _pool(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(UpstreamConnectError) as info:
        await pool.request("POST", "/", [], b"card 4111 1111 1111 1111")
    assert "4111" not in str(info.value)
    await pool.close()


async def test_upstream_that_never_answers_times_out(serve: Serve) -> None:
    never = asyncio.Event()

    def script(c: int, n: int, got: Got) -> bytes | None:
        return None if never.is_set() else b""  # answers nothing, keeps the connection

    raw = await serve(script)
    pool = _pool(raw.url, read_timeout=0.3)
    with pytest.raises(UpstreamTimeoutError):
        await pool.request("GET", "/", [], None)
    await pool.close()


async def test_read_timeout_runs_from_each_wait_on_a_kept_connection(serve: Serve) -> None:
    # A connection moves one timer's deadline from wait to wait: a deadline left by an
    # earlier request must neither fire during a later one nor be lost.
    def script(c: int, n: int, got: Got) -> bytes | None:
        return OK if n <= 3 else b""  # the fourth request is never answered

    raw = await serve(script)
    pool = _pool(raw.url, read_timeout=0.4)
    loop = asyncio.get_running_loop()
    for _ in range(3):
        resp = await pool.request("GET", "/", [], None)
        assert await resp.read() == b"ok"
        await asyncio.sleep(0.25)  # the first wait's deadline passes meanwhile
    started = loop.time()
    with pytest.raises(UpstreamTimeoutError):
        await pool.request("GET", "/", [], None)
    assert 0.35 <= loop.time() - started < 2.0
    assert raw.connections == 1
    await pool.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNoColon\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-A: a\nb: c\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0x2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n",
    ],
)
async def test_malformed_response_heads_are_refused(serve: Serve, answer: bytes) -> None:
    raw = await serve(lambda c, n, got: answer)
    pool = _pool(raw.url)
    with pytest.raises(UpstreamProtocolError):
        await pool.request("GET", "/", [], None)
    await pool.close()


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
        b"5\r\nhel",  # cut
    ],
)
async def test_malformed_chunked_bodies_fail(serve: Serve, body: bytes) -> None:
    raw = await serve(
        lambda c, n, got: (
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" + body
        )
    )
    pool = _pool(raw.url)
    resp = await pool.request("GET", "/", [], None)
    with pytest.raises((UpstreamProtocolError, UpstreamClosedError)):
        await resp.read()
    await pool.close()


@pytest.mark.parametrize(("method", "retried"), [("GET", True), ("PUT", True), ("POST", False)])
async def test_stale_kept_alive_connection(serve: Serve, method: str, retried: bool) -> None:
    # The upstream takes the second request on a connection and closes without answering,
    # as a server whose keep-alive timer fired at that moment would.
    raw = await serve(lambda c, n, got: OK if n == 1 else None)
    pool = _pool(raw.url)
    await (await pool.request(method, "/", [], b"1")).read()
    if retried:
        resp = await pool.request(method, "/", [], b"2")
        assert await resp.read() == b"ok"
        assert raw.connections == 2
    else:
        with pytest.raises(UpstreamClosedError):
            await pool.request(method, "/", [], b"2")
        assert raw.connections == 1  # a POST is never sent twice
    await pool.close()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def test_streamed_bodies_with_and_without_length(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    await (await pool.request("POST", "/", [], _chunks(b"ab", b"", b"cd"), content_length=4)).read()
    await (await pool.request("POST", "/", [], _chunks(b"ab", b"cd"))).read()
    first, second = raw.received
    assert b"Content-Length: 4" in first.head and first.body == b"abcd"
    assert b"Transfer-Encoding: chunked" in second.head and second.body == b"abcd"
    await pool.close()


async def test_streamed_body_that_fails_aborts_the_request(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)

    async def failing() -> AsyncIterator[bytes]:
        yield b"start of a secret"
        raise LookupError("client went away")

    with pytest.raises(LookupError):
        await pool.request("POST", "/", [], failing(), content_length=1000)
    for _ in range(50):
        if raw.received and not raw.received[0].complete:
            break
        await asyncio.sleep(0.01)
    assert raw.received[0].complete is False  # the upstream saw a cut, never a request
    # The pool still works (the failed connection was dropped, its slot freed).
    assert await (await pool.request("GET", "/", [], None)).read() == b"ok"
    await pool.close()


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        ("GET", "/a b", []),
        ("GET", "/a\r\nX: y", []),
        ("GE T", "/", []),
        ("GET", "/", [("X-A", "v\r\nInjected: 1")]),
        ("GET", "/", [("X-A\n", "v")]),
    ],
)
async def test_unsendable_request_is_refused_before_anything_is_sent(
    serve: Serve, method: str, target: str, headers: list[tuple[str, str]]
) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    with pytest.raises(ValueError, match="forbidden"):
        await pool.request(method, target, headers, None)
    assert raw.connections == 0
    await pool.close()


def test_parse_head_keeps_repeated_headers_and_reason() -> None:
    minor, status, reason, headers = parse_head(
        b"HTTP/1.0 404 Not  Found\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nX-E:\r\n\r\n"
    )
    assert (minor, status, reason) == (0, 404, "Not  Found")
    assert headers.getall("Set-Cookie") == ["a=1", "b=2"] and headers["X-E"] == ""


async def test_limit_caps_open_connections_and_every_request_completes(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = UpstreamPool(raw.url, connect_timeout=2.0, read_timeout=2.0, limit=2)
    held = [await pool.request("POST", f"/{i}", [], b"x") for i in range(2)]
    third = asyncio.create_task(pool.request("POST", "/2", [], b"x"))
    await asyncio.sleep(0.05)
    assert not third.done() and raw.connections == 2  # waits for a slot, opens nothing
    assert await held[0].read() == b"ok"  # read to the end: the slot goes to the waiter
    resp = await asyncio.wait_for(third, 2)
    assert await resp.read() == b"ok" and await held[1].read() == b"ok"
    assert raw.connections == 2  # the waiter reused the released connection
    await pool.close()


async def test_slots_serve_waiters_in_order_and_survive_cancellation() -> None:
    slots = Slots(1)
    assert slots.try_take() and not slots.try_take()
    order: list[str] = []

    async def wait(name: str) -> None:
        await slots.take()
        order.append(name)

    a = asyncio.create_task(wait("a"))
    b = asyncio.create_task(wait("b"))
    c = asyncio.create_task(wait("c"))
    await asyncio.sleep(0)
    b.cancel()  # cancelled while waiting: takes nothing, loses nothing
    await asyncio.sleep(0)
    assert not slots.try_take()  # a newcomer does not overtake the waiters
    slots.release()
    await asyncio.sleep(0)
    assert order == ["a"]
    slots.release()
    # c is handed the slot, then cancelled before it runs: the slot is passed on, not lost.
    c.cancel()
    await asyncio.gather(a, b, c, return_exceptions=True)
    assert order == ["a"] and b.cancelled() and c.cancelled()
    assert slots.free == 1 and slots.try_take() and slots.free == 0
    slots.release()
    assert slots.free == 1
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)


async def test_body_in_pieces_is_sent_whole_with_its_total_length(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    image = b"\xab" * 70_000
    pieces = (b"head-", memoryview(image)[1000:], b"-tail")
    resp = await pool.request("PUT", "/p", [], pieces)
    assert await resp.read() == b"ok"
    got = raw.received[0]
    assert b"\r\nContent-Length: 69010\r\n" in got.head
    assert got.body == b"head-" + image[1000:] + b"-tail"
    await pool.close()


# -- requests by callbacks (UpstreamPool.start) -----------------------------------------------


class Handler:
    """An ExchangeHandler recording its calls; ``done`` resolves on the first."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _record(self, kind: str, value: Any) -> None:
        self.calls.append((kind, value))
        if not self.done.done():
            self.done.set_result(None)

    def upstream_answered(self, response: UpstreamResponse, body: bytes) -> None:
        self._record("answered", (response.status, response.headers.get("X-A"), body))

    def upstream_streaming(self, response: UpstreamResponse) -> None:
        self._record("streaming", response)

    def upstream_failed(self, exc: UpstreamError, retry: bool) -> None:
        self._record("failed", (type(exc), retry))

    async def outcome(self) -> tuple[str, Any]:
        await asyncio.wait_for(self.done, 5)
        await asyncio.sleep(0.05)  # a second call would come now
        assert len(self.calls) == 1, self.calls
        return self.calls[0]


async def _warm(pool: UpstreamPool) -> None:
    # One exchange by request(), so that a kept-alive connection is idle.
    resp = await pool.request("POST", "/warm", [], b"w")
    await resp.read()


def _start(pool: UpstreamPool, handler: Handler, body: Any = b"x", method: str = "POST") -> bool:
    return pool.start(method, "/cb", [("X-B", "2")], body, handler, small=1000)


async def test_start_without_an_idle_connection_sends_nothing(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    free = pool._slots.free
    assert not _start(pool, Handler())
    await asyncio.sleep(0.05)
    assert raw.received == []
    assert pool._slots.free == free


async def test_start_answers_a_small_body_by_callback_and_reuses_the_connection(
    serve: Serve,
) -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"
    )
    raw = await serve(lambda c, n, got: answer if n > 1 else OK)
    pool = _pool(raw.url)
    await _warm(pool)
    free = pool._slots.free
    for _ in range(2):
        handler = Handler()
        assert _start(pool, handler, (b"ab", memoryview(b"cd")))
        assert await handler.outcome() == ("answered", (200, "1", b"hello"))
        assert raw.received[-1].body == b"abcd"
        assert raw.received[-1].head.startswith(b"POST /base/cb HTTP/1.1\r\n")
        assert b"\r\nContent-Length: 4\r\n" in raw.received[-1].head
        assert pool._slots.free == free  # given back, the connection idle again
    assert raw.connections == 1


async def test_start_reads_a_head_and_body_that_arrive_in_pieces() -> None:
    answer = b"HTTP/1.1 200 OK\r\nX-A: 3\r\nContent-Length: 6\r\n\r\nabcdef"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            for i in range(0, len(answer), 7):  # the head split mid-line, the body in two
                writer.write(answer[i : i + 7])
                await writer.drain()
                await asyncio.sleep(0.01)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        pool = _pool(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        await _warm(pool)
        handler = Handler()
        assert _start(pool, handler)
        assert await handler.outcome() == ("answered", (200, "3", b"abcdef"))
    finally:
        server.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n" + b"h" * 1001,  # above small=1000
    ],
    ids=["chunked", "larger-than-small"],
)
async def test_start_hands_other_bodies_over_for_streaming(serve: Serve, answer: bytes) -> None:
    raw = await serve(lambda c, n, got: answer if n > 1 else OK)
    pool = _pool(raw.url)
    await _warm(pool)
    handler = Handler()
    assert _start(pool, handler)
    kind, response = await handler.outcome()
    assert kind == "streaming"
    body = b"".join([piece async for piece in response.iter_chunks()])
    assert body == answer.split(b"\r\n\r\n", 1)[1].replace(b"5\r\n", b"").split(b"\r\n")[0]
    handler2 = Handler()
    assert _start(pool, handler2)  # the body was read to its end: the connection is reused
    assert (await handler2.outcome())[0] == "streaming"
    assert raw.connections == 1


async def test_start_on_a_connection_the_upstream_dropped_may_be_retried(serve: Serve) -> None:
    # The kept-alive connection ends without an answer: the handler is told it may send the
    # request again (on a fresh connection), and stale idle connections are dropped.
    raw = await serve(lambda c, n, got: OK if n == 1 else None)
    pool = _pool(raw.url)
    await _warm(pool)
    free = pool._slots.free
    handler = Handler()
    assert _start(pool, handler, method="PUT")
    assert await handler.outcome() == ("failed", (UpstreamClosedError, True))
    assert pool._slots.free == free
    assert pool._idle == []
    resp = await pool.request("PUT", "/cb", [], b"x", fresh=True)
    assert (resp.status, await resp.read()) == (200, b"ok")
    assert raw.connections == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", UpstreamProtocolError),
        (b"HTTP/1.1 101 Switching\r\n\r\n", UpstreamProtocolError),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc",
            UpstreamClosedError,
        ),
        # HTTP/1.0: the server closes after writing it (RawServer), in the middle of the head.
        (b"HTTP/1.0 200 OK\r\nContent-Le", UpstreamClosedError),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            UpstreamProtocolError,
        ),
    ],
    ids=["bad-status", "101", "body-cut", "head-cut", "two-lengths"],
)
async def test_start_fails_closed_on_a_bad_answer(
    serve: Serve, answer: bytes, error: type[Exception]
) -> None:
    raw = await serve(lambda c, n, got: OK if n == 1 else answer)
    pool = _pool(raw.url)
    await _warm(pool)
    free = pool._slots.free
    handler = Handler()
    assert _start(pool, handler)
    assert await handler.outcome() == ("failed", (error, False))
    assert pool._slots.free == free
    assert pool._idle == []  # that connection is closed, never reused


async def test_start_times_out_when_the_upstream_does_not_answer(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK if n == 1 else b"")  # then silence
    pool = _pool(raw.url, read_timeout=0.2)
    await _warm(pool)
    handler = Handler()
    assert _start(pool, handler)
    assert await handler.outcome() == ("failed", (UpstreamTimeoutError, False))
    assert pool._idle == []


async def test_start_refuses_an_unsendable_header_before_taking_anything(serve: Serve) -> None:
    raw = await serve(lambda c, n, got: OK)
    pool = _pool(raw.url)
    await _warm(pool)
    free, idle = pool._slots.free, list(pool._idle)
    with pytest.raises(ValueError, match="forbidden"):
        pool.start("POST", "/cb", [("X-B", "a\nb")], b"x", Handler(), small=1000)
    assert (pool._slots.free, pool._idle) == (free, idle)
