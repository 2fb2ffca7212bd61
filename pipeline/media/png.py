"""PNG: drop metadata chunks, copy image chunks byte for byte.

Every chunk's CRC is checked (a corrupt file is refused, not passed on). Critical chunks we do
not know are refused, because dropping one could change how the image decodes; unknown
ancillary chunks are dropped, which by the PNG spec never affects the pixels.
"""

from __future__ import annotations

import struct
import zlib

from pipeline.errors import CorruptMedia, UnsupportedMedia
from pipeline.media.policy import MediaPolicy, Removals
from pipeline.media.tiff import MAX_PIXELS, rewrite_exif
from pipeline.media.xmp import report_xmp

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that describe how to decode or display the image and identify no one.
_KEEP = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"cHRM",
    b"gAMA",
    b"iCCP",
    b"sBIT",
    b"sRGB",
    b"cICP",
    b"mDCv",
    b"cLLi",
    b"bKGD",
    b"hIST",
    b"pHYs",
    b"sPLT",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
_CATEGORY = {
    b"tEXt": "other",
    b"zTXt": "other",
    b"iTXt": "other",
    b"tIME": "dates",
    b"eXIf": "other",
    b"caBX": "identifiers",
    b"dSIG": "identifiers",
}
MAX_CHUNKS = 1_000_000


def strip_png(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Return ``data`` without text, time, EXIF (minimised) and unknown ancillary chunks.

    Raises:
        CorruptMedia: bad signature, truncated chunk, CRC mismatch, missing IHDR/IEND,
            oversized dimensions.
        UnsupportedMedia: an unknown critical chunk.
    """
    if not data.startswith(SIGNATURE):
        msg = f"{label}: not a PNG (bad signature)"
        raise CorruptMedia(msg)
    out = [SIGNATURE]
    pos, n = 8, len(data)
    for index in range(MAX_CHUNKS):
        if pos + 12 > n:
            msg = f"{label}: PNG truncated (no IEND)"
            raise CorruptMedia(msg)
        length, ctype = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            msg = f"{label}: PNG chunk at byte {pos} runs past the end of the file"
            raise CorruptMedia(msg)
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        if zlib.crc32(ctype + body) != crc:
            msg = f"{label}: PNG chunk at byte {pos} has a bad CRC"
            raise CorruptMedia(msg)
        if index == 0:
            _check_ihdr(ctype, body, label)
        if ctype in _KEEP:
            out.append(data[pos:end])
            if ctype == b"iCCP":
                removals.keep("ICC_Profile")
            if ctype == b"IEND":
                return b"".join(out)
        elif ctype == b"eXIf":
            new = rewrite_exif(body, policy, removals, label)
            if new is not None:
                out.append(_chunk(b"eXIf", new))
        elif not ctype[0] & 0x20:  # uppercase first letter: critical
            msg = f"{label}: unknown critical PNG chunk"
            raise UnsupportedMedia(msg)
        else:
            _report(ctype, body, removals)
        pos = end
    msg = f"{label}: too many PNG chunks"
    raise CorruptMedia(msg)


def _check_ihdr(ctype: bytes, body: bytes, label: str) -> None:
    if ctype != b"IHDR" or len(body) != 13:
        msg = f"{label}: PNG does not start with a valid IHDR"
        raise CorruptMedia(msg)
    width, height = struct.unpack_from(">II", body)
    if width == 0 or height == 0 or width * height > MAX_PIXELS:
        msg = f"{label}: declared dimensions are zero or exceed the {MAX_PIXELS}-pixel limit"
        raise CorruptMedia(msg)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _report(ctype: bytes, body: bytes, removals: Removals) -> None:
    name = ctype.decode("latin-1")
    if ctype in (b"tEXt", b"zTXt", b"iTXt"):
        keyword = body.split(b"\x00", 1)[0][:79]
        if keyword == b"XML:com.adobe.xmp":
            report_xmp(body, removals)
            return
        kw = keyword.decode("latin-1")
        cat = {
            "Author": "owner",
            "Copyright": "owner",
            "Creation Time": "dates",
            "Software": "identifiers",
        }.get(kw, "other")
        if kw.startswith("Raw profile type"):
            cat = "iptc" if "iptc" in kw else "other"
        safe = kw if kw.replace(" ", "").replace(":", "").replace(".", "").isalnum() else "?"
        removals.add(cat, f"PNG-{name}:{safe}")
        return
    removals.add(_CATEGORY.get(ctype, "other"), f"PNG-{name}")
