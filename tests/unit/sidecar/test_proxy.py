"""Reverse-proxy mode in-process, against an in-process upstream that records what it got."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientPayloadError

from tests.unit.sidecar.conftest import MakeClient, Upstream
from tests.unit.sidecar.kit import GPS_JPEG, gps, multipart, personal_tags, pixels


@pytest.fixture
async def proxy(make_client: MakeClient, upstream: tuple[Upstream, str]) -> Any:
    service, url = upstream

    async def make(**overrides: Any) -> Any:
        return await make_client(upstream=url, **overrides), service

    return make


async def test_raw_jpeg_is_stripped_before_reaching_upstream(proxy: Any) -> None:
    client, service = await proxy()
    original = GPS_JPEG.read_bytes()
    resp = await client.put(
        "/photos/1?album=x",
        data=original,
        headers={"Content-Type": "image/jpeg", "X-Veil-Removed": "forged"},
    )
    assert resp.status == 200
    # Passed through still compressed (the test client decodes it; a proxy that decoded it
    # but kept the header would make this read fail).
    assert resp.headers["Content-Encoding"] == "gzip"
    assert await resp.read() == b"stored"
    got = service.received[0]
    assert got.method == "PUT" and got.path_qs == "/photos/1?album=x"
    assert got.body != original and gps(got.body) == {}
    assert pixels(got.body) == pixels(original)
    assert int(got.headers["Content-Length"]) == len(got.body)
    assert "location" in got.headers["X-Veil-Removed"].split(",")
    assert resp.headers.getall("Set-Cookie") and len(resp.headers.getall("Set-Cookie")) == 2
    assert "Keep-Alive" not in resp.headers and resp.headers["X-Upstream"] == "yes"


async def test_multipart_file_parts_are_stripped_fields_untouched(proxy: Any) -> None:
    client, service = await proxy()
    original = GPS_JPEG.read_bytes()
    body, ctype = multipart(
        ("title", None, None, "caf\u00e9 \u2603".encode()),
        ("photo", "DSCN0010.jpg", "image/jpeg", original),
        ("notes", "notes.txt", "text/plain", b"\xff\xd8 not an image"),
        ("other", "blob.bin", "application/octet-stream", original),  # JPEG under a neutral type
    )
    resp = await client.post("/upload", data=body, headers={"Content-Type": ctype})
    assert resp.status == 200
    parts = {name: (filename, data) for name, filename, data in service.received[0].parts}
    assert parts["title"] == (None, "caf\u00e9 \u2603".encode())
    assert parts["notes"] == ("notes.txt", b"\xff\xd8 not an image")
    for name in ("photo", "other"):
        stripped = parts[name][1]
        assert gps(stripped) == {} and personal_tags(stripped) == set()
        assert pixels(stripped) == pixels(original)


@pytest.mark.parametrize(
    ("parts", "status", "code"),
    [
        # A part that claims to be a JPEG but is text: the declaration lies.
        ([("photo", "a.jpg", "image/jpeg", b"this is not a jpeg at all")], 415,
         "content_type_mismatch"),
        ([("photo", "a.txt", "image/png", b"plain")], 415, "content_type_mismatch"),
        # A JPEG that claims to be a PNG: refused by the stripper's cross-check.
        ([("photo", "a.png", "image/png", GPS_JPEG.read_bytes())], 415, "unsupported_media"),
        ([("photo", "a.jpg", "image/jpeg", GPS_JPEG.read_bytes()[:3000])], 422,
         "corrupt_media"),
        ([("photo", "a.gif", "image/gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")], 415,
         "unsupported_media"),
    ],
)  # fmt: skip
async def test_bad_parts_never_reach_upstream(
    proxy: Any, parts: list[Any], status: int, code: str
) -> None:
    client, service = await proxy()
    body, ctype = multipart(("title", None, None, b"x"), *parts)
    resp = await client.post("/upload", data=body, headers={"Content-Type": ctype})
    assert resp.status == status
    assert (await resp.json())["error"] == code
    assert service.received == []


@pytest.mark.parametrize(
    ("cut", "code"),
    [(-20, "truncated_multipart"), (-5, "truncated_multipart"), (100, "malformed_multipart")],
)
async def test_truncated_multipart_is_400(proxy: Any, cut: int, code: str) -> None:
    client, service = await proxy()
    body, ctype = multipart(("photo", "a.jpg", "image/jpeg", GPS_JPEG.read_bytes()))
    resp = await client.post("/upload", data=body[:cut], headers={"Content-Type": ctype})
    assert resp.status == 400
    assert (await resp.json())["error"] == code
    assert service.received == []


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "image/jpeg"}, b"not really a jpeg", 415),  # lying raw body
        ({"Content-Type": "image/jpeg"}, GPS_JPEG.read_bytes()[:5000], 422),
        ({"Content-Type": "image/jpeg", "Content-Encoding": "gzip"},
         gzip.compress(GPS_JPEG.read_bytes()), 415),  # cannot be inspected: refused
        ({"Content-Type": "multipart/form-data"}, b"--x\r\n\r\nx\r\n--x--", 400),  # no boundary
    ],
)  # fmt: skip
async def test_bad_raw_bodies_never_reach_upstream(
    proxy: Any, headers: dict[str, str], body: bytes, status: int
) -> None:
    client, service = await proxy()
    resp = await client.post("/upload", data=body, headers=headers)
    assert resp.status == status
    assert service.received == []


async def test_oversized_media_is_413_and_not_forwarded(proxy: Any) -> None:
    client, service = await proxy(max_body="100KiB")
    resp = await client.post("/upload", data=GPS_JPEG.read_bytes())
    assert resp.status == 413
    body, ctype = multipart(("photo", "a.jpg", "image/jpeg", GPS_JPEG.read_bytes()))
    resp = await client.post("/upload", data=body, headers={"Content-Type": ctype})
    assert resp.status == 413
    assert service.received == []


async def test_non_media_streams_through_byte_for_byte(proxy: Any) -> None:
    client, service = await proxy()
    payload = b'{"caption": "hello"}' * 10_000
    resp = await client.post(
        "/api/items?x=1", data=payload, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 200
    got = service.received[0]
    assert got.body == payload
    assert got.headers["Content-Type"] == "application/json"
    assert "X-Veil-Removed" not in got.headers
    resp = await client.get("/api/items?q=2", headers={"Connection": "X-Secret", "X-Secret": "1"})
    assert resp.status == 200
    got = service.received[1]
    assert got.method == "GET" and got.path_qs == "/api/items?q=2" and got.body == b""
    assert "X-Secret" not in got.headers  # named in Connection: hop-by-hop
    assert "X-Forwarded-For" in got.headers


async def test_non_media_stream_over_the_limit_is_413(proxy: Any) -> None:
    client, service = await proxy(max_body="64KiB")

    async def gen() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"a" * 4096

    resp = await client.post("/logs", data=gen(), headers={"Content-Type": "text/plain"})
    assert resp.status == 413
    # The upstream may have seen the start of this text body, never a complete request.
    assert all(len(r.body) < 160 * 1024 for r in service.received)


async def test_redirects_are_passed_not_followed(proxy: Any) -> None:
    client, _ = await proxy()
    resp = await client.get("/redirect", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/elsewhere"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 407),
        ({"Proxy-Authorization": "Bearer nope"}, 407),
        ({"Authorization": "Bearer tok-1"}, 407),  # Authorization belongs to the upstream
        ({"Proxy-Authorization": "Bearer tok-1", "Authorization": "Basic abc"}, 200),
    ],
)
async def test_proxy_token(proxy: Any, headers: dict[str, str], status: int) -> None:
    client, service = await proxy(token="tok-1")  # noqa: S106
    resp = await client.get("/x", headers=headers)
    assert resp.status == status
    if status == 200:
        got = service.received[0].headers
        assert got["Authorization"] == "Basic abc" and "Proxy-Authorization" not in got
    else:
        assert service.received == []


async def test_own_endpoints_move_under_veil_prefix(proxy: Any) -> None:
    client, service = await proxy()
    assert (await client.get("/_veil/healthz")).status == 200
    resp = await client.get("/healthz")  # the upload service's own health check
    assert resp.status == 200 and service.received[0].path_qs == "/healthz"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_upstream_down_is_502_without_the_body(make_client: MakeClient) -> None:
    client = await make_client(upstream=f"http://127.0.0.1:{_free_port()}")
    secret = b"card 4111 1111 1111 1111 jo@example.com"
    resp = await client.post("/upload", data=secret, headers={"Content-Type": "text/plain"})
    assert resp.status == 502
    text = await resp.text()
    assert "4111" not in text and "example.com" not in text
    resp = await client.post("/upload", data=GPS_JPEG.read_bytes())
    assert resp.status == 502


async def test_slow_client_gets_408_and_nothing_is_forwarded(proxy: Any) -> None:
    client, service = await proxy(request_timeout=0.5)
    reader, writer = await asyncio.open_connection(client.host, client.port)
    data = GPS_JPEG.read_bytes()
    writer.write(
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data[:1000]
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    assert status_line.split()[1] == b"408"
    assert service.received == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_client_that_hangs_up_midway_forwards_nothing(proxy: Any, chunked: bool) -> None:
    client, service = await proxy()
    _reader, writer = await asyncio.open_connection(client.host, client.port)
    data = GPS_JPEG.read_bytes()
    framing = (
        b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(data):x}\r\n".encode()
        if chunked
        else f"Content-Length: {len(data)}\r\n\r\n".encode()
    )
    writer.write(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n" + framing)
    writer.write(data[:5000])
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.3)
    assert service.received == []
    # The sidecar is still serving.
    assert (await client.get("/_veil/healthz")).status == 200


async def test_upstream_connections_are_kept_alive(proxy: Any) -> None:
    client, service = await proxy()
    for _ in range(3):
        resp = await client.post("/upload", data=GPS_JPEG.read_bytes())
        assert resp.status == 200
        await resp.read()
    assert len({r.peer for r in service.received}) == 1


async def test_large_chunked_answer_is_streamed_back_whole(proxy: Any) -> None:
    client, _ = await proxy()
    resp = await client.get("/big")
    assert resp.status == 200 and resp.headers["X-Big"] == "1"
    assert await resp.read() == b"".join(bytes([i]) * 20_000 for i in range(64))


async def test_upstream_breaking_off_its_answer_cuts_the_client_connection(proxy: Any) -> None:
    client, _ = await proxy()
    resp = await client.get("/cut")
    assert resp.status == 200
    with pytest.raises(ClientPayloadError):
        await resp.read()
    assert (await client.get("/_veil/healthz")).status == 200


async def test_malformed_upstream_answer_is_502_without_the_body(make_client: MakeClient) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = await make_client(upstream=f"http://127.0.0.1:{port}")
        secret = b"card 4111 1111 1111 1111"
        resp = await client.post("/x", data=secret, headers={"Content-Type": "text/plain"})
        assert resp.status == 502
        assert "4111" not in await resp.text()
    finally:
        server.close()
        await server.wait_closed()


def test_removed_header_lists_the_categories_of_one_or_more_strips() -> None:
    from types import MappingProxyType

    from pipeline.media import StripResult
    from pipeline.sidecar.engine import Stripped
    from pipeline.sidecar.forwarding import removed_header

    def stripped(**removed: tuple[str, ...]) -> Stripped:
        result = StripResult(
            data=b"", media_type="jpeg", removed=MappingProxyType(removed), kept=()
        )
        return Stripped(result, "body")

    one = stripped(location=("GPSLatitude",), thumbnail=("ThumbnailImage",), owner=())
    assert one.categories == ("location", "thumbnail")
    for _ in range(2):  # the second from the cache
        assert removed_header([one]) == "location,thumbnail"
    other = stripped(serial=("BodySerialNumber",), location=("GPSAltitude",))
    assert removed_header([other]) == "location,serial"
    assert removed_header([one, other]) == "location,serial,thumbnail"
    assert removed_header([stripped()]) == "none"
    assert removed_header([]) == "none"
