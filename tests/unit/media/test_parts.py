"""A strip's output as pieces: the JPEG's image data is a view of the input, not a copy."""

from __future__ import annotations

from pipeline.media import strip_media
from pipeline.media.jpeg import strip_jpeg, strip_jpeg_parts
from pipeline.media.policy import MediaPolicy, Removals
from tests.unit.media.corpus import MEDIA

GPS_JPEG = MEDIA / "ianare+exif-samples/jpg/gps/DSCN0010.jpg"


def test_jpeg_pieces_join_to_the_stripped_file_and_view_the_input() -> None:
    data = GPS_JPEG.read_bytes()
    result = strip_media(data)
    parts = result.parts
    assert len(parts) > 2 and result.size == sum(len(p) for p in parts)
    views = [p for p in parts if isinstance(p, memoryview)]
    assert len(views) == 1 and views[0].obj is data  # the image data, not copied
    assert views[0].nbytes > len(data) // 2
    joined = b"".join(parts)
    assert joined == strip_jpeg(data, MediaPolicy(), Removals(), "t")
    assert result.data == joined and result.size == len(joined)
    assert result.parts == (result.data,)  # joined once; the input is no longer held
    assert b"".join(strip_jpeg_parts(data, MediaPolicy(), Removals(), "t")) == joined


def test_results_compare_by_content_whether_pieces_or_bytes() -> None:
    data = GPS_JPEG.read_bytes()
    pieces = strip_media(data)
    whole = strip_media(data)
    assert whole.data  # joined first
    assert pieces == whole and repr(pieces) == repr(whole)
