"""The JPEG strip planned in C (``jpeg_plan``) gives what the Python walk gives, or declines."""

from __future__ import annotations

import importlib
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline.errors import MediaError
from pipeline.media import jpeg, strip_media
from pipeline.media.jpeg import decode_layout, planned_parts, strip_jpeg_parts, walk_parts
from pipeline.media.policy import MediaPolicy, Removals
from tests.unit.media.corpus import MEDIA, ids

try:
    importlib.import_module("detectors._hsnative").jpeg_plan  # noqa: B018
except (ImportError, AttributeError):
    pytest.skip("the C extension is not built (scripts/build-native)", allow_module_level=True)

DROP = MediaPolicy(location="drop")
DROP_DATES = MediaPolicy(location="drop", keep_dates=True)
JPEGS = sorted(
    p for p in MEDIA.rglob("*") if p.is_file() and p.suffix.lower() in {".jpg", ".jpeg", ".jps"}
)
GPS_JPEG = MEDIA / "ianare+exif-samples/jpg/gps/DSCN0010.jpg"

Outcome = tuple[bytes, dict[str, tuple[str, ...]], tuple[str, ...]] | str | None


def _planned(data: bytes, policy: MediaPolicy) -> Outcome:
    removals = Removals()
    parts = planned_parts(data, policy, removals)
    if parts is None:
        assert removals.result(b"", "image/jpeg").removed == {}  # a decline records nothing
        return None
    result = removals.result(parts, "image/jpeg")
    return result.data, dict(result.removed), result.kept


def _walked(data: bytes, policy: MediaPolicy) -> Outcome:
    removals = Removals()
    try:
        parts = walk_parts(data, policy, removals, "t")
    except (MediaError, ValueError, IndexError, KeyError, OverflowError) as exc:
        return f"refused: {type(exc).__name__}"
    result = removals.result(parts, "image/jpeg")
    return result.data, dict(result.removed), result.kept


def test_the_corpus_has_jpegs() -> None:
    assert len(JPEGS) > 80


@pytest.mark.parametrize("policy", [DROP, DROP_DATES], ids=["drop", "drop+dates"])
@pytest.mark.parametrize("path", JPEGS, ids=ids(JPEGS))
def test_plan_gives_what_the_walk_gives_on_the_corpus(path: Path, policy: MediaPolicy) -> None:
    data = path.read_bytes()
    planned = _planned(data, policy)
    # Every corpus JPEG is one the plan takes on (none has two EXIF blocks or a broken IFD).
    assert planned is not None
    assert planned == _walked(data, policy)


def test_plan_is_what_strips_a_photo_where_built() -> None:
    data = GPS_JPEG.read_bytes()
    parts = strip_jpeg_parts(data, DROP_DATES, Removals(), "t")
    assert b"".join(parts) == _walked(data, DROP_DATES)[0]  # type: ignore[index]
    result = strip_media(data, policy=DROP_DATES)
    assert "location" in result.removed and "GPSLatitude" in result.removed["location"]
    assert "DateTimeOriginal" in result.kept and "Orientation" in result.kept
    assert b"NIKON" in data and b"NIKON" not in result.data  # the maker's name, gone


def test_plan_declines_coarse_location_and_a_second_exif_block() -> None:
    data = GPS_JPEG.read_bytes()
    coarse = MediaPolicy(location="coarse")
    assert planned_parts(data, coarse, Removals()) is None  # coarse GPS: the walk only
    kept = strip_media(data, policy=coarse)
    assert "GPSLatitude(coarse)" in kept.kept
    # A second APP1 Exif right after the first: reported by the walk as ExtraExifSegment.
    start = data.index(b"\xff\xe1")
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    segment = data[start : start + 2 + length]
    doubled = data[: start + 2 + length] + segment + data[start + 2 + length :]
    assert planned_parts(doubled, DROP, Removals()) is None
    walked = _walked(doubled, DROP)
    assert isinstance(walked, tuple) and "ExtraExifSegment" in walked[1]["other"]


def test_progressive_jpeg_is_planned_piece_by_piece() -> None:
    image = Image.frombytes("RGB", (64, 48), random.Random(3).randbytes(64 * 48 * 3))
    buf = io.BytesIO()
    exif = Image.open(GPS_JPEG).info["exif"]
    image.save(buf, "JPEG", progressive=True, quality=90, exif=exif)
    data = buf.getvalue()
    assert data.count(b"\xff\xda") > 2
    assert _planned(data, DROP) == _walked(data, DROP)
    parts = planned_parts(data, DROP, Removals())
    assert parts is not None
    views = [p for p in parts if isinstance(p, memoryview)]
    scans = b"".join(parts).count(b"\xff\xda")  # the EXIF thumbnail (a JPEG too) is gone
    assert scans > 2 and len(views) == scans and all(v.obj is data for v in views)


def test_trailer_and_dropped_segments_are_reported_from_python() -> None:
    data = GPS_JPEG.read_bytes()
    comment = b"\xff\xfe\x00\x07hello"
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>"
    app1_xmp = b"\xff\xe1" + (len(xmp) + 2).to_bytes(2, "big") + xmp
    edited = data[:2] + comment + app1_xmp + data[2:] + b"\xff\xd8\xff\xe0trailing preview"
    planned = _planned(edited, DROP)
    assert planned is not None and planned == _walked(edited, DROP)
    _, removed, _ = planned
    assert "Comment" in removed["other"] and "TrailerData" in removed["thumbnail"]
    assert "xmp" in removed


def test_decode_layout_reads_the_key_jpeg_plan_writes() -> None:
    key = (
        b"\x00\x00\x02\x01\x12\x01\x0f\x01\x01\x12"  # IFD0: tags 0x112, 0x10f; kept 0x112
        + b"\x04\x00\x01\x01\x03\x00"  # IFD1: tag 0x103, none kept
        + b"\x01"  # a thumbnail
    )
    assert decode_layout(key) == (
        (("IFD0", (0x112, 0x10F), (0x112,)), ("IFD1", (0x103,), ())),
        True,
    )


def test_keep_all_shares_the_set_until_more_is_kept() -> None:
    names = frozenset({"Orientation", "DateTime"})
    removals = Removals()
    removals.keep_all(names)
    removals.keep("ICC_Profile")
    assert names == frozenset({"Orientation", "DateTime"})  # the shared set is not changed
    assert removals.result(b"", "image/jpeg").kept == ("DateTime", "ICC_Profile", "Orientation")


SEEDS = [
    GPS_JPEG.read_bytes(),
    (MEDIA / "exiftool+exiftool/t/images/GPS.jpg").read_bytes(),
    (MEDIA / "exiftool+exiftool/t/images/IPTC.jpg").read_bytes(),
    (MEDIA / "exiftool+exiftool/t/images/ExifTool.jpg").read_bytes(),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "splice", "word"]))
        # Mostly in the segments before the image data, where the plan's decisions are.
        pos = draw(st.integers(0, max(min(len(data), 16384) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[draw(st.integers(pos, len(data))) :]
        elif op == "splice":
            data[pos:pos] = draw(st.binary(max_size=16))
        elif op == "word" and pos + 4 <= len(data):
            data[pos : pos + 4] = draw(
                st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x08", b"\x00\x00\x00\x00"])
            )
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated(), keep_dates=st.booleans())
def test_plan_gives_what_the_walk_gives_or_declines_on_mutated_files(
    data: bytes, keep_dates: bool
) -> None:
    policy = MediaPolicy(location="drop", keep_dates=keep_dates)
    planned = _planned(data, policy)
    walked = _walked(data, policy)
    if planned is None:
        return  # the walk decides (and refuses where it must)
    assert planned == walked


def test_limits_come_from_the_python_modules() -> None:
    # The plan takes its limits as arguments: a lower segment limit makes it decline.
    data = GPS_JPEG.read_bytes()
    native = importlib.import_module("detectors._hsnative").jpeg_plan
    assert native(data, False, 10**9, 100_000, 32, 2048) is not None
    assert native(data, False, 10**9, 3, 32, 2048) is None
    assert native(data, False, 10, 100_000, 32, 2048) is None  # pixel limit
    assert native(bytearray(data), False, 10**9, 100_000, 32, 2048) is None  # bytes only
    assert jpeg._PLAN is native
