"""Routing by magic bytes, and declared types that claim media."""

from __future__ import annotations

import pytest

from pipeline.sidecar.sniff import MediaKind, claims_media, sniff


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\xff\xd8\xff\xe1\x00\x10Exif", MediaKind.IMAGE),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", MediaKind.IMAGE),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", MediaKind.IMAGE),
        (b"II*\x00\x08\x00\x00\x00", MediaKind.IMAGE),
        (b"MM\x00*\x00\x00\x00\x08", MediaKind.IMAGE),
        (b"GIF89a\x01\x00", MediaKind.IMAGE),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", MediaKind.IMAGE),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", MediaKind.IMAGE),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", MediaKind.VIDEO),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", MediaKind.VIDEO),
        (b"\x00\x00\x00\x08wide\x00\x00\x10\x00mdat", MediaKind.VIDEO),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00", MediaKind.VIDEO),
        (b"RIFF\x10\x00\x00\x00AVI LIST", MediaKind.VIDEO),
        (b"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>", MediaKind.METADATA),
        (b"\xef\xbb\xbf  <x:xmpmeta xmlns:x='adobe:ns:meta/'>", MediaKind.METADATA),
        # Negatives: text and documents are not media, whatever they mention.
        (b"the free software foundation", MediaKind.OTHER),  # "free" at offset 4
        (b"just mdat text here", MediaKind.OTHER),
        (b'{"image": "jpeg"}', MediaKind.OTHER),
        (b"%PDF-1.7\n", MediaKind.OTHER),
        (b"PK\x03\x04\x14\x00", MediaKind.OTHER),
        (b"<html><body>", MediaKind.OTHER),
        (b"\xff\xd8", MediaKind.OTHER),  # too short to be a JPEG marker
        (b"", MediaKind.OTHER),
    ],
)
def test_sniff(head: bytes, kind: MediaKind) -> None:
    assert sniff(head) is kind


@pytest.mark.parametrize(
    ("content_type", "filename", "claims"),
    [
        ("image/jpeg", None, True),
        ("Image/PNG; charset=binary", None, True),
        ("video/mp4", None, True),
        (None, "holiday.JPG", True),
        (None, "C:\\Users\\me\\clip.mov", True),
        ("application/octet-stream", "photo.heic", True),
        ("application/octet-stream", None, False),
        ("text/plain", "notes.txt", False),
        ("application/json", None, False),
        (None, "archive.tar.gz", False),
        (None, None, False),
        ("", "", False),
    ],
)
def test_claims_media(content_type: str | None, filename: str | None, claims: bool) -> None:
    assert claims_media(content_type, filename) is claims
