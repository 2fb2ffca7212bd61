"""Service mode in-process: /v1/strip, /v1/minimize, /healthz, /metrics, auth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.sidecar.conftest import MakeClient
from tests.unit.sidecar.kit import CANON_JPEG, GPS_JPEG, degrees, gps, personal_tags, pixels

EVENT = {
    "event_id": "e-1",
    "kind": "log",
    "user_id": "u-42",
    "occurred_at": "2026-11-01T12:00:00Z",
    "payload": {"message": "hello", "device_id": "dev-123"},
}


@pytest.mark.parametrize("source", [GPS_JPEG, CANON_JPEG])
async def test_strip_removes_location_and_identifiers_keeps_pixels(
    make_client: MakeClient, source: Any
) -> None:
    client = await make_client()
    original = source.read_bytes()
    resp = await client.post("/v1/strip", data=original)
    assert resp.status == 200
    out = await resp.read()
    assert resp.headers["Content-Type"] == "image/jpeg"
    removed = resp.headers["X-Veil-Removed"].split(",")
    assert "maker_notes" in removed
    assert gps(out) == {}
    assert personal_tags(out) == set()
    assert pixels(out) == pixels(original)


@pytest.mark.parametrize(
    ("purpose", "header", "kept"),
    [
        ("uploads", "location=granted", True),  # the policy allows coarse location
        ("uploads", None, False),
        ("uploads", "location=denied", False),
        ("archive", "location=granted", False),  # consent, but this purpose never keeps it
    ],
)
async def test_location_consent_follows_the_policy(
    make_client: MakeClient, purpose: str, header: str | None, kept: bool
) -> None:
    client = await make_client(purpose=purpose)
    headers = {"X-Veil-Consent": header} if header else {}
    resp = await client.post("/v1/strip", data=GPS_JPEG.read_bytes(), headers=headers)
    assert resp.status == 200
    out = gps(await resp.read())
    assert ("location" in resp.headers["X-Veil-Removed"]) is True  # altitude etc. always go
    if not kept:
        assert out == {}
        return
    original = gps(GPS_JPEG.read_bytes())
    lat, lon = degrees(out[2]), degrees(out[4])
    assert lat == pytest.approx(degrees(original[2]), abs=0.006)
    assert lon == pytest.approx(degrees(original[4]), abs=0.006)
    assert round(lat, 2) == pytest.approx(lat, abs=1e-6)  # coarsened to two decimals
    assert 6 not in out and 7 not in out  # no altitude, no GPS time


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"plain text, not an image", 415, "unsupported_media"),
        (b"", 415, "unsupported_media"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415, "unsupported_media"),
        (GPS_JPEG.read_bytes()[:2000], 422, "corrupt_media"),
    ],
)
async def test_strip_refusals(make_client: MakeClient, body: bytes, status: int, code: str) -> None:
    client = await make_client()
    resp = await client.post("/v1/strip", data=body)
    assert resp.status == status
    assert (await resp.json())["error"] == code


async def test_strip_over_the_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(max_body="64KiB")
    resp = await client.post("/v1/strip", data=GPS_JPEG.read_bytes())
    assert resp.status == 413
    # Chunked (no Content-Length): counted while reading.
    data = GPS_JPEG.read_bytes()

    async def gen() -> Any:
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]

    resp = await client.post("/v1/strip", data=gen())
    assert resp.status == 413


@pytest.mark.parametrize(
    ("path", "method", "headers", "status"),
    [
        ("/v1/strip", "POST", {}, 401),
        ("/v1/strip", "POST", {"Authorization": "Bearer wrong"}, 401),
        ("/v1/strip", "POST", {"Authorization": "Basic dG9rZW4="}, 401),
        ("/v1/strip", "POST", {"Authorization": "Bearer right-token"}, 200),
        ("/metrics", "GET", {}, 401),
        ("/metrics", "GET", {"Authorization": "Bearer right-token"}, 200),
        ("/healthz", "GET", {}, 200),  # probes need no token
        ("/_veil/v1/strip", "POST", {}, 401),
    ],
)
async def test_bearer_token(
    make_client: MakeClient, path: str, method: str, headers: dict[str, str], status: int
) -> None:
    client = await make_client(token="right-token")  # noqa: S106
    data = GPS_JPEG.read_bytes() if method == "POST" else None
    resp = await client.request(method, path, data=data, headers=headers)
    assert resp.status == status
    if status == 401:
        assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_minimize_single_event(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.post(
        "/v1/minimize?purpose=uploads",
        data=json.dumps(EVENT, indent=2),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 200
    body = await resp.json()
    event = body["event"]
    assert event["event_id"] == "e-1"
    assert event["user_id"].startswith("ps_") and event["user_id"] != "u-42"
    assert event["payload"]["device_id"].startswith("ps_")
    assert body["audit"]["purpose"] == "uploads"


async def test_minimize_batch_reports_dead_letters_without_echoing(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    cut = '{"event_id": "e-2", "kind": "log", "user_id": "jo@example.com"'  # cut JSON
    lines = [json.dumps(EVENT), cut, json.dumps({**EVENT, "kind": "nope"}), ""]
    resp = await client.post("/v1/minimize?purpose=uploads", data="\n".join(lines))
    assert resp.status == 200
    assert resp.headers["X-Veil-Dead-Lettered"] == "2"
    text = await resp.text()
    assert "jo@example.com" not in text
    results = [json.loads(line) for line in text.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3]
    assert "event" in results[0]
    assert results[1]["dead_letter"]["reason"] == "malformed_json"
    assert results[2]["dead_letter"]["reason"] == "unknown_kind"


async def test_minimize_single_dead_letter_is_422(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.post(
        "/v1/minimize?purpose=uploads",
        data=b"[1, 2]",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 422
    assert (await resp.json())["dead_letter"]["reason"] == "not_an_object"


@pytest.mark.parametrize(
    ("header", "forwarded"),
    [(None, False), ("advertising=denied", False), ("advertising=granted", True)],
)
async def test_minimize_consent_gates_a_purpose(
    make_client: MakeClient, header: str | None, forwarded: bool
) -> None:
    client = await make_client()
    headers = {"Content-Type": "application/json"}
    if header:
        headers["X-Veil-Consent"] = header
    resp = await client.post("/v1/minimize?purpose=ads", data=json.dumps(EVENT), headers=headers)
    assert resp.status == 200
    assert ((await resp.json())["event"] is not None) is forwarded


@pytest.mark.parametrize("query", ["", "?purpose=", "?purpose=nope"])
async def test_minimize_unknown_purpose_lists_valid_ones(
    make_client: MakeClient, query: str
) -> None:
    client = await make_client()
    resp = await client.post("/v1/minimize" + query, data=json.dumps(EVENT))
    assert resp.status == 400
    body = await resp.json()
    assert body["error"] == "unknown_purpose"
    assert "ads, archive, uploads" in body["message"]


async def test_health_metrics_and_routes(make_client: MakeClient) -> None:
    client = await make_client()
    resp = await client.get("/healthz")
    assert (await resp.json()) == {
        "status": "ok",
        "policy_version": "sidecar-test-1",
        "mode": "service",
    }
    assert (await client.get("/_veil/healthz")).status == 200
    assert (await client.get("/nowhere")).status == 404
    assert (await client.get("/v1/strip")).status == 405
    await client.post("/v1/strip", data=GPS_JPEG.read_bytes())
    await client.post("/v1/strip", data=b"nope")
    text = await (await client.get("/metrics")).text()
    assert 'veil_sidecar_requests_total{endpoint="strip",status="200"} 1.0' in text
    assert 'veil_sidecar_refused_total{code="unsupported_media"} 1.0' in text
    assert 'veil_sidecar_removed_total{category="location"} 1.0' in text
    assert 'veil_sidecar_media_stripped_total{media_type="image/jpeg"} 1.0' in text
    assert 'endpoint="unknown",status="404"' in text
