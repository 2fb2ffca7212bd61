"""Media type detection from magic bytes; names and declared types are only cross-checked.

The type decides which parser runs, so it must come from the bytes themselves. A name or a
declared content type that disagrees with the bytes is refused: it is either a mistake or an
attempt to slip a file past a format-specific check, and in both cases failing closed is right.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from pipeline.errors import CorruptMedia, UnsupportedMedia

JPEG, PNG, WEBP, TIFF = "image/jpeg", "image/png", "image/webp", "image/tiff"
HEIC, AVIF = "image/heic", "image/avif"
MP4, MOV = "video/mp4", "video/quicktime"
XMP = "application/rdf+xml"

SUPPORTED: tuple[str, ...] = (JPEG, PNG, WEBP, TIFF, HEIC, AVIF, MP4, MOV, XMP)

# Families: a name or content type from the same family is not a lie (.heif for HEIC,
# .mp4 holding a QuickTime brand and vice versa are common and harmless).
_FAMILY = {
    JPEG: "jpeg",
    PNG: "png",
    WEBP: "webp",
    TIFF: "tiff",
    HEIC: "heif",
    AVIF: "heif",
    MP4: "video",
    MOV: "video",
    XMP: "xmp",
}
_EXTENSIONS = {
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".jpe": JPEG,
    ".jfif": JPEG,
    ".jps": JPEG,
    ".png": PNG,
    ".webp": WEBP,
    ".tif": TIFF,
    ".tiff": TIFF,
    ".heic": HEIC,
    ".heif": HEIC,
    ".hif": HEIC,
    ".avif": AVIF,
    ".mp4": MP4,
    ".m4v": MP4,
    ".mov": MOV,
    ".qt": MOV,
    ".xmp": XMP,
}
RAW_EXTENSIONS = frozenset(
    ".3fr .ari .arw .cr2 .cr3 .crw .dcr .dng .erf .iiq .k25 .kdc .mef .mos .mrw .nef .nrw "
    ".orf .pef .raf .raw .rw2 .rwl .sr2 .srf .srw .x3f".split()
)
_CONTENT_TYPES = {
    "image/jpg": JPEG,
    "image/pjpeg": JPEG,
    "image/heif": HEIC,
    "application/xmp+xml": XMP,
    "application/xml": XMP,
    "text/xml": XMP,
}

_HEIF_BRANDS = {
    b"heic",
    b"heix",
    b"hevc",
    b"heim",
    b"heis",
    b"hevm",
    b"hevs",
    b"mif1",
    b"msf1",
    b"mif2",
}
_AVIF_BRANDS = {b"avif", b"avis"}
_RAW_BRANDS = {b"crx "}
_MOV_BRANDS = {b"qt  "}
_QT_TOP = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
_XMP_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xpacket|<x:xmpmeta|<x:xapmeta|<rdf:RDF)")

# Recognised but refused formats: magic -> name (for the error message).
_REFUSED: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF", "PDF"),
    (0, b"PK\x03\x04", "ZIP/Office document"),
    (0, b"GIF8", "GIF"),
    (0, b"8BPS", "Photoshop PSD"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"\xff\x0a", "JPEG XL"),
    (4, b"JXL ", "JPEG XL"),
    (0, b"FOVb", "Sigma X3F raw"),
    (0, b"FUJIFILMCCD-RAW", "Fujifilm RAF raw"),
    (0, b"\x00MRM", "Minolta MRW raw"),
    (6, b"HEAPCCDR", "Canon CRW raw"),
    (0, b"IIRO", "Olympus ORF raw"),
    (0, b"IIU\x00", "Panasonic RW2 raw"),
    (0, b"II+\x00", "BigTIFF"),
    (0, b"MM\x00+", "BigTIFF"),
    (0, b"BM", "BMP"),
    (0, b"\x00\x00\x01\x00", "ICO"),
    (0, b"OggS", "Ogg"),
    (0, b"ID3", "MP3"),
    (0, b"fLaC", "FLAC"),
)


def sniff(data: bytes, label: str = "input") -> str:
    """The MIME type of ``data`` from its magic bytes.

    Raises:
        CorruptMedia: empty or too short to identify.
        UnsupportedMedia: a recognised but unsupported format, or an unknown one.
    """
    if not data:
        msg = f"{label}: empty file"
        raise CorruptMedia(msg)
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF":
        msg = f"{label}: unsupported format RIFF/{head[8:12].decode('latin-1')!r}"
        raise UnsupportedMedia(msg)
    for off, magic, name in _REFUSED:
        if head[off : off + len(magic)] == magic:
            msg = f"{label}: unsupported format {name}"
            raise UnsupportedMedia(msg)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        if head[8:10] == b"CR":
            msg = f"{label}: unsupported format Canon CR2 raw"
            raise UnsupportedMedia(msg)
        if head[8:12] == b"IIII":
            msg = f"{label}: unsupported format Phase One IIQ raw"
            raise UnsupportedMedia(msg)
        return TIFF
    if head[4:8] == b"ftyp":
        return _isobmff_type(data, label)
    if head[4:8] in _QT_TOP and len(data) >= 8:
        return MOV
    if _XMP_START.match(head):
        return XMP
    if len(data) < 8:
        msg = f"{label}: too short to identify"
        raise CorruptMedia(msg)
    msg = f"{label}: unsupported or unrecognised format"
    raise UnsupportedMedia(msg)


def _isobmff_type(data: bytes, label: str) -> str:
    size = int.from_bytes(data[:4], "big")
    if size < 16 or size > min(len(data), 4096):
        msg = f"{label}: ftyp box size out of range"
        raise CorruptMedia(msg)
    major = data[8:12]
    brands = {major} | {data[i : i + 4] for i in range(16, size - 3, 4)}
    if major in _RAW_BRANDS or brands & _RAW_BRANDS:
        msg = f"{label}: unsupported format Canon CR3 raw"
        raise UnsupportedMedia(msg)
    if major in _AVIF_BRANDS:
        return AVIF
    if major in _HEIF_BRANDS:
        return HEIC
    if major in _MOV_BRANDS:
        return MOV
    if brands & _AVIF_BRANDS and not brands & _HEIF_BRANDS:
        return AVIF
    if brands & _HEIF_BRANDS and not (brands & {b"isom", b"mp41", b"mp42", b"iso2"}):
        return HEIC
    if major == b"JXL ":
        msg = f"{label}: unsupported format JPEG XL"
        raise UnsupportedMedia(msg)
    return MP4


def check_declared(
    media_type: str, label: str, filename: str | None, content_type: str | None
) -> None:
    """Refuse when a known extension or content type names another format than the bytes.

    Unknown extensions and generic content types (``application/octet-stream``) are ignored.

    Raises:
        UnsupportedMedia: the declared format disagrees with the detected one.
    """
    family = _FAMILY[media_type]
    if filename:
        ext = PurePath(filename).suffix.lower()
        if ext in RAW_EXTENSIONS:
            # RAW files often wear a TIFF or ISO-BMFF body; their image is elsewhere.
            msg = f"{label}: unsupported format camera RAW ({ext})"
            raise UnsupportedMedia(msg)
        declared = _EXTENSIONS.get(ext)
        if declared is not None and _FAMILY[declared] != family:
            msg = f"{label}: extension {ext} does not match the content ({media_type})"
            raise UnsupportedMedia(msg)
    if content_type:
        ct = content_type.split(";", 1)[0].strip().lower()
        declared = _CONTENT_TYPES.get(ct, ct if ct in _FAMILY else None)
        if declared is not None and _FAMILY[declared] != family:
            msg = f"{label}: declared content type does not match the content ({media_type})"
            raise UnsupportedMedia(msg)
