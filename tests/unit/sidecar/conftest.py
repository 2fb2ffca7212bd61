"""Fixtures of the sidecar unit tests: a small policy, settings and an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
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
