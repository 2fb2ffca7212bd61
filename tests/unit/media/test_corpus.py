"""Every supported corpus file strips losslessly; every unsupported one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import UnsupportedMedia
from pipeline.media import MediaPolicy, strip_media
from tests.unit.media.corpus import ids, pixels, refused, supported

SUPPORTED = supported()
REFUSED = refused()


def test_corpus_is_there() -> None:
    assert len(SUPPORTED) > 100
    assert len(REFUSED) > 10


@pytest.mark.parametrize("path", SUPPORTED, ids=ids(SUPPORTED))
def test_strip_keeps_pixels_and_removes_metadata(path: Path) -> None:
    data = path.read_bytes()
    result = strip_media(data, filename=path.name)
    assert result.data
    if result.media_type.startswith("image/"):
        before, after = pixels(data), pixels(result.data)
        if before is not None:  # a few exiftool test stubs carry no decodable image
            assert after == before
    # Stripping is idempotent: a second pass finds nothing more to remove of substance.
    again = strip_media(result.data, filename=path.name)
    assert again.data == result.data or again.media_type.startswith("video/")
    for category in ("location", "serial", "owner", "maker_notes", "thumbnail", "iptc"):
        assert category not in again.removed, (category, again.removed)


@pytest.mark.parametrize("path", REFUSED, ids=ids(REFUSED))
def test_unsupported_corpus_files_are_refused(path: Path) -> None:
    with pytest.raises(UnsupportedMedia) as info:
        strip_media(path.read_bytes(), filename=path.name)
    assert path.name in str(info.value)
    assert info.value.reason == "unsupported_media"


@pytest.mark.parametrize(
    ("name", "category", "tag"),
    [
        ("GPS.jpg", "location", "GPSInfo"),
        ("Canon.jpg", "maker_notes", "MakerNote"),
        ("GoPro.jpg", "serial", "BodySerialNumber"),
        ("IPTC.jpg", "location", "IPTC-City"),
        ("ExifTool.jpg", "thumbnail", "ThumbnailImage"),
        ("with-gps.mov", "location", "Keys:com.apple.quicktime.location.ISO6709"),
        ("with-gps.mp4", "location", "UserData:GPSCoordinates"),
        ("Issue_473_Java.webp", "location", "GPSInfo"),
        ("GeoTiff.tif", "location", "GeoKeyDirectoryTag"),
        ("PNG.png", "owner", "XMP-dc:creator"),
        ("IMG_5195.HEIC", "location", "GPSInfo"),
        ("exiftool-9.74-example.xmp", "location", "XMP-exif:GPSLatitude"),
    ],
)
def test_removed_names_by_category(name: str, category: str, tag: str) -> None:
    path = next(p for p in SUPPORTED if p.name == name)
    result = strip_media(path.read_bytes(), filename=name)
    assert tag in result.removed.get(category, ()), result.removed


def test_clean_file_reports_nothing_removed() -> None:
    path = next(p for p in SUPPORTED if p.name == "Writer.jpg")
    result = strip_media(path.read_bytes())
    assert dict(result.removed) == {}
    assert result.data == path.read_bytes()


@pytest.mark.parametrize("name", ["GPS.jpg", "Issue_473_Java.webp"])
def test_coarse_location_keeps_rounded_gps_only(name: str) -> None:
    path = next(p for p in SUPPORTED if p.name == name)
    data = path.read_bytes()
    dropped = strip_media(data, filename=name)
    coarse = strip_media(data, filename=name, policy=MediaPolicy(location="coarse"))
    assert "GPSLatitude(coarse)" in coarse.kept
    assert "GPSLatitude(coarse)" not in dropped.kept
    assert b"GPS" not in dropped.data or name.endswith(".webp")
    assert pixels(coarse.data) == pixels(data)


def test_keep_dates_policy() -> None:
    path = next(p for p in SUPPORTED if p.name == "Canon.jpg")
    kept = strip_media(path.read_bytes(), policy=MediaPolicy(keep_dates=True))
    dropped = strip_media(path.read_bytes())
    assert "DateTimeOriginal" in kept.kept
    assert "DateTimeOriginal" in dropped.removed["dates"]
    assert "dates" not in kept.removed or "DateTimeOriginal" not in kept.removed["dates"]


def test_policy_rejects_unknown_location_mode() -> None:
    with pytest.raises(ValueError, match="location"):
        MediaPolicy(location="exact")  # type: ignore[arg-type]
