"""media_upload and attachments (P2, P8, P10): bytes are stripped, never forwarded as received."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

import exifread
import pytest

from pipeline.errors import CorruptMedia, Reason, RecordError, UnsupportedMedia
from pipeline.minimizer import MinimizeContext
from tests.conftest import CORPUS
from tests.unit.minimizer.conftest import Run

GPS_JPEG = CORPUS / "media" / "ianare+exif-samples" / "jpg" / "gps" / "DSCN0010.jpg"


def _upload(**payload: Any) -> dict[str, Any]:
    return {
        "event_id": "m-1",
        "kind": "media_upload",
        "user_id": "u-1",
        "occurred_at": "2026-11-02T10:00:00Z",
        "payload": {"filename": "photo.jpg", "content_type": "image/jpeg", **payload},
    }


def _gps_tags(data: bytes) -> dict[str, str]:
    tags = exifread.process_file(io.BytesIO(data), details=False)
    return {k: str(v) for k, v in tags.items() if k.startswith("GPS GPSL")}


@pytest.fixture(scope="module")
def jpeg() -> bytes:
    if not GPS_JPEG.exists():
        pytest.skip(f"corpus file missing: {GPS_JPEG}")
    data = GPS_JPEG.read_bytes()
    assert _gps_tags(data), "the fixture must carry GPS"
    return data


def test_p8_p10_inline_media_stripped_of_gps_without_location_consent(
    run: Run, jpeg: bytes
) -> None:
    result = run(_upload(content_b64=base64.b64encode(jpeg).decode()), "security")
    assert result.event is not None
    out = base64.b64decode(result.event["payload"]["content_b64"])
    assert out != jpeg and not _gps_tags(out)
    assert "location" in result.audit.media["payload.content_b64"]


def test_p10_location_consent_keeps_gps_coarsened(run: Run, jpeg: bytes) -> None:
    result = run(_upload(content_b64=base64.b64encode(jpeg).decode()), "service", "location")
    assert result.event is not None
    out = base64.b64decode(result.event["payload"]["content_b64"])
    before, after = _gps_tags(jpeg), _gps_tags(out)
    assert after, "coarse GPS kept with location consent"
    assert after != before  # never the precise position


def test_content_ref_is_resolved_stripped_and_never_forwarded(
    run: Run, ctx: MinimizeContext, jpeg: bytes
) -> None:
    calls: list[str] = []

    def resolve(ref: str) -> bytes:
        calls.append(ref)
        return jpeg

    context = MinimizeContext(keys=ctx.keys, now=ctx.now, resolve_media_ref=resolve)
    result = run(_upload(content_ref="s3://bucket/raw/1.jpg"), "security", context=context)
    assert calls == ["s3://bucket/raw/1.jpg"]
    assert result.event is not None
    assert "content_ref" not in result.event["payload"]
    assert not _gps_tags(base64.b64decode(result.event["payload"]["content_b64"]))


def _failing(exc: Exception) -> Callable[[str], bytes]:
    def resolve(ref: str) -> bytes:
        raise exc

    return resolve


@pytest.mark.parametrize("resolver", [None, _failing(OSError("gone"))])
def test_unresolvable_ref_is_media_unavailable(
    run: Run, ctx: MinimizeContext, resolver: Callable[[str], bytes] | None
) -> None:
    context = MinimizeContext(keys=ctx.keys, now=ctx.now, resolve_media_ref=resolver)
    with pytest.raises(RecordError) as info:
        run(_upload(content_ref="s3://bucket/raw/1.jpg"), "security", context=context)
    assert info.value.reason is Reason.MEDIA_UNAVAILABLE


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00garbage", CorruptMedia),
        (b"%PDF-1.7 not a photo", UnsupportedMedia),
    ],
)
def test_corrupt_or_unsupported_media_fail_closed(
    run: Run, data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        run(_upload(content_b64=base64.b64encode(data).decode()), "security")


def test_content_b64_that_is_not_base64_is_wrong_type(run: Run) -> None:
    with pytest.raises(RecordError) as info:
        run(_upload(content_b64="not base64 !!"), "security")
    assert info.value.reason is Reason.WRONG_TYPE


def test_p2_attachments_in_communication_are_stripped(run: Run, jpeg: bytes) -> None:
    event = {
        "event_id": "c-1",
        "kind": "communication",
        "user_id": "u-1",
        "occurred_at": "2026-11-02T10:00:00Z",
        "payload": {
            "channel": "chat",
            "attachments": [{"filename": "a.jpg", "content_b64": base64.b64encode(jpeg).decode()}],
        },
    }
    result = run(event, "security")
    assert result.event is not None
    out = base64.b64decode(result.event["payload"]["attachments"][0]["content_b64"])
    assert not _gps_tags(out)
    analytics = run(event, "analytics").event
    assert analytics is not None and "attachments" not in analytics["payload"]
