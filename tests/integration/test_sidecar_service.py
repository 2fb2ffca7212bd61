"""``veil sidecar`` in service mode as a real process, called with curl and aiohttp."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from pipeline.sidecar.testing import VEIL, Proc, start_sidecar
from tests.unit.sidecar.kit import CANON_JPEG, GPS_JPEG, gps, personal_tags, pixels

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed"),
]

KEYS = {"VEIL_PSEUDONYM_KEY": "integration-test-key-0123456789"}
TOKEN = "svc-token-5b1d"  # noqa: S105  # a test token


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    workdir = tmp_path_factory.mktemp("sidecar-service")
    proc = start_sidecar(workdir, env={**KEYS, "VEIL_SIDECAR_TOKEN": TOKEN})
    yield proc
    proc.stop()


def curl(*args: str) -> tuple[int, dict[str, str], bytes]:
    out = subprocess.run(
        ["curl", "-sS", "-D", "-", "-o", "-", *args], capture_output=True, timeout=60, check=True
    )
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize("source", [GPS_JPEG, CANON_JPEG])
def test_curl_strip(service: Proc, source: Path) -> None:
    code, headers, body = curl(
        "-H", f"Authorization: Bearer {TOKEN}", "--data-binary", f"@{source}",
        f"{service.url}/v1/strip",
    )  # fmt: skip
    assert code == 200
    assert headers["content-type"] == "image/jpeg"
    assert "maker_notes" in headers["x-veil-removed"]
    assert gps(body) == {} and personal_tags(body) == set()
    assert pixels(body) == pixels(source.read_bytes())


def test_token_is_required(service: Proc) -> None:
    code, headers, _ = curl("--data-binary", f"@{GPS_JPEG}", f"{service.url}/v1/strip")
    assert code == 401 and headers["www-authenticate"] == "Bearer"
    code, _, body = curl(f"{service.url}/healthz")
    assert code == 200 and json.loads(body)["status"] == "ok"


async def test_minimize_batch_with_the_default_policy(service: Proc) -> None:
    events = [
        {
            "event_id": "e-1",
            "kind": "log",
            "user_id": "u-42",
            "occurred_at": "2026-11-01T12:00:00Z",
            "payload": {"ip": "203.0.113.77", "message": "contact jo@example.com"},
        },
        "not an event",
    ]
    body = "\n".join(json.dumps(e) for e in events)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{service.url}/v1/minimize?purpose=analytics",
            data=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/x-ndjson"},
        ) as resp:
            assert resp.status == 200
            assert resp.headers["X-Veil-Dead-Lettered"] == "1"
            text = await resp.text()
    assert "jo@example.com" not in text and "203.0.113.77" not in text
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["audit"]["purpose"] == "analytics"
    assert second["dead_letter"]["reason"] == "not_an_object"
    assert "not an event" not in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--listen", "nonsense"], "listen"),
        (["--upstream", "ftp://x"], "upstream"),
        (["--policy", "/nonexistent/policy.yaml"], "policy"),
        (["--purpose", "nope"], "purpose"),
        (["--consent-file", "/nonexistent/consent.jsonl"], "consent"),
    ],
)
def test_bad_configuration_exits_2(args: list[str], needle: str) -> None:
    out = subprocess.run(
        [str(VEIL), "sidecar", "--listen", "127.0.0.1:0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **KEYS},
        check=False,
    )
    assert out.returncode == 2
    assert needle in out.stderr


def test_workers_share_the_socket_and_stop_cleanly(tmp_path: Path) -> None:
    proc = start_sidecar(tmp_path, "--workers", "2", env=KEYS)
    try:
        workers = subprocess.run(
            ["pgrep", "-P", str(proc.proc.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert len(workers) == 2
        for _ in range(6):
            code, _headers, body = curl("--data-binary", f"@{CANON_JPEG}", f"{proc.url}/v1/strip")
            assert code == 200 and personal_tags(body) == set()
    finally:
        proc.proc.terminate()
        assert proc.proc.wait(timeout=20) == 0
        proc.stop()
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists()
