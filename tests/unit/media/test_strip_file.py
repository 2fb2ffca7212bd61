"""strip_file: atomic output, nothing written on failure, same bytes as strip_media."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import CorruptMedia, UnsupportedMedia
from pipeline.media import strip_file, strip_media
from tests.unit.media.corpus import MEDIA

MP4 = MEDIA / "drewnoakes+metadata-extractor-images/mp4/with-gps.mp4"
JPG = MEDIA / "ianare+exif-samples/jpg/gps/DSCN0010.jpg"


@pytest.mark.parametrize("src", [MP4, JPG], ids=["mp4", "jpg"])
def test_strip_file_matches_strip_media(src: Path, tmp_path: Path) -> None:
    res = strip_file(src, tmp_path / src.name)
    assert res.data == b""
    assert (tmp_path / src.name).read_bytes() == strip_media(src.read_bytes()).data
    assert "location" in res.removed


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"", CorruptMedia),
        (b"%PDF-1.7 ...", UnsupportedMedia),
        (MP4.read_bytes()[:5000], CorruptMedia),
    ],
    ids=["empty", "pdf", "truncated-mp4"],
)
def test_failure_leaves_no_output(content: bytes, error: type[Exception], tmp_path: Path) -> None:
    src = tmp_path / "in" / "clip.mp4"
    src.parent.mkdir()
    src.write_bytes(content)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(error):
        strip_file(src, out / "clip.mp4")
    assert list(out.iterdir()) == []
