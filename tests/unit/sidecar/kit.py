"""Test kit of the sidecar tests: corpus files, multipart bodies, GPS and pixel checks."""

from __future__ import annotations

import io
import uuid

from PIL import Image

from tests.conftest import CORPUS

MEDIA = CORPUS / "media"
GPS_JPEG = MEDIA / "ianare+exif-samples/jpg/gps/DSCN0010.jpg"
CANON_JPEG = MEDIA / "exiftool+exiftool/t/images/Canon.jpg"
GPS_IFD = 0x8825
EXIF_IFD = 0x8769
# EXIF tags that name a person or a device (Artist, Copyright, camera owner, serial numbers).
PERSONAL_TAGS = {0x013B: "Artist", 0xA430: "CameraOwnerName", 0xA431: "BodySerialNumber",
                 0xA435: "LensSerialNumber", 0x927C: "MakerNote"}  # fmt: skip


def multipart(
    *parts: tuple[str, str | None, str | None, bytes], boundary: str | None = None
) -> tuple[bytes, str]:
    """Build a multipart/form-data body from ``(name, filename, content_type, data)``.

    Returns:
        The body and its Content-Type header value.
    """
    boundary = boundary or "veiltest" + uuid.uuid4().hex
    out = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type is not None:
            out += f"Content-Type: {content_type}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def gps(data: bytes) -> dict[int, object]:
    """The GPS IFD of a JPEG as Pillow reads it (empty when there is none)."""
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(GPS_IFD))


def personal_tags(data: bytes) -> set[str]:
    """Names of person/device-identifying EXIF tags present in ``data``."""
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        present = set(exif) | set(exif.get_ifd(EXIF_IFD))
    return {name for tag, name in PERSONAL_TAGS.items() if tag in present}


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """Decoded mode, size and pixel bytes (equal for a lossless strip)."""
    with Image.open(io.BytesIO(data)) as img:
        return img.mode, img.size, img.tobytes()


def degrees(value: object) -> float:
    """A GPS (degrees, minutes, seconds) rational triple as decimal degrees."""
    d, m, s = (float(x) for x in value)  # type: ignore[attr-defined]
    return d + m / 60 + s / 3600
