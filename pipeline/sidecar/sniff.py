"""Decide whether a body is media, from its first bytes, never from its declared type.

This is routing only: it answers "must this body go through the stripper?". Which formats
can be stripped is the stripper's business (:func:`pipeline.media.strip_media` raises
``UnsupportedMedia`` for the rest, and the sidecar refuses them). The table therefore lists
more image and video signatures than the stripper supports, on purpose: a video format we
cannot strip must be refused, not passed through as "not media".
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Final

# Enough bytes for every signature below (ISO-BMFF needs the brand at 8..12; an XMP packet
# may start after a byte-order mark and some white space).
SNIFF_BYTES: Final = 64

# Declared types that claim media. A claim that the bytes do not back is refused.
_MEDIA_TYPE_PREFIXES: Final = ("image/", "video/")
_MEDIA_EXTENSIONS: Final = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".tif", ".tiff",
        ".heic", ".heif", ".avif", ".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2",
        ".bmp", ".dng", ".cr2", ".nef", ".arw", ".jxl", ".jp2", ".mkv", ".webm", ".avi",
        ".wmv", ".svg", ".xmp",
    }
)  # fmt: skip
_IMAGE_BRANDS: Final = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1",
                           b"msf1", b"avif", b"avis", b"jxl "})  # fmt: skip
_MAX_PLAUSIBLE_FIRST_ATOM: Final = 0x20000000
_XMP_START: Final = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xpacket|<x:xmpmeta|<x:xapmeta)")
_QUICKTIME_ATOMS: Final = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


class MediaKind(StrEnum):
    """What a body is, for routing."""

    IMAGE = "image"
    VIDEO = "video"
    METADATA = "metadata"  # an XMP sidecar: photo metadata without the photo
    OTHER = "other"


def sniff(head: bytes) -> MediaKind:
    """Classify a body by its first bytes (pass at least :data:`SNIFF_BYTES` when available).

    Returns:
        IMAGE or VIDEO when the bytes start like an image or video container, METADATA for
        an XMP sidecar packet, else OTHER.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return MediaKind.IMAGE  # JPEG
    if head.startswith((b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"8BPS")):
        return MediaKind.IMAGE
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return MediaKind.IMAGE  # TIFF, BigTIFF and the raw formats built on them
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cjP  ", b"\x00\x00\x00\x0cJXL ")):
        return MediaKind.IMAGE  # JPEG XL, JPEG 2000
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return MediaKind.IMAGE
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return MediaKind.VIDEO
    if head.startswith((b"\x1a\x45\xdf\xa3", b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", b"FLV\x01")):
        return MediaKind.VIDEO  # Matroska/WebM, ASF/WMV, FLV
    box = head[4:8]
    if box == b"ftyp":
        return MediaKind.IMAGE if head[8:12] in _IMAGE_BRANDS else MediaKind.VIDEO
    if box in _QUICKTIME_ATOMS:
        # Old QuickTime files may start with a top-level atom instead of ftyp. The size bound
        # keeps text such as "the free ..." (size would be >= 0x20000000) from matching.
        size = int.from_bytes(head[:4], "big")
        if size in (0, 1) or 8 <= size < _MAX_PLAUSIBLE_FIRST_ATOM:
            return MediaKind.VIDEO
    if _XMP_START.match(head):
        return MediaKind.METADATA
    return MediaKind.OTHER


def claims_media(content_type: str | None, filename: str | None) -> bool:
    """Return True when the declared type or file name says "image" or "video".

    Such a body must sniff as media; if it does not, the declaration lies and the body is
    refused rather than forwarded.
    """
    if content_type:
        main = content_type.split(";", 1)[0].strip().lower()
        if main.startswith(_MEDIA_TYPE_PREFIXES):
            return True
    if filename:
        return PurePosixPath(filename.replace("\\", "/")).suffix.lower() in _MEDIA_EXTENSIONS
    return False
