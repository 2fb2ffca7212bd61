"""The proxy's upload fast path (pipeline.sidecar.fastpath) through a real socket.

The sidecar runs in-process with ``serve()`` (as ``veil sidecar --upstream`` does), in front
of the recording upstream of test_proxy.py; clients are raw sockets where the exact bytes
matter (pipelining, split heads, stalls) and aiohttp otherwise. Every test also checks which
path served the requests (the ``veil_sidecar_proxy_path`` metric), so a hand-off cannot pass
for the fast path or the other way round.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.sidecar import fastpath
from pipeline.sidecar.engine import Engine
from pipeline.sidecar.server import serve
from pipeline.sidecar.settings import SidecarSettings
from tests.unit.sidecar.conftest import KEY, Upstream
from tests.unit.sidecar.kit import GPS_JPEG, gps, multipart, personal_tags, pixels
from tests.unit.sidecar.test_upstream import OK, RawServer

JPEG = GPS_JPEG.read_bytes()


class Sidecar:
    def __init__(self, url: str, port: int, engine: Engine) -> None:
        self.url = url
        self.port = port
        self.engine = engine

    def paths(self) -> dict[str, float]:
        """The proxy-path counters: how many requests took the fast path, how many aiohttp."""
        out = {}
        for metric in self.engine.metrics.proxy_path.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["path"]] = sample.value
        return out

    async def raw(self, data: bytes, *, read_until_close: bool = True, wait: float = 5) -> bytes:
        """Send ``data`` on one connection; return what came back until it closed."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(data)
        await writer.drain()
        try:
            if read_until_close:
                return await asyncio.wait_for(reader.read(), wait)
            return await asyncio.wait_for(reader.read(65536), wait)
        finally:
            writer.close()


@pytest.fixture
async def start(policy: Policy, upstream: tuple[Upstream, str]) -> AsyncIterator[Any]:
    stops: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def make(**overrides: Any) -> tuple[Sidecar, Upstream]:
        service, url = upstream
        settings = SidecarSettings(
            **{"purpose": "uploads", "upstream": url, "listen": "127.0.0.1:0", **overrides}
        )
        engine = Engine(settings, policy=policy, keys=PseudonymKeys(base=KEY))
        sock = socket.create_server(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        stop = asyncio.Event()
        task = asyncio.create_task(
            serve(settings, sock=sock, announce=None, stop=stop, engine=engine)
        )
        stops.append((stop, task))
        for _ in range(100):  # listening once a connection is accepted
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.02)
        return Sidecar(f"http://127.0.0.1:{port}", port, engine), service

    yield make
    for stop, task in stops:
        stop.set()
        await asyncio.wait_for(task, 15)


def _upload(body: bytes, target: str = "/photos/1", extra: str = "") -> bytes:
    return (
        f"POST {target} HTTP/1.1\r\nHost: svc\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def _statuses(raw: bytes) -> list[int]:
    # Status lines anywhere: a response follows the previous body without a line break.
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


async def test_upload_is_stripped_on_the_fast_path(start: Any) -> None:
    sidecar, upstream = await start()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            sidecar.url + "/photos/1?album=2",
            data=JPEG,
            headers={"Content-Type": "image/jpeg", "X-Veil-Consent": "location=granted"},
        ) as resp:
            assert resp.status == 200
            assert resp.headers["X-Upstream"] == "yes"  # the upstream's own headers come back
            assert resp.headers.getall("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]
            assert "Keep-Alive" not in resp.headers  # hop-by-hop: not relayed
            assert await resp.read() == b"stored"  # gzip passed through, decoded by the client
    got = upstream.received[-1]
    assert got.path_qs == "/photos/1?album=2"
    assert "location" in got.headers["X-Veil-Removed"]
    assert got.headers["X-Forwarded-For"] == "127.0.0.1"
    assert got.headers["X-Forwarded-Host"].startswith("127.0.0.1:")
    assert personal_tags(got.body) == set()
    assert pixels(got.body) == pixels(JPEG)
    lat = gps(got.body)[2]  # location=granted: kept, coarsened to 0.01 degree
    assert float(lat[0]) + float(lat[1]) / 60 == pytest.approx(43.47, abs=0.01)
    assert sidecar.paths() == {"fast": 1.0}


async def test_uploads_on_an_idle_upstream_connection_are_answered_by_callbacks(
    start: Any,
) -> None:
    # The first upload opens the upstream connection (a task, send_upstream); the next ones
    # find it idle and are sent and answered by callbacks (UpstreamPool.start). Both ways
    # must forward and answer the same.
    # Tasks the loop is asked to create, by their coroutine's name (FrontProtocol._run) or,
    # compiled, its type's (_run_FrontProtocol_gen).
    created: list[str] = []
    loop = asyncio.get_running_loop()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        created.append(getattr(coro, "__qualname__", "") or type(coro).__name__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(factory)
    sidecar, upstream = await start()
    answers = []
    async with aiohttp.ClientSession() as session:
        for i in range(3):
            async with session.post(
                sidecar.url + f"/photos/{i}",
                data=JPEG,
                headers={"Content-Type": "image/jpeg"},
            ) as resp:
                answers.append(
                    (resp.status, resp.headers["X-Upstream"], resp.headers.getall("Set-Cookie"))
                )
                assert await resp.read() == b"stored"
    loop.set_task_factory(None)
    # One task to serve the first upload (its coroutine, and the one it awaits, are those
    # of FrontProtocol._run): none for the others.
    assert len([name for name in created if "_run" in name and "Front" in name]) == 1, created
    assert answers == [(200, "yes", ["a=1; Path=/", "b=2; Path=/"])] * 3
    assert [got.path_qs for got in upstream.received] == ["/photos/0", "/photos/1", "/photos/2"]
    assert len({got.body for got in upstream.received}) == 1
    assert personal_tags(upstream.received[-1].body) == set()
    assert pixels(upstream.received[-1].body) == pixels(JPEG)
    removed = {got.headers["X-Veil-Removed"] for got in upstream.received}
    assert len(removed) == 1 and "location" in removed.pop()
    assert sidecar.paths() == {"fast": 3.0}


async def _raw_upstream(script: Any) -> tuple[RawServer, asyncio.Server]:
    raw = RawServer(script)
    server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
    raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    return raw, server


@pytest.mark.parametrize(("method", "second"), [("PUT", 200), ("POST", 502)])
async def test_kept_alive_upstream_connection_dropped_before_answering(
    start: Any, method: str, second: int
) -> None:
    # Each upstream connection answers its first request and drops on the second unanswered.
    # An idempotent PUT is sent again on a fresh connection; a POST is not (it may have been
    # acted on) and gets 502.
    raw, server = await _raw_upstream(lambda c, n, got: OK if n == 1 else None)
    try:
        sidecar, _ = await start(upstream=raw.url)
        upload = _upload(JPEG).replace(b"POST ", method.encode() + b" ", 1)
        first = await sidecar.raw(upload, read_until_close=False)
        reader, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
        writer.write(
            upload
            + _upload(JPEG, extra="Connection: close\r\n").replace(
                b"POST ", method.encode() + b" ", 1
            )
        )
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        server.close()
    assert _statuses(first) == [200]
    if second == 200:
        assert _statuses(rest) == [200, 200]
        assert [(got.connection, got.complete) for got in raw.received] == [
            (1, True),
            (1, True),  # dropped unanswered: sent again on connection 2
            (2, True),
            (2, True),  # the same again
            (3, True),
        ]
    else:
        assert _statuses(rest)[0] == 502
        assert b"upstream_unavailable" in rest
        assert JPEG[:100] not in rest
    assert sidecar.paths()["fast"] >= 2


async def test_upstream_silent_on_a_kept_alive_connection_is_504(start: Any) -> None:
    raw, server = await _raw_upstream(lambda c, n, got: OK if n == 1 else b"")
    try:
        sidecar, _ = await start(upstream=raw.url, upstream_timeout=0.3)
        reader, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
        writer.write(_upload(JPEG))
        assert _statuses(await asyncio.wait_for(reader.read(200), 5)) == [200]
        writer.write(_upload(JPEG, extra="Connection: close\r\n"))
        rest = await asyncio.wait_for(reader.read(), 5)
        writer.close()
    finally:
        server.close()
    assert _statuses(rest) == [504]
    assert b"upstream_timeout" in rest


async def test_keep_alive_and_pipelined_requests_are_answered_in_order(start: Any) -> None:
    sidecar, upstream = await start()
    # Three uploads in one write, the last asking to close: three answers, then EOF.
    data = _upload(JPEG) + _upload(JPEG, "/b") + _upload(JPEG, "/c", "Connection: close\r\n")
    raw = await sidecar.raw(data)
    assert _statuses(raw) == [200, 200, 200]
    assert raw.rstrip().endswith(b"stored") or b"Connection: close" in raw
    assert [r.path_qs for r in upstream.received] == ["/photos/1", "/b", "/c"]
    assert all(personal_tags(r.body) == set() for r in upstream.received)
    assert sidecar.paths() == {"fast": 3.0}


async def test_each_request_gets_only_its_own_body(start: Any) -> None:
    # A smaller upload after a larger one, and one cut short, on one connection: no body
    # may carry bytes of another.
    from pipeline.media import strip_media

    sidecar, upstream = await start(request_timeout=0.5)
    small = _jpeg_with_comment(b"x" * 10)
    large = _jpeg_with_comment(b"y" * 60_000)
    data = _upload(large, "/1") + _upload(small, "/2") + _upload(large, "/3")
    raw = await sidecar.raw(data + _upload(small, "/4")[:-100], wait=5)  # the last is cut
    assert _statuses(raw) == [200, 200, 200, 408]
    assert [r.path_qs for r in upstream.received] == ["/1", "/2", "/3"]
    expected = [strip_media(large).data, strip_media(small).data, strip_media(large).data]
    assert [r.body for r in upstream.received] == expected
    assert b"y" * 100 not in raw


async def test_body_buffers_are_exact_and_taken_without_a_copy(start: Any) -> None:
    from pipeline.sidecar.upstream import UpstreamPool

    sidecar, _ = await start()
    pool = UpstreamPool("http://127.0.0.1:9", connect_timeout=1, read_timeout=1)
    server = fastpath.FrontServer(sidecar.engine, pool, asyncio.Protocol, logging.getLogger("t"))
    view = server.take_buffer(1000)
    assert view is not None and len(view) == 1000 and not view.readonly
    view[:600] = b"y" * 600
    tail = view[600:]  # the socket reads into slices like this one
    tail[:] = b"z" * 400
    del tail
    assert server.reserved == 1000
    body = server.body_bytes(view)
    assert body == b"y" * 600 + b"z" * 400 and type(body) is bytes
    assert server.reserved == 0
    dropped = server.take_buffer(10)
    assert dropped is not None
    server.give_buffer(dropped)
    assert server.reserved == 0
    if fastpath.BodyBuffer is not None:
        buffer = fastpath.BodyBuffer(4)
        held = memoryview(buffer)
        with pytest.raises(BufferError):
            buffer.take()  # a view is still out: nothing may write after the take
        held.release()
        taken = buffer.take()
        assert type(taken) is bytes and len(taken) == 4
        with pytest.raises(BufferError):
            buffer.take()  # once only
        with pytest.raises(BufferError):
            memoryview(buffer)  # and no view after it
        with pytest.raises(ValueError):
            fastpath.BodyBuffer(1)  # 0 and 1 byte bytes objects may be CPython's shared ones


async def test_access_lines_follow_each_target_on_a_kept_connection(
    start: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The connection remembers its last redacted target: a different one must be redacted
    # anew, the same one again gives the same line.
    sidecar, _ = await start()
    targets = ["/u/jo%40example.com?k=v", "/plain", "/plain", "/u/jo%40example.com?k=v"]
    data = b"".join(_upload(JPEG, target) for target in targets)
    with caplog.at_level(logging.INFO, logger="pipeline.sidecar.access"):
        raw = await sidecar.raw(data + _upload(JPEG, "/end", "Connection: close\r\n"))
    assert _statuses(raw) == [200] * 5
    paths = [
        r.getMessage().split(" ")[1] for r in caplog.records if r.name == "pipeline.sidecar.access"
    ]
    assert paths == [
        "path=/u/<EMAIL_ADDRESS>?k=",
        "path=/plain",
        "path=/plain",
        "path=/u/<EMAIL_ADDRESS>?k=",
        "path=/end",
    ]
    assert "example.com" not in caplog.text


def _jpeg_with_comment(comment: bytes) -> bytes:
    """The test JPEG with a COM segment after SOI (dropped by the stripper)."""
    return JPEG[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + JPEG[2:]


async def test_head_split_byte_by_byte_still_works(start: Any) -> None:
    sidecar, upstream = await start()
    data = _upload(JPEG, extra="Connection: close\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
    head_end = data.index(b"\r\n\r\n") + 4
    for i in range(head_end):
        writer.write(data[i : i + 1])
        await writer.drain()
    writer.write(data[head_end:])
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert _statuses(raw) == [200]
    assert personal_tags(upstream.received[-1].body) == set()


async def test_head_longer_than_one_read_takes_the_fast_path(start: Any) -> None:
    sidecar, upstream = await start()
    assert fastpath.HEAD_READ < 9000 < fastpath.MAX_HEAD
    extra = "".join(f"X-Pad-{i}: {'p' * 80}\r\n" for i in range(100))  # about 9 KB
    raw = await sidecar.raw(_upload(JPEG, extra=extra + "Connection: close\r\n"))
    assert _statuses(raw) == [200]
    assert sidecar.paths() == {"fast": 1.0}
    assert upstream.received[-1].headers["X-Pad-99"] == "p" * 80
    assert personal_tags(upstream.received[-1].body) == set()


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        # admin endpoint under /_veil
        (b"GET /_veil/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200),
        # not media: streamed through aiohttp's path untouched
        (
            b"POST /notes HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
            200,
        ),
        # declared an image, is not one: refused by aiohttp's path
        (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 5\r\nConnection: close\r\n\r\nhello",
            415,
        ),
        # the same with a 1-byte body (too short for a body buffer of its own)
        (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Content-Length: 1\r\nConnection: close\r\n\r\nA",
            415,
        ),
        # chunked body
        (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            415,
        ),
        # Content-Length and Transfer-Encoding together: refused (smuggling)
        (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        # two Content-Length headers
        (b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        # compressed body
        (
            b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: 3\r\nConnection: close\r\n\r\nabc",
            415,
        ),
        # a head llhttp refuses
        (b"POST /p HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
        # dot segments
        (b"GET /a/../b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200),
    ],
)
async def test_everything_else_is_handed_to_aiohttp(
    start: Any, request_bytes: bytes, expected: int
) -> None:
    sidecar, upstream = await start()
    raw = await sidecar.raw(request_bytes)
    assert _statuses(raw)[:1] == [expected]
    assert sidecar.paths() == {"aiohttp": 1.0}
    if expected != 200:
        assert upstream.received == []  # refused before anything was forwarded


async def test_multipart_and_wrong_token_are_handed_off(start: Any) -> None:
    sidecar, upstream = await start(token="s3cret-token-0123456789")  # noqa: S106  # test token
    body, ctype = multipart(("photo", "a.jpg", "image/jpeg", JPEG))
    async with aiohttp.ClientSession() as session:
        auth = {"Proxy-Authorization": "Bearer s3cret-token-0123456789"}
        async with session.post(
            sidecar.url + "/up", data=body, headers={"Content-Type": ctype, **auth}
        ) as resp:
            assert resp.status == 200
        async with session.post(
            sidecar.url + "/up", data=JPEG, headers={"Content-Type": "image/jpeg"}
        ) as resp:
            assert resp.status == 407
        async with session.post(
            sidecar.url + "/up", data=JPEG, headers={"Content-Type": "image/jpeg", **auth}
        ) as resp:
            assert resp.status == 200
    # The multipart upload handed its connection to aiohttp, which then also answered the
    # 407 on it (a refusal closes the connection); the last upload came on a new one.
    assert sidecar.paths() == {"aiohttp": 1.0, "fast": 1.0}
    assert len(upstream.received) == 2
    assert personal_tags(upstream.received[0].parts[0][2]) == set()
    assert personal_tags(upstream.received[1].body) == set()


async def test_corrupt_jpeg_is_422_and_connection_stays_usable(start: Any) -> None:
    sidecar, upstream = await start()
    corrupt = JPEG[:2000]  # starts like a JPEG, ends in the middle of a segment
    raw = await sidecar.raw(_upload(corrupt) + _upload(JPEG, "/ok", "Connection: close\r\n"))
    assert _statuses(raw) == [422, 200]
    assert b'"error": "corrupt_media"' in raw
    assert [r.path_qs for r in upstream.received] == ["/ok"]


async def test_stalled_body_gets_408_and_nothing_is_forwarded(start: Any) -> None:
    sidecar, upstream = await start(request_timeout=0.5)
    data = _upload(JPEG)
    raw = await sidecar.raw(data[: len(data) // 2])  # then stalls
    assert _statuses(raw) == [408]
    assert b"Connection: close" in raw
    assert upstream.received == []
    assert sidecar.paths() == {}  # never dispatched: timed out while receiving


async def test_stalled_head_gets_408(start: Any) -> None:
    # aiohttp's server has no such limit: a head that never completes held the connection.
    sidecar, upstream = await start(request_timeout=0.5)
    raw = await sidecar.raw(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Le")
    assert _statuses(raw) == [408]
    assert upstream.received == []


async def test_head_timeout_runs_from_each_request_on_a_kept_connection(start: Any) -> None:
    # The connection moves one timer's deadline rather than rescheduling it per request: a
    # stale deadline (from the first request) must neither fire early nor be lost.
    sidecar, upstream = await start(request_timeout=0.6)
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
    try:
        for _ in range(3):  # each served request arms and disarms the timeouts
            writer.write(_upload(JPEG))
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            assert _statuses(head) == [200]
            await asyncio.sleep(0.25)  # the first request's head deadline passes meanwhile
        started = loop.time()
        writer.write(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Le")
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)
        waited = loop.time() - started
    finally:
        writer.close()
    assert _statuses(rest) == [408]
    assert 0.5 <= waited < 2.5
    assert len(upstream.received) == 3
    assert sidecar.paths() == {"fast": 3}


async def test_client_gone_midway_forwards_nothing(start: Any) -> None:
    sidecar, upstream = await start()
    data = _upload(JPEG)
    _, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
    writer.write(data[: len(data) // 2])
    await writer.drain()
    writer.close()
    await asyncio.sleep(0.3)
    assert upstream.received == []


async def test_upstream_down_is_502(start: Any, upstream: tuple[Upstream, str]) -> None:
    sidecar, _ = await start(upstream="http://127.0.0.1:9")  # discard port: refused
    raw = await sidecar.raw(_upload(JPEG, extra="Connection: close\r\n"))
    assert _statuses(raw) == [502]
    assert JPEG[:100] not in raw


async def test_large_upstream_answer_is_streamed_back(start: Any) -> None:
    service_app = web.Application()

    async def big(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(40):
            await response.write(bytes([i]) * 20_000)
        return response

    service_app.router.add_post("/big", big)
    server = TestServer(service_app)
    await server.start_server()
    try:
        other, _ = await start(upstream=str(server.make_url("")).rstrip("/"))
        async with aiohttp.ClientSession() as session:
            # The second finds an idle upstream connection: its answer is handed from the
            # connection's callbacks to a task that streams it.
            for _ in range(2):
                async with session.post(
                    other.url + "/big", data=JPEG, headers={"Content-Type": "image/jpeg"}
                ) as resp:
                    body = await resp.read()
                assert resp.status == 200
                assert body == b"".join(bytes([i]) * 20_000 for i in range(40))
        assert other.paths() == {"fast": 2.0}
    finally:
        await server.close()


async def test_body_budget_sends_large_declarations_to_aiohttp(
    start: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastpath, "FAST_BODY_BUDGET", len(JPEG) - 1)
    sidecar, upstream = await start()
    raw = await sidecar.raw(_upload(JPEG, extra="Connection: close\r\n"))
    assert _statuses(raw) == [200]
    assert sidecar.paths() == {"aiohttp": 1.0}
    assert personal_tags(upstream.received[-1].body) == set()


async def test_unparsable_requests_leave_no_content_in_the_log(
    start: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp logs a request it cannot parse with the offending line and the client address.
    sidecar, _ = await start()
    with caplog.at_level(logging.DEBUG):
        raw = await sidecar.raw(b"POST /p HTTP/1.1\r\nHost: x\r\nBad jo@example.com: 1\r\n\r\n")
        await asyncio.sleep(0.1)
    assert _statuses(raw) == [400]
    server_records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert server_records, "aiohttp logged nothing: the test no longer covers the filter"
    text = "\n".join(r.getMessage() + str(r.exc_info) for r in server_records)
    assert "jo@example.com" not in text and "127.0.0.1" not in text
    assert "BadHttpMessage" in text


async def test_expect_100_continue_is_answered_on_the_fast_path(start: Any) -> None:
    sidecar, upstream = await start()
    head = _upload(JPEG, extra="Expect: 100-continue\r\nConnection: close\r\n")[: -len(JPEG)]
    reader, writer = await asyncio.open_connection("127.0.0.1", sidecar.port)
    writer.write(head)
    await writer.drain()
    interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(JPEG)
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert _statuses(raw) == [200]
    assert personal_tags(upstream.received[-1].body) == set()
    assert "Expect" not in upstream.received[-1].headers  # hop-by-hop for the proxy
    assert sidecar.paths() == {"fast": 1.0}


async def test_other_expectations_go_to_aiohttp(start: Any) -> None:
    sidecar, upstream = await start()
    raw = await sidecar.raw(_upload(JPEG, extra="Expect: x\r\nConnection: close\r\n"), wait=10)
    assert _statuses(raw)[:1] == [417]
    assert sidecar.paths() == {"aiohttp": 1.0}
    assert upstream.received == []


@pytest.mark.parametrize(
    "pairs",
    [
        [("Content-Length", "5"), ("Date", "Mon"), ("Set-Cookie", "a"), ("Set-Cookie", "b")],
        [("Connection", "keep-alive, X-Private"), ("X-Private", "s"), ("Keep-Alive", "t=5"),
         ("Transfer-Encoding", "chunked"), ("X-Up", "1")],
        [("Connection", "Date"), ("Date", "Mon"), ("X-Up", "1")],  # Date named: ours instead
    ],
)  # fmt: skip
def test_relayed_head_leaves_out_what_is_not_relayed(pairs: list[tuple[str, str]]) -> None:
    from multidict import CIMultiDict

    from pipeline.sidecar.forwarding import response_drop, response_headers

    upstream = CIMultiDict(pairs)
    skip = response_drop(upstream, fastpath._RELAY_SKIP)
    got = fastpath._head(200, "OK", upstream, True, 2, skip=skip)
    # The same head as from a filtered copy of the headers (what aiohttp's handler relays).
    copy = response_headers(upstream)
    copy.popall("Content-Length", None)
    expected = fastpath._head(200, "OK", copy, True, 2)
    date = re.compile(rb"Date: [^\r]*\r\n")
    assert date.sub(b"", got) == date.sub(b"", expected)
    assert got.count(b"Date: ") == 1 and got.count(b"Content-Length: ") == 1
    assert b"X-Private" not in got and b"Keep-Alive" not in got and b"chunked" not in got
