"""TIFF files: rebuild IFD0 from the image-structure tags and copy the strips or tiles.

The output is a fresh little TIFF: header, one IFD holding only the tags a decoder needs (plus
Orientation, the ICC profile, and the date if the policy keeps dates), then the strip or tile
data copied byte for byte with new offsets. No EXIF, GPS, GeoTIFF, IPTC, XMP or Photoshop
blocks survive. Camera RAW files built on TIFF (DNG, NEF, CR2...) are refused: their real image
hides in SubIFDs or maker notes, so a lossless rebuild is not something we can promise.
"""

from __future__ import annotations

import struct

from pipeline.errors import CorruptMedia, UnsupportedMedia
from pipeline.media.policy import MediaPolicy, Removals
from pipeline.media.tiff import (
    LONG,
    MAX_PIXELS,
    Entry,
    Ifd,
    OutEntry,
    TiffReader,
    category_of,
    exif_tags,
    ifd_size,
    read_exif,
    write_ifd,
)

# Tags describing how to decode the pixels (TIFF 6.0 baseline and extensions).
_STRUCTURE = {
    254,
    256,
    257,
    258,
    259,
    262,
    266,
    274,
    277,
    278,
    280,
    281,
    282,
    283,
    284,
    290,
    291,
    296,
    301,
    317,
    318,
    319,
    320,
    321,
    322,
    323,
    332,
    334,
    338,
    339,
    340,
    341,
    347,
    529,
    530,
    531,
    532,
    34675,
}
_DATE = 0x0132
_RAW_MARKERS = {330: "SubIFDs", 50706: "DNGVersion", 513: "old-style JPEG", 34713: "NEF"}
STRIPS, STRIP_COUNTS, TILES, TILE_COUNTS = 273, 279, 324, 325


def strip_tiff(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Rebuild a single-image TIFF without metadata; pixels and strips unchanged.

    Raises:
        CorruptMedia: broken IFDs, strips past the end, oversized dimensions.
        UnsupportedMedia: RAW/DNG-style files, multi-page TIFFs, old-style JPEG compression.
    """
    dirs = read_exif(data, label)  # also validates the whole IFD tree (loops, bounds)
    r, ifd0 = dirs.reader, dirs.ifd0
    for tag, what in _RAW_MARKERS.items():
        if tag in ifd0.entries:
            msg = f"{label}: unsupported TIFF variant ({what}; camera RAW or similar)"
            raise UnsupportedMedia(msg)
    if _first_int(r, ifd0, 254) & 1 or _first_int(r, ifd0, 259) in (6, 34713):
        msg = f"{label}: unsupported TIFF variant (reduced-resolution first image or RAW)"
        raise UnsupportedMedia(msg)
    for later in dirs.later:
        if not _first_int(r, later, 254) & 1:
            msg = f"{label}: multi-page TIFF is not supported"
            raise UnsupportedMedia(msg)
    width, height = _first_int(r, ifd0, 256), _first_int(r, ifd0, 257)
    if width == 0 or height == 0 or width * height > MAX_PIXELS:
        msg = f"{label}: declared dimensions are zero or exceed the {MAX_PIXELS}-pixel limit"
        raise CorruptMedia(msg)
    off_tag, cnt_tag = (TILES, TILE_COUNTS) if TILES in ifd0.entries else (STRIPS, STRIP_COUNTS)
    blocks = _blocks(r, ifd0, off_tag, cnt_tag, label)
    keep = set(_STRUCTURE) | ({_DATE} if policy.keep_dates else set())
    entries: list[OutEntry] = []
    for tag, ent in ifd0.entries.items():
        if tag in keep:
            raw = r.raw(ent)
            if ent.offset < 0:
                msg = f"{label}: TIFF tag {tag} value past the end of the file"
                raise CorruptMedia(msg)
            entries.append(OutEntry(tag, ent.type, ent.count, raw))
    for name in ("Orientation", "ICC_Profile"):
        if {"Orientation": 274, "ICC_Profile": 34675}[name] in ifd0.entries:
            removals.keep(name)
    kept_ids = keep | {off_tag, cnt_tag}
    for kind, tag, name in exif_tags(dirs):
        if not (kind == "IFD0" and tag in kept_ids):
            removals.add(category_of(tag, kind) if tag >= 0 else "thumbnail", name)
    e = r.endian
    entries.append(
        OutEntry(
            cnt_tag, LONG, len(blocks), struct.pack(f"{e}{len(blocks)}I", *(c for _, c in blocks))
        )
    )
    entries.append(OutEntry(off_tag, LONG, len(blocks), b"\x00" * 4 * len(blocks)))
    data_start = 8 + ifd_size(entries)
    offsets, pos = [], data_start
    for _, count in blocks:
        offsets.append(pos)
        pos += count + (count & 1)
    entries[-1].value = struct.pack(f"{e}{len(offsets)}I", *offsets)
    header = (b"II*\x00" if e == "<" else b"MM\x00*") + struct.pack(e + "I", 8)
    out = [header, write_ifd(entries, 8, e)]
    for off, count in blocks:
        out.append(data[off : off + count])
        if count & 1:
            out.append(b"\x00")
    return b"".join(out)


def _first_int(r: TiffReader, ifd: Ifd, tag: int) -> int:
    e: Entry | None = ifd.entries.get(tag)
    values = r.ints(e) if e is not None else ()
    return values[0] if values else 0


def _blocks(
    r: TiffReader, ifd: Ifd, off_tag: int, cnt_tag: int, label: str
) -> list[tuple[int, int]]:
    off_e, cnt_e = ifd.entries.get(off_tag), ifd.entries.get(cnt_tag)
    offsets = r.ints(off_e) if off_e is not None else ()
    counts = r.ints(cnt_e) if cnt_e is not None else ()
    if not offsets or len(offsets) != len(counts):
        msg = f"{label}: TIFF strip/tile offsets missing or inconsistent with their byte counts"
        raise CorruptMedia(msg)
    n = len(r.data)
    for off, count in zip(offsets, counts, strict=True):
        if off + count > n:
            msg = f"{label}: TIFF strip/tile data runs past the end of the file"
            raise CorruptMedia(msg)
    return list(zip(offsets, counts, strict=True))
