"""What metadata a media file carries, by category: for the audit record and ``veil inspect``.

Two independent readers: exifread (EXIF in JPEG, TIFF, WebP, HEIC, PNG) and Veil's own
parsers (run as a dry strip), which also see what exifread cannot: XMP and IPTC blocks,
QuickTime keys and user data, timed-metadata tracks, HEIF items, trailers. Values are only
collected when explicitly asked for (``with_values``), for a person inspecting their own file.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import exifread

from pipeline.media import strip_media
from pipeline.media.policy import CATEGORIES
from pipeline.media.tiff import category_of
from pipeline.media.xmp import categorize

_EXIFREAD_TYPES = {"image/jpeg", "image/tiff", "image/webp", "image/heic", "image/png"}
_IFD_KIND = {
    "Image": "IFD0",
    "EXIF": "ExifIFD",
    "GPS": "GPS",
    "Interoperability": "Interop",
    "Thumbnail": "IFD1",
    "MakerNote": "MakerNote",
}


@dataclass(frozen=True, slots=True)
class Inspection:
    """Metadata found in one file.

    Attributes:
        media_type: detected from the magic bytes.
        found: category -> sorted tag names (union of both readers).
        values: tag name -> printable value; empty unless requested.
    """

    media_type: str
    found: Mapping[str, tuple[str, ...]]
    values: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def inspect_media(
    data: bytes, *, filename: str | None = None, with_values: bool = False
) -> Inspection:
    """Inspect ``data``.

    Raises:
        UnsupportedMedia, CorruptMedia: as :func:`pipeline.media.strip_media`.
    """
    result = strip_media(data, filename=filename)
    found: dict[str, set[str]] = {c: set(v) for c, v in result.removed.items()}
    values: dict[str, str] = {}
    if result.media_type in _EXIFREAD_TYPES:
        for name, (cat, printable) in _exifread_tags(data).items():
            found.setdefault(cat, set()).add(name)
            if with_values:
                values[name] = printable
    return Inspection(
        media_type=result.media_type,
        found=MappingProxyType({c: tuple(sorted(found[c])) for c in CATEGORIES if c in found}),
        values=MappingProxyType(values),
    )


def _exifread_tags(data: bytes) -> dict[str, tuple[str, str]]:
    """exifread's view: name -> (category, printable value)."""
    # exifread logs parse problems at WARNING with no values; keep them out of our logs.
    logging.getLogger("exifread").setLevel(logging.ERROR)
    try:
        tags = exifread.process_file(io.BytesIO(data), details=True, extract_thumbnail=False)
    except Exception:  # third-party parser on hostile input: our own parsers still report
        return {}
    out: dict[str, tuple[str, str]] = {}
    for key, tag in tags.items():
        group, _, name = str(key).partition(" ")
        if not name:
            continue
        tag_id = int(getattr(tag, "tag", -1) or -1)
        if group == "MakerNote":
            cat = "maker_notes"
        elif group.startswith("Image") and group != "Image":
            cat = "other"
        elif group in _IFD_KIND:
            cat = category_of(tag_id, _IFD_KIND[group])
            if cat == "other":
                cat = categorize(name) if categorize(name) != "xmp" else "other"
        else:
            cat = categorize(name) if group == "XMP" else "other"
        out[f"EXIF-{group}:{name}"] = (cat, str(getattr(tag, "printable", ""))[:200])
    return out
