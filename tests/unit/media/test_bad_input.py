"""Hostile and broken input is refused with a clear, value-free error; never a crash or hang."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from pipeline.errors import CorruptMedia, MediaError, UnsupportedMedia
from pipeline.media import strip_media


def _image(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buf, fmt, **kw)
    return buf.getvalue()


JPEG, PNG, WEBP, TIFF = (
    _image("JPEG"),
    _image("PNG"),
    _image("WEBP", lossless=True),
    _image("TIFF"),
)


def _png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png_huge() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def _png_bad_crc() -> bytes:
    data = bytearray(PNG)
    data[29] ^= 0xFF  # inside the IHDR CRC
    return bytes(data)


def _tiff(entries: list[tuple[int, int, int, int]], next_ifd: int = 0, at: int = 8) -> bytes:
    body = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        body += struct.pack("<HHII", tag, typ, count, value)
    return b"II*\x00" + struct.pack("<I", at) + body + struct.pack("<I", next_ifd)


def _tiff_loop() -> bytes:
    return _tiff([(256, 4, 1, 8), (257, 4, 1, 8), (273, 4, 1, 8), (279, 4, 1, 8)], next_ifd=8)


def _tiff_huge() -> bytes:
    return _tiff([(256, 4, 1, 100_000), (257, 4, 1, 100_000), (273, 4, 1, 8), (279, 4, 1, 4)])


def _tiff_strip_past_end() -> bytes:
    return _tiff([(256, 4, 1, 2), (257, 4, 1, 2), (273, 4, 1, 8), (279, 4, 1, 100_000)])


def _jpeg_exif_loop() -> bytes:
    exif = b"Exif\x00\x00" + _tiff([(0x112, 3, 1, 1)], next_ifd=8)
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return JPEG[:2] + app1 + JPEG[2:]


def _jpeg_huge() -> bytes:
    i = JPEG.index(b"\xff\xc0")
    return JPEG[: i + 5] + b"\xff\xff\xff\xff" + JPEG[i + 9 :]


def _webp_huge() -> bytes:
    vp8x = bytes((0, 0, 0, 0)) + (100_000 - 1).to_bytes(3, "little") * 2
    body = b"VP8X" + struct.pack("<I", 10) + vp8x + WEBP[12:]
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _mp4(boxes: bytes) -> bytes:
    return struct.pack(">I", 16) + b"ftypisom" + b"\x00\x00\x02\x00" + boxes


CASES: list[tuple[str, Callable[[], bytes], type[MediaError], str]] = [
    ("zero-byte", lambda: b"", CorruptMedia, "empty"),
    ("jpeg truncated", lambda: JPEG[: len(JPEG) // 2], CorruptMedia, "past the end"),
    ("jpeg segment past end", lambda: JPEG[:2] + b"\xff\xe1\xff\xf0abc", CorruptMedia, "past"),
    ("jpeg no EOI", lambda: JPEG[:-2], CorruptMedia, "EOI"),
    ("jpeg exif IFD loop", _jpeg_exif_loop, CorruptMedia, "loop"),
    ("jpeg 4G pixels", _jpeg_huge, CorruptMedia, "dimensions"),
    ("png truncated", lambda: PNG[:40], CorruptMedia, "PNG"),
    ("png bad crc", _png_bad_crc, CorruptMedia, "CRC"),
    ("png 100k x 100k", _png_huge, CorruptMedia, "dimensions"),
    ("webp riff past end", lambda: WEBP[:4] + b"\xff\xff\xff\x00" + WEBP[8:], CorruptMedia, "RIFF"),
    ("webp truncated", lambda: WEBP[:-5], CorruptMedia, "RIFF"),
    ("webp 100k canvas", _webp_huge, CorruptMedia, "canvas"),
    ("tiff ifd loop", _tiff_loop, CorruptMedia, "loop"),
    ("tiff ifd past end", lambda: b"II*\x00" + struct.pack("<I", 9999), CorruptMedia, "past"),
    ("tiff strip past end", _tiff_strip_past_end, CorruptMedia, "past the end"),
    ("tiff 100k x 100k", _tiff_huge, CorruptMedia, "dimensions"),
    ("mp4 no moov", lambda: _mp4(struct.pack(">I", 8) + b"mdat"), CorruptMedia, "moov"),
    ("mp4 box past end", lambda: _mp4(struct.pack(">I", 999) + b"moov"), CorruptMedia, "past"),
    (
        "heic truncated",
        lambda: struct.pack(">I", 24) + b"ftypheic" + bytes(8) + b"\x00\x00\x01\x00meta",
        CorruptMedia,
        "truncated",
    ),
    (
        "xmp with DTD",
        lambda: b'<?xpacket begin=""?><!DOCTYPE x [<!ENTITY a "b">]><rdf:RDF/>',
        CorruptMedia,
        "DTD",
    ),
    ("pdf", lambda: b"%PDF-1.4\n...", UnsupportedMedia, "PDF"),
    ("docx", lambda: b"PK\x03\x04" + bytes(30), UnsupportedMedia, "Office"),
    ("gif", lambda: b"GIF89a" + bytes(20), UnsupportedMedia, "GIF"),
    ("random bytes", lambda: bytes(range(64)), UnsupportedMedia, "unrecognised"),
]


@pytest.mark.parametrize(("case", "make", "error", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_reason(
    case: str, make: Callable[[], bytes], error: type[MediaError], words: str
) -> None:
    with pytest.raises(error) as info:
        strip_media(make(), filename="upload.bin")
    message = str(info.value)
    assert message.startswith("upload.bin:"), message
    assert words.lower() in message.lower(), message


@pytest.mark.parametrize(
    ("data", "name", "ctype"),
    [
        (PNG, "photo.jpg", None),
        (JPEG, "photo.png", None),
        (JPEG, "clip.mp4", None),
        (TIFF, "x.webp", None),
        (JPEG, None, "image/png"),
        (PNG, "scan.dng", None),  # RAW extension: refused whatever the body
    ],
)
def test_lying_name_or_type_is_refused(data: bytes, name: str | None, ctype: str | None) -> None:
    with pytest.raises(UnsupportedMedia):
        strip_media(data, filename=name, content_type=ctype)


@pytest.mark.parametrize(
    ("data", "name", "ctype", "expected"),
    [
        (PNG, "photo.png", "image/png", "image/png"),
        (JPEG, "photo.JPEG", "image/jpeg", "image/jpeg"),
        (JPEG, "upload", None, "image/jpeg"),
        (WEBP, "a.bin", "application/octet-stream", "image/webp"),
        (TIFF, "scan.tif", None, "image/tiff"),
    ],
)
def test_truthful_or_unknown_names_are_accepted(
    data: bytes, name: str, ctype: str | None, expected: str
) -> None:
    assert strip_media(data, filename=name, content_type=ctype).media_type == expected


def test_non_bytes_input_is_refused() -> None:
    with pytest.raises(CorruptMedia, match="must be bytes"):
        strip_media("not bytes")  # type: ignore[arg-type]
