"""A strip's output as pieces: the JPEG's image data is a view of the input, not a copy."""

from __future__ import annotations

import io
import random
from itertools import pairwise

from PIL import Image

from pipeline.media import strip_media
from pipeline.media.jpeg import strip_jpeg, strip_jpeg_parts
from pipeline.media.policy import MediaPolicy, Removals
from tests.unit.media.corpus import MEDIA

GPS_JPEG = MEDIA / "ianare+exif-samples/jpg/gps/DSCN0010.jpg"


def test_jpeg_pieces_join_to_the_stripped_file_and_view_the_input() -> None:
    data = GPS_JPEG.read_bytes()
    result = strip_media(data)
    parts = result.parts
    # The segments before the scan in one piece, then the image data and EOI as a view.
    assert len(parts) == 2 and result.size == sum(len(p) for p in parts)
    head, view = parts
    assert isinstance(head, bytes) and head.startswith(b"\xff\xd8")
    assert isinstance(view, memoryview) and view.obj is data  # the image data, not copied
    assert view.nbytes > len(data) // 2 and view[-2:] == b"\xff\xd9"
    joined = b"".join(parts)
    assert joined == strip_jpeg(data, MediaPolicy(), Removals(), "t")
    assert result.data == joined and result.size == len(joined)
    assert result.parts == (result.data,)  # joined once; the input is no longer held
    assert b"".join(strip_jpeg_parts(data, MediaPolicy(), Removals(), "t")) == joined


def test_progressive_jpeg_pieces_alternate_segments_and_scan_views() -> None:
    # Several scans, with tables between them: each run of segments is joined, each scan's
    # data is a view of the input.
    image = Image.frombytes("RGB", (64, 48), random.Random(7).randbytes(64 * 48 * 3))
    buf = io.BytesIO()
    image.save(buf, "JPEG", progressive=True, quality=90)
    data = buf.getvalue()
    scans = data.count(b"\xff\xda")
    assert scans > 2
    parts = strip_jpeg_parts(data, MediaPolicy(), Removals(), "t")
    kinds = [type(p) for p in parts]
    assert kinds[:2] == [bytes, memoryview] and kinds.count(memoryview) == scans
    assert (bytes, bytes) not in pairwise(kinds)  # segments between scans are joined
    assert all(p.obj is data for p in parts if isinstance(p, memoryview))
    assert b"".join(parts) == strip_jpeg(data, MediaPolicy(), Removals(), "t")
    assert pixels_of(b"".join(parts)) == pixels_of(data)


def pixels_of(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        return image.tobytes()


def test_results_compare_by_content_whether_pieces_or_bytes() -> None:
    data = GPS_JPEG.read_bytes()
    pieces = strip_media(data)
    whole = strip_media(data)
    assert whole.data  # joined first
    assert pieces == whole and repr(pieces) == repr(whole)
