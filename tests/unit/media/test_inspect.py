"""Inspection reports what a file carries, by category, values only when asked."""

from __future__ import annotations

import pytest

from detectors.media_inspect import inspect_media
from pipeline.cli.main import main
from pipeline.errors import UnsupportedMedia
from tests.unit.media.corpus import MEDIA

GPS_JPG = MEDIA / "exiftool+exiftool/t/images/GPS.jpg"
MOV = MEDIA / "drewnoakes+metadata-extractor-images/mov/with-gps.mov"
WRITER = MEDIA / "exiftool+exiftool/t/images/Writer.jpg"


@pytest.mark.parametrize(
    ("path", "category", "name"),
    [
        (GPS_JPG, "location", "EXIF-GPS:GPSLatitude"),  # exifread
        (GPS_JPG, "location", "IPTC-City"),  # own IPTC parser
        (MOV, "location", "Keys:com.apple.quicktime.location.ISO6709"),  # own QuickTime parser
    ],
)
def test_inspect_finds_by_category(path: object, category: str, name: str) -> None:
    report = inspect_media(path.read_bytes(), filename=path.name)  # type: ignore[attr-defined]
    assert name in report.found[category]
    assert dict(report.values) == {}


def test_clean_file_has_nothing_to_report() -> None:
    assert dict(inspect_media(WRITER.read_bytes()).found) == {}


def test_values_only_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(GPS_JPG)]) == 0
    hidden = capsys.readouterr().out
    assert main(["inspect", "--show-values", str(GPS_JPG)]) == 0
    shown = capsys.readouterr().out
    assert "EXIF-GPS:GPSLatitude\n" in hidden and " = " not in hidden
    assert "EXIF-GPS:GPSLatitude = " in shown


def test_inspect_refuses_unsupported(capsys: pytest.CaptureFixture[str]) -> None:
    pdf = MEDIA / "exiftool+exiftool/t/images/PDF.pdf"
    with pytest.raises(UnsupportedMedia):
        inspect_media(pdf.read_bytes(), filename=pdf.name)
    assert main(["inspect", str(pdf)]) == 1
    assert "PDF.pdf: unsupported format PDF" in capsys.readouterr().err
