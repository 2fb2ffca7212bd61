"""JPEG: rewrite the marker segment list, never the image.

Kept byte-identical: SOFn, DQT, DHT, DAC, DRI, SOS headers and the entropy-coded data, the
Adobe APP14 segment (it tells the decoder how to convert colours) and the ICC profile (APP2
``ICC_PROFILE``). JFIF APP0 is kept without its thumbnail. APP1 Exif is replaced by a minimal
EXIF (Orientation; dates and coarse GPS only if the policy says so). Everything else -- XMP
(also extended), IPTC/Photoshop APP13, FlashPix, MPF, maker segments, comments, and any data
after EOI (MPF previews, vendor trailers, appended videos) -- is dropped.

Two implementations, one result: :func:`walk_parts` in Python takes any file and any policy;
:func:`planned_parts` calls ``jpeg_plan`` in the C extension (detectors/_hsnative.c), which
walks the segments and rewrites the EXIF block in one pass for a policy that drops location,
and declines (None) wherever the walk would refuse the file or do what it does not (coarse
GPS, a second EXIF block, a limit reached). What is reported stays in Python either way: the
plan returns where the dropped segments are and the EXIF block's tag layout, and the names
come from the same tables. A property test holds the two to the same output on the corpus and
on mutated files.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from detectors.native import native_helper
from pipeline.errors import CorruptMedia
from pipeline.media.iptc import report_photoshop
from pipeline.media.markers import first_marker
from pipeline.media.policy import MediaPolicy, Removals
from pipeline.media.tiff import (
    MAX_ENTRIES,
    MAX_IFDS,
    MAX_PIXELS,
    TAG_ORIENTATION,
    Layout,
    layout_summary,
    rewrite_exif,
    tag_name,
)
from pipeline.media.xmp import report_xmp

# Marker codes. Final: mypyc compiles Final module constants to C constants, where other
# module globals are looked up in the module's dict at every use.
SOI: Final = 0xD8
EOI: Final = 0xD9
SOS: Final = 0xDA
APP0: Final = 0xE0
APP1: Final = 0xE1
APP2: Final = 0xE2
APP13: Final = 0xED
APP14: Final = 0xEE
COM: Final = 0xFE
_SOF: Final = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Segments the decoder needs; copied as they are.
_STRUCTURE: Final = _SOF | {0xC4, 0xCC, 0xDB, 0xDD, 0xDC}  # DHT, DAC, DQT, DRI, DNL
_XMP_ID: Final = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_ID: Final = b"http://ns.adobe.com/xmp/extension/\x00"
MAX_SEGMENTS: Final = 100_000  # far above any real file; bounds the loop on hostile input


def strip_jpeg(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Return ``data`` with metadata segments removed or minimised.

    Raises:
        CorruptMedia: as :func:`strip_jpeg_parts`.
    """
    return b"".join(strip_jpeg_parts(data, policy, removals, label))


def strip_jpeg_parts(
    data: bytes, policy: MediaPolicy, removals: Removals, label: str
) -> list[bytes | memoryview]:
    """:func:`strip_jpeg` as pieces: the kept and rewritten segments before each scan joined
    into one ``bytes`` (they are small), then the scan's image data as a view of ``data`` (not
    copied; it is nearly the whole file), ending with EOI when EOI follows it.

    The C plan (:func:`planned_parts`) serves what it can, :func:`walk_parts` the rest; both
    give the same result.

    Raises:
        CorruptMedia: truncated segments, a scan without a frame header, missing EOI, or
            declared dimensions above the pixel limit.
    """
    parts = planned_parts(data, policy, removals)
    return walk_parts(data, policy, removals, label) if parts is None else parts


# detectors._hsnative.jpeg_plan, or None where the C extension is not built.
_PLAN: Final[Any] = native_helper("jpeg_plan")


def planned_parts(
    data: bytes, policy: MediaPolicy, removals: Removals
) -> list[bytes | memoryview] | None:
    """:func:`walk_parts` for a policy that drops location, planned in C in one pass
    (``jpeg_plan`` in detectors/_hsnative.c): the walk and the EXIF rewrite there, what is
    reported here, from the same tables. Stripping a photo this way builds a few objects
    where the walk builds hundreds; in the sidecar that was about a quarter of its CPU per
    100 KB upload.

    Returns:
        The pieces, with ``removals`` filled; or None, with ``removals`` untouched, where the
        C extension is not built or the file is not one the plan takes on (a broken
        structure, a second EXIF block, a limit reached): :func:`walk_parts` then decides.
    """
    if _PLAN is None or policy.location != "drop":
        return None
    plan = _PLAN(data, policy.keep_dates, MAX_PIXELS, MAX_SEGMENTS, MAX_IFDS, MAX_ENTRIES)
    if plan is None:
        return None
    pieces, exif, jfif_thumbnail, icc, adobe, dropped, trailer_at = plan
    view = memoryview(data)
    out: list[bytes | memoryview] = [
        piece if isinstance(piece, bytes) else view[piece[0] : piece[1]] for piece in pieces
    ]
    if exif is not None:
        summary, kept_names = _exif_report(exif)
        for category, names in summary:
            removals.add_all(category, names)
        removals.keep_all(kept_names)
    if jfif_thumbnail:
        removals.add("thumbnail", "JFIFThumbnail")
    if icc:
        removals.keep("ICC_Profile")
    if adobe:
        removals.keep("Adobe")
    for marker, start, end in dropped:
        _report_dropped(marker, data[start:end], removals)
    if trailer_at >= 0:
        _report_trailer(data[trailer_at:], removals)
    return out


_IFD_KINDS: Final = ("IFD0", "ExifIFD", "GPS", "Interop", "IFD1")

# An EXIF layout key from jpeg_plan -> what its block reports: (category, removed tag names)
# and the kept tag names. Tag numbers and names only, never values; bounded in entries and
# in key size (a hostile block's huge tables are reported uncached), like tiff's summaries.
_PLANNED: Final[dict[bytes, tuple[tuple[tuple[str, frozenset[str]], ...], frozenset[str]]]] = {}
_MAX_PLANNED: Final = 512
_MAX_PLANNED_KEY: Final = 4096


def _exif_report(
    key: bytes,
) -> tuple[tuple[tuple[str, frozenset[str]], ...], frozenset[str]]:
    """What an EXIF block with layout ``key`` reports (see jpeg_plan), as rewrite_exif does."""
    hit = _PLANNED.get(key)
    if hit is not None:
        return hit
    layout, thumbnail = decode_layout(key)
    kept_names = frozenset(
        "Orientation" if tag == TAG_ORIENTATION else tag_name(tag, kind)
        for kind, _tags, kept in layout
        for tag in kept
    )
    report = (layout_summary(layout, thumbnail), kept_names)
    if len(key) <= _MAX_PLANNED_KEY:
        if len(_PLANNED) >= _MAX_PLANNED:
            _PLANNED.clear()
        _PLANNED[key] = report
    return report


def decode_layout(key: bytes) -> tuple[Layout, bool]:
    """The layout (as :func:`pipeline.media.tiff.report_layout` takes it) and the thumbnail
    flag that a jpeg_plan layout key encodes."""
    layout: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    pos = 0
    last = len(key) - 1
    while pos < last:
        kind = _IFD_KINDS[key[pos]]
        count = key[pos + 1] << 8 | key[pos + 2]
        pos += 3
        tags = tuple(key[i] << 8 | key[i + 1] for i in range(pos, pos + 2 * count, 2))
        pos += 2 * count
        nkept = key[pos]
        pos += 1
        kept = tuple(key[i] << 8 | key[i + 1] for i in range(pos, pos + 2 * nkept, 2))
        pos += 2 * nkept
        layout.append((kind, tags, kept))
    return tuple(layout), key[last] == 1


def walk_parts(
    data: bytes, policy: MediaPolicy, removals: Removals, label: str
) -> list[bytes | memoryview]:
    """:func:`strip_jpeg_parts` in Python, for any policy and any file.

    Raises:
        CorruptMedia: as :func:`strip_jpeg_parts`.
    """
    n = len(data)
    if n < 4 or data[:2] != b"\xff\xd8":
        msg = f"{label}: not a JPEG (no SOI)"
        raise CorruptMedia(msg)
    out: list[bytes | memoryview] = [b"\xff\xd8"]
    done = 0  # out[done:] are segments not yet joined (see SOS below)
    pos = 2
    seen_sof = seen_scan = False
    exif_done = False
    for _ in range(MAX_SEGMENTS):
        if pos + 2 > n or data[pos] != 0xFF:
            msg = f"{label}: truncated or corrupt JPEG segment at byte {pos}"
            raise CorruptMedia(msg)
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers, no payload
            pos += 2
            continue
        if marker == EOI and seen_scan:  # EOI after a segment that followed the last scan
            out.append(b"\xff\xd9")
            if pos + 2 < n:
                _report_trailer(data[pos + 2 :], removals)
            return out
        if marker in (SOI, EOI):
            msg = f"{label}: unexpected {'EOI' if marker == EOI else 'SOI'} before the image data"
            raise CorruptMedia(msg)
        if pos + 4 > n:
            msg = f"{label}: truncated JPEG segment header at byte {pos}"
            raise CorruptMedia(msg)
        length = struct.unpack_from(">H", data, pos + 2)[0]
        end = pos + 2 + length
        if length < 2 or end > n:
            msg = f"{label}: JPEG segment at byte {pos} runs past the end of the file"
            raise CorruptMedia(msg)
        # Segment payloads are sliced out only where they are read (an EXIF block, once).
        if marker in _SOF:
            _check_frame(data, pos + 4, end, label)
            seen_sof = True
            out.append(data[pos:end])
        elif marker in _STRUCTURE:
            out.append(data[pos:end])
        elif marker == SOS:
            if not seen_sof:
                msg = f"{label}: JPEG scan before any frame header"
                raise CorruptMedia(msg)
            seen_scan = True
            scan_end, at_eoi = _scan_end(data, end, label)
            # The segments so far in one piece (fewer pieces to write), then a view: the
            # entropy-coded data (nearly the whole file) is not sliced out.
            if len(out) - done > 1:
                out[done:] = [b"".join(out[done:])]
            if at_eoi:
                out.append(memoryview(data)[pos : scan_end + 2])  # EOI included
                if scan_end + 2 < n:
                    _report_trailer(data[scan_end + 2 :], removals)
                return out
            out.append(memoryview(data)[pos:scan_end])
            done = len(out)
            pos = scan_end
            continue
        elif marker == APP1 and data.startswith(b"Exif\x00\x00", pos + 4, end):
            kept = _exif_segment(data[pos + 10 : end], policy, removals, label, exif_done)
            exif_done = True
            if kept is not None:
                out.append(kept)
        else:
            kept = _metadata_segment(marker, data[pos + 4 : end], removals)
            if kept is not None:
                out.append(kept)
        pos = end
    msg = f"{label}: too many JPEG segments"
    raise CorruptMedia(msg)


def _check_frame(data: bytes, start: int, end: int, label: str) -> None:
    # The frame header is data[start:end]: precision, height, width, components...
    if end - start < 6:
        msg = f"{label}: JPEG frame header truncated"
        raise CorruptMedia(msg)
    height, width = struct.unpack_from(">HH", data, start + 1)
    if width * height > MAX_PIXELS:
        msg = f"{label}: declared dimensions exceed the {MAX_PIXELS}-pixel limit"
        raise CorruptMedia(msg)


def _scan_end(data: bytes, start: int, label: str) -> tuple[int, bool]:
    """Offset of the marker ending the entropy-coded data from ``start``; True if it is EOI."""
    at = first_marker(data, start)
    if at < 0:
        msg = f"{label}: JPEG image data truncated (no EOI)"
        raise CorruptMedia(msg)
    return at, data[at + 1] == EOI


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _metadata_segment(marker: int, payload: bytes, removals: Removals) -> bytes | None:
    """The segment to write for an APPn/COM segment other than an EXIF block (see
    :func:`_exif_segment`), or None to drop it."""
    if marker == APP0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
        if payload[12] or payload[13] or len(payload) > 14:
            removals.add("thumbnail", "JFIFThumbnail")
        return _segment(APP0, payload[:12] + b"\x00\x00")  # same header, no thumbnail
    if marker == APP2 and payload.startswith(b"ICC_PROFILE\x00"):
        removals.keep("ICC_Profile")
        return _segment(marker, payload)
    if marker == APP14 and payload.startswith(b"Adobe"):
        removals.keep("Adobe")  # colour transform flag; needed to decode identically
        return _segment(marker, payload)
    _report_dropped(marker, payload, removals)
    return None


def _exif_segment(
    exif: bytes, policy: MediaPolicy, removals: Removals, label: str, exif_done: bool
) -> bytes | None:
    """The APP1 segment to write for an EXIF block (its TIFF data ``exif``), or None."""
    if exif_done:  # a second Exif block: only the first is ever read by viewers
        removals.add("other", "ExtraExifSegment")
        return None
    new = rewrite_exif(exif, policy, removals, label)
    return None if new is None else _segment(APP1, b"Exif\x00\x00" + new)


def _report_dropped(marker: int, payload: bytes, removals: Removals) -> None:
    if marker == APP1 and payload.startswith(_XMP_ID):
        report_xmp(payload[len(_XMP_ID) :], removals)
    elif marker == APP1 and payload.startswith(_XMP_EXT_ID):
        removals.add("xmp", "ExtendedXMP")
    elif marker == APP13:
        removals.add("iptc", "Photoshop-APP13")
        if payload.startswith(b"Photoshop 3.0\x00"):
            report_photoshop(payload[14:], removals)
    elif marker == APP2 and payload.startswith(b"MPF\x00"):
        removals.add("thumbnail", "MPF")
    elif marker == APP0 and payload.startswith(b"JFXX\x00"):
        removals.add("thumbnail", "JFXXThumbnail")
    elif marker == COM:
        removals.add("other", "Comment")
    else:
        ident = payload[:16].split(b"\x00", 1)[0]
        safe = ident.decode("ascii", "replace") if ident.isascii() and ident.isalnum() else ""
        removals.add("other", f"APP{marker - APP0}" + (f"-{safe}" if safe else ""))


def _report_trailer(trailer: bytes, removals: Removals) -> None:
    if trailer.strip(b"\x00\xff"):
        preview = b"\xff\xd8\xff" in trailer[:65536] or b"ftyp" in trailer[:65536]
        removals.add("thumbnail" if preview else "other", "TrailerData")
