"""Bounded fuzzing of every parser: mutated corpus seeds either strip or raise MediaError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import MediaError
from pipeline.media import strip_media
from tests.unit.media.corpus import MEDIA

SEEDS = [
    (MEDIA / rel).read_bytes()
    for rel in (
        "exiftool+exiftool/t/images/GPS.jpg",
        "exiftool+exiftool/t/images/PNG.png",
        "exiftool+exiftool/t/images/RIFF.webp",
        "exiftool+exiftool/t/images/ExifTool.tif",
        "exiftool+exiftool/t/images/QuickTime.heic",
        "exiftool+exiftool/t/images/QuickTime.mov",
        "exiftool+exiftool/t/images/XMP2.xmp",
    )
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "cut", "splice", "word"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[pos:]
        elif op == "splice":
            data[pos:pos] = draw(st.binary(max_size=16))
        elif op == "word" and pos + 4 <= len(data):
            data[pos : pos + 4] = draw(
                st.sampled_from(
                    [
                        b"\xff\xff\xff\xff",
                        b"\x00\x00\x00\x08",
                        b"\x00\x00\x00\x00",
                        b"\x7f\xff\xff\xff",
                    ]
                )
            )
    return bytes(data)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_parsers_never_crash_or_hang(data: bytes) -> None:
    try:
        result = strip_media(data, filename="fuzz")
    except MediaError as exc:
        assert str(exc).startswith("fuzz:")
        return
    assert isinstance(result.data, bytes)
