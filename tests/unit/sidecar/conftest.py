"""Fixtures of the sidecar unit tests: a small policy, settings, an in-process client and a
recording upstream."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import BodyPartReader, web
from aiohttp.test_utils import TestClient, TestServer

from pipeline.policy import Policy, policy_from_data
from pipeline.pseudonym import PseudonymKeys
from pipeline.sidecar.app import create_app
from pipeline.sidecar.engine import Engine
from pipeline.sidecar.settings import SidecarSettings

# A policy small enough to read: purpose "uploads" keeps location coarsened only with the
# "location" consent; purpose "archive" never keeps it; "ads" needs the advertising consent.
POLICY_DATA: dict[str, Any] = {
    "version": "sidecar-test-1",
    "consent_keys": ["location", "advertising"],
    "categories": {
        name: {"clauses": ["P1"]} for name in ("account", "content", "location", "media_metadata")
    },
    "fields": {
        "common": {
            "event_id": "account/id",
            "kind": "account/kind",
            "user_id": "account/identifier",
            "occurred_at": "account/timestamp",
        },
        "media_upload": {
            "payload.filename": "content/string",
            "payload.content_b64": "content/media",
            "payload.location.lat": "location/latitude",
            "payload.location.lon": "location/longitude",
        },
        "log": {"payload.message": "content/text", "payload.device_id": "account/identifier"},
    },
    "purposes": {
        "uploads": {
            "clauses": ["P1"],
            "topic": "veil.uploads",
            "retention": "3650d",
            "categories": {
                "account": "keep",
                "content": "keep",
                "location": {"action": "generalize", "consent": "location"},
            },
            "fields": {"user_id": "pseudonymize", "payload.device_id": "pseudonymize"},
        },
        "archive": {
            "clauses": ["P1"],
            "topic": "veil.archive",
            "retention": "3650d",
            "categories": {"account": "keep", "content": "keep", "location": "drop"},
        },
        "ads": {
            "clauses": ["P1"],
            "topic": "veil.ads",
            "retention": "3650d",
            "requires_consent": ["advertising"],
            "categories": {"account": "keep"},
        },
    },
}

KEY = b"k" * 32


@pytest.fixture(scope="session")
def policy() -> Policy:
    return policy_from_data(POLICY_DATA)


MakeClient = Callable[..., Any]


@pytest.fixture
async def make_client(policy: Policy) -> AsyncIterator[MakeClient]:
    """Start the app in-process with the given settings; closed at teardown."""
    clients: list[TestClient[Any, Any]] = []

    async def make(**overrides: Any) -> TestClient[Any, Any]:
        settings = SidecarSettings(**{"purpose": "uploads", **overrides})
        engine = Engine(settings, policy=policy, keys=PseudonymKeys(base=KEY))
        client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings, engine=engine)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@dataclass
class Received:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes
    parts: list[tuple[str | None, str | None, bytes]] = field(default_factory=list)
    peer: object = None  # the proxy's address on this connection (keep-alive reuse)


class Upstream:
    """A tiny upload service: records every request, parses multipart like a real one."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_route("*", "/redirect", self.redirect)
        self.app.router.add_route("GET", "/big", self.big)
        self.app.router.add_route("GET", "/cut", self.cut)
        self.app.router.add_route("*", "/{tail:.*}", self.store)

    async def big(self, request: web.Request) -> web.StreamResponse:
        # Chunked (no Content-Length), larger than the one-piece relay limit.
        response = web.StreamResponse(headers={"X-Big": "1"})
        await response.prepare(request)
        for i in range(64):
            await response.write(bytes([i]) * 20_000)
        await response.write_eof()
        return response

    async def cut(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000000"})
        await response.prepare(request)
        await response.write(b"x" * 1000)
        assert request.transport is not None
        request.transport.close()
        return response

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/elsewhere")

    async def store(self, request: web.Request) -> web.Response:
        got = Received(request.method, request.path_qs, dict(request.headers), b"")
        assert request.transport is not None
        got.peer = request.transport.get_extra_info("peername")
        if request.content_type.startswith("multipart/"):
            async for part in await request.multipart():
                assert isinstance(part, BodyPartReader)
                got.parts.append((part.name, part.filename, await part.read()))
        else:
            got.body = await request.read()
        self.received.append(got)
        response = web.Response(
            body=gzip.compress(b"stored"),
            headers={"Content-Encoding": "gzip", "X-Upstream": "yes", "Keep-Alive": "timeout=5"},
        )
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[Upstream, str]]:
    service = Upstream()
    server = TestServer(service.app)
    await server.start_server()
    yield service, str(server.make_url("")).rstrip("/")
    await server.close()
