"""``veil sidecar --upstream`` as a real process in front of a real upload service.

Uploads go through the proxy from the aiohttp client and from ``curl``; what the upstream
stored is checked with exiftool (no GPS, serials or owner names) and Pillow (same pixels).
Bad inputs get the right status and the upstream never receives the unstripped bytes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from pipeline.sidecar.testing import Proc, Upstream, start_sidecar, start_upstream
from tests.unit.sidecar.kit import CANON_JPEG, GPS_JPEG, multipart, pixels

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool not installed"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed"),
]

KEYS = {"VEIL_PSEUDONYM_KEY": "integration-test-key-0123456789"}
# Tags that name a person or a device, wherever exiftool finds them.
FORBIDDEN = ("Serial", "OwnerName", "Artist", "By-line", "Creator", "Copyright")
# The colour profile is kept on purpose (display needs it); its "creator" is the profile
# vendor (e.g. Apple), not a person.
KEPT_GROUPS = ("ICC-header:", "ICC_Profile:", "ICC-")


def identifying(tags: dict[str, Any]) -> list[str]:
    """Tag keys that name a person or a device."""
    return [
        k for k in tags if not k.startswith(KEPT_GROUPS) and any(word in k for word in FORBIDDEN)
    ]


PII_QUERY = "jo.secret@example.com"
PII_USER = "user-9f3e-secret"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sidecar")


@pytest.fixture(scope="module")
def upstream(workdir: Path) -> Iterator[Upstream]:
    proc = start_upstream(workdir)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sidecar(workdir: Path, upstream: Upstream) -> Iterator[Proc]:
    proc = start_sidecar(
        workdir,
        "--upstream", upstream.url,
        "--max-body", "1MiB",
        "--request-timeout", "2",
        env=KEYS,
    )  # fmt: skip
    yield proc
    proc.stop()


def exif(data: bytes, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "check.jpg"
    path.write_bytes(data)
    out = subprocess.run(
        ["exiftool", "-j", "-G1", "-a", "-n", str(path)], capture_output=True, check=True
    )
    tags: dict[str, Any] = json.loads(out.stdout)[0]
    return tags


def assert_clean(
    data: bytes, original: bytes, tmp_path: Path, *, gps_allowed: bool = False
) -> None:
    tags = exif(data, tmp_path)
    assert identifying(tags) == []
    gps_tags = sorted(k for k in tags if k.startswith("GPS:"))
    if gps_allowed:
        assert "GPS:GPSLatitude" in gps_tags and "GPS:GPSAltitude" not in gps_tags
        for key in ("GPS:GPSLatitude", "GPS:GPSLongitude"):
            assert round(tags[key], 2) == pytest.approx(tags[key], abs=1e-6)
    else:
        assert gps_tags == []
    assert pixels(data) == pixels(original)
    assert data != original


def new_files(upstream: Upstream, before: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = upstream.entries()[before:]  # type: ignore[assignment]
    return [f for entry in entries for f in entry["files"]]  # type: ignore[index]


def read_stored(upstream: Upstream, file: dict[str, Any]) -> bytes:
    return (upstream.store / file["file"]).read_bytes()


def never_stored(upstream: Upstream, *originals: bytes) -> None:
    for stored in upstream.stored_bytes():
        for original in originals:
            # Neither the file nor its EXIF block (the first 4 KiB after SOI) arrived.
            assert stored != original
            assert original[2:4096] not in stored


def curl(*args: str) -> tuple[int, bytes]:
    out = subprocess.run(
        ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )
    body, _, code = out.stdout.rpartition(b"\n")
    return int(code or b"0"), body


async def test_aiohttp_raw_and_multipart_uploads_are_stripped(
    sidecar: Proc, upstream: Upstream, tmp_path: Path
) -> None:
    before = len(upstream.entries())
    gps_jpeg, canon = GPS_JPEG.read_bytes(), CANON_JPEG.read_bytes()
    body, ctype = multipart(
        ("title", None, None, b"holiday"),
        ("photo", "DSCN0010.jpg", "image/jpeg", gps_jpeg),
        ("camera", "Canon.jpg", "image/jpeg", canon),
    )
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"{sidecar.url}/photos/1?owner={PII_QUERY}",
            data=gps_jpeg,
            headers={"Content-Type": "image/jpeg", "X-Veil-User": PII_USER},
        ) as resp:
            assert resp.status == 200
        async with session.post(
            f"{sidecar.url}/upload", data=body, headers={"Content-Type": ctype}
        ) as resp:
            assert resp.status == 200
    files = new_files(upstream, before)
    assert len(files) == 4
    assert_clean(read_stored(upstream, files[0]), gps_jpeg, tmp_path)
    assert read_stored(upstream, files[1]) == b"holiday"
    assert_clean(read_stored(upstream, files[2]), gps_jpeg, tmp_path)
    assert_clean(read_stored(upstream, files[3]), canon, tmp_path)
    entry = upstream.entries()[before]
    assert entry["path_qs"] == f"/photos/1?owner={PII_QUERY}"  # the upstream gets it all
    assert "location" in entry["headers"]["X-Veil-Removed"]  # type: ignore[index]


def test_curl_raw_and_multipart_uploads_are_stripped(
    sidecar: Proc, upstream: Upstream, tmp_path: Path
) -> None:
    before = len(upstream.entries())
    code, _ = curl(
        "--data-binary", f"@{CANON_JPEG}", "-H", "Content-Type: application/octet-stream",
        f"{sidecar.url}/raw",
    )  # fmt: skip
    assert code == 200
    code, _ = curl(
        "-F", f"photo=@{GPS_JPEG};type=image/jpeg", "-F", "title=hello",
        f"{sidecar.url}/upload",
    )  # fmt: skip
    assert code == 200
    files = new_files(upstream, before)
    assert_clean(read_stored(upstream, files[0]), CANON_JPEG.read_bytes(), tmp_path)
    assert files[1]["filename"] == "DSCN0010.jpg"
    assert_clean(read_stored(upstream, files[1]), GPS_JPEG.read_bytes(), tmp_path)
    assert read_stored(upstream, files[2]) == b"hello"


def test_location_consent_keeps_coarse_gps_as_the_policy_allows(
    sidecar: Proc, upstream: Upstream, tmp_path: Path
) -> None:
    # The default policy's "service" purpose keeps location only with the location consent.
    before = len(upstream.entries())
    for header in ("location=granted", "location=denied"):
        code, _ = curl(
            "-H", f"X-Veil-Consent: {header}",
            "-F", f"photo=@{GPS_JPEG};type=image/jpeg", f"{sidecar.url}/upload",
        )  # fmt: skip
        assert code == 200
    granted, denied = new_files(upstream, before)
    original = GPS_JPEG.read_bytes()
    assert_clean(read_stored(upstream, granted), original, tmp_path, gps_allowed=True)
    assert_clean(read_stored(upstream, denied), original, tmp_path, gps_allowed=False)
    lat = exif(read_stored(upstream, granted), tmp_path)["GPS:GPSLatitude"]
    assert lat == pytest.approx(43.47, abs=0.006)  # DSCN0010: 43 deg 28' 2.81" N


@pytest.mark.parametrize(
    ("args", "status"),
    [
        # A text file that claims to be a JPEG.
        (["-F", "photo=@{text};type=image/jpeg"], 415),
        (["--data-binary", "@{text}", "-H", "Content-Type: image/jpeg"], 415),
        # A JPEG cut short.
        (["-F", "photo=@{corrupt};type=image/jpeg"], 422),
        (["--data-binary", "@{corrupt}", "-H", "Content-Type: image/jpeg"], 422),
        # Over the 1 MiB limit, raw and multipart.
        (["--data-binary", "@{big}", "-H", "Content-Type: image/jpeg"], 413),
        (["-F", "photo=@{big};type=image/jpeg"], 413),
    ],
)
def test_curl_bad_inputs_never_reach_upstream(
    sidecar: Proc, upstream: Upstream, tmp_path: Path, args: list[str], status: int
) -> None:
    text = tmp_path / "notes.jpg"
    text.write_bytes(b"not a jpeg, just words " * 10)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(GPS_JPEG.read_bytes()[:6000])
    big = tmp_path / "big.jpg"
    big.write_bytes(GPS_JPEG.read_bytes() * 8)  # 1.3 MB, starts as a real JPEG
    before = len(upstream.entries())
    filled = [a.format(text=text, corrupt=corrupt, big=big) for a in args]
    code, body = curl(*filled, f"{sidecar.url}/upload")
    assert code == status
    assert json.loads(body)["error"]
    assert len(upstream.entries()) == before
    never_stored(upstream, GPS_JPEG.read_bytes())


async def test_truncated_multipart_is_400(sidecar: Proc, upstream: Upstream) -> None:
    before = len(upstream.entries())
    body, ctype = multipart(("photo", "a.jpg", "image/jpeg", GPS_JPEG.read_bytes()))
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{sidecar.url}/upload", data=body[:-30], headers={"Content-Type": ctype}
        ) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == "truncated_multipart"
    assert len(upstream.entries()) == before
    never_stored(upstream, GPS_JPEG.read_bytes())


async def test_slow_client_gets_408(sidecar: Proc, upstream: Upstream) -> None:
    before = len(upstream.entries())
    host, port = sidecar.url.removeprefix("http://").rsplit(":", 1)
    data = GPS_JPEG.read_bytes()
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
        + f"Content-Length: {len(data)}\r\n\r\n".encode()
    )
    for i in range(0, 3000, 500):  # trickle 3 KB, then stall
        writer.write(data[i : i + 500])
        await writer.drain()
        await asyncio.sleep(0.1)
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.split()[1] == b"408"
    assert len(upstream.entries()) == before


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_upstream_down_is_502_without_leaking_the_body(workdir: Path) -> None:
    proc = start_sidecar(workdir, "--upstream", f"http://127.0.0.1:{_dead_port()}", env=KEYS)
    try:
        secret = b"card 4111 1111 1111 1111 for jo@example.com"
        code, body = curl("--data-binary", secret.decode(), f"{proc.url}/notes")
        assert code == 502
        assert json.loads(body)["error"] == "upstream_unavailable"
        code, body = curl("-F", f"photo=@{GPS_JPEG};type=image/jpeg", f"{proc.url}/upload")
        assert code == 502
    finally:
        proc.stop()
    log = proc.stderr()
    assert "4111" not in log and "example.com" not in log
    assert "status=502" in log


def _stderr_once_it_has(proc: Proc, text: str, timeout: float = 5.0) -> str:
    """The process's stderr once ``text`` is in it (or after ``timeout``): the access log
    is written in batches, flushed every second."""
    deadline = time.monotonic() + timeout
    while True:
        log = proc.stderr()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.1)


def test_access_log_has_no_pii(sidecar: Proc) -> None:
    # Runs after the uploads above (same module-scoped sidecar), which is still running:
    # the lines must arrive through the periodic flush, not the one at exit.
    log = _stderr_once_it_has(sidecar, "status=413")
    assert "method=PUT path=/photos/1?owner= status=200" in log
    assert PII_QUERY not in log and PII_USER not in log
    assert "127.0.0.1" not in log  # no client addresses
    assert "status=415" in log and "status=413" in log


def test_consent_snapshot_is_most_restrictive(
    workdir: Path, upstream: Upstream, tmp_path: Path
) -> None:
    snapshot = tmp_path / "consent.jsonl"
    when = "2026-11-01T00:00:00Z"
    snapshot.write_text(
        json.dumps({"user_id": "u-yes", "consent": {"location": True}, "updated_at": when})
        + "\n"
        + json.dumps({"user_id": "u-no", "consent": {"location": False}, "updated_at": when})
        + "\n",
        encoding="utf-8",
    )
    proc = start_sidecar(
        workdir, "--upstream", upstream.url, "--consent-file", str(snapshot), env=KEYS
    )
    before = len(upstream.entries())
    try:
        for user in ("u-yes", "u-no", "u-unknown"):
            code, _ = curl(
                "-H", "X-Veil-Consent: location=granted", "-H", f"X-Veil-User: {user}",
                "--data-binary", f"@{GPS_JPEG}", f"{proc.url}/upload",
            )  # fmt: skip
            assert code == 200
    finally:
        proc.stop()
    yes, no, unknown = new_files(upstream, before)
    original = GPS_JPEG.read_bytes()
    assert_clean(read_stored(upstream, yes), original, tmp_path, gps_allowed=True)
    assert_clean(read_stored(upstream, no), original, tmp_path)
    assert_clean(read_stored(upstream, unknown), original, tmp_path)


VIDEO_AND_HEIC = [
    ("video", "drewnoakes+metadata-extractor-images/mp4/with-gps.mp4", "video/mp4"),
    ("movie", "drewnoakes+metadata-extractor-images/mov/with-gps.mov", "video/quicktime"),
    ("heic", "ianare+exif-samples/heic/IMG_5195.HEIC", "image/heic"),
]


def test_curl_video_and_heic_parts_are_stripped(
    sidecar: Proc, upstream: Upstream, tmp_path: Path
) -> None:
    from tests.unit.sidecar.kit import MEDIA

    before = len(upstream.entries())
    for name, rel, ctype in VIDEO_AND_HEIC:  # one request each: the limit here is 1 MiB
        assert any("GPS" in k for k in exif((MEDIA / rel).read_bytes(), tmp_path))
        code, body = curl("-F", f"{name}=@{MEDIA / rel};type={ctype}", f"{sidecar.url}/upload")
        assert code == 200, body
    files = new_files(upstream, before)
    assert [f["name"] for f in files] == [name for name, _, _ in VIDEO_AND_HEIC]
    for file, (_, rel, _) in zip(files, VIDEO_AND_HEIC, strict=True):
        stored = read_stored(upstream, file)
        tags = exif(stored, tmp_path)
        assert identifying(tags) == [] and [k for k in tags if "GPS" in k] == []
        assert stored != (MEDIA / rel).read_bytes()
