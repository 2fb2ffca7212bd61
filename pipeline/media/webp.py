"""WebP: rewrite the RIFF chunk list; the VP8/VP8L/ALPH/ANMF bitstreams are copied as is.

``XMP `` chunks and unknown chunks are dropped, ``EXIF`` is replaced by a minimal EXIF, the
VP8X feature flags are fixed to match what is left, and the RIFF size is recomputed.
"""

from __future__ import annotations

import struct

from pipeline.errors import CorruptMedia
from pipeline.media.policy import MediaPolicy, Removals
from pipeline.media.tiff import MAX_PIXELS, rewrite_exif
from pipeline.media.xmp import report_xmp

_KEEP = {b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"}
FLAG_ICC, FLAG_ALPHA, FLAG_EXIF, FLAG_XMP, FLAG_ANIM = 0x20, 0x10, 0x08, 0x04, 0x02
MAX_CHUNKS = 1_000_000


def strip_webp(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Return ``data`` without XMP/unknown chunks and with a minimal EXIF chunk.

    Raises:
        CorruptMedia: bad RIFF header, truncated chunks, no image chunk, oversized canvas.
    """
    n = len(data)
    if n < 20 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        msg = f"{label}: not a WebP RIFF file"
        raise CorruptMedia(msg)
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > n:
        msg = f"{label}: RIFF size runs past the end of the file"
        raise CorruptMedia(msg)
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    for _ in range(MAX_CHUNKS):
        if pos >= riff_end:
            break
        if pos + 8 > riff_end:
            msg = f"{label}: WebP chunk header at byte {pos} truncated"
            raise CorruptMedia(msg)
        ctype, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        end = pos + 8 + size
        if end > riff_end:
            msg = f"{label}: WebP chunk at byte {pos} runs past the end of the RIFF data"
            raise CorruptMedia(msg)
        body = data[pos + 8 : end]
        if ctype in _KEEP:
            chunks.append((ctype, body))
            if ctype == b"ICCP":
                removals.keep("ICC_Profile")
        elif ctype == b"EXIF":
            exif = body[6:] if body.startswith(b"Exif\x00\x00") else body
            new = rewrite_exif(exif, policy, removals, label)
            if new is not None:
                chunks.append((b"EXIF", new))
        elif ctype == b"XMP ":
            report_xmp(body, removals)
        else:
            removals.add("other", f"WebP-{ctype.decode('latin-1', 'replace').strip()}")
        pos = end + (size & 1)
    else:
        msg = f"{label}: too many WebP chunks"
        raise CorruptMedia(msg)
    if not any(c in (b"VP8 ", b"VP8L", b"ANMF") for c, _ in chunks):
        msg = f"{label}: WebP has no image data"
        raise CorruptMedia(msg)
    chunks = _fix_vp8x(chunks, label)
    body = b"".join(c + struct.pack("<I", len(b)) + b + b"\x00" * (len(b) & 1) for c, b in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def _fix_vp8x(chunks: list[tuple[bytes, bytes]], label: str) -> list[tuple[bytes, bytes]]:
    if chunks[0][0] != b"VP8X":
        if any(c in (b"EXIF", b"ICCP", b"ALPH", b"ANIM", b"ANMF") for c, _ in chunks):
            msg = f"{label}: WebP extended chunks without a VP8X header"
            raise CorruptMedia(msg)
        return chunks
    vp8x = chunks[0][1]
    if len(vp8x) < 10:
        msg = f"{label}: VP8X chunk truncated"
        raise CorruptMedia(msg)
    width = 1 + int.from_bytes(vp8x[4:7], "little")
    height = 1 + int.from_bytes(vp8x[7:10], "little")
    if width * height > MAX_PIXELS:
        msg = f"{label}: declared canvas exceeds the {MAX_PIXELS}-pixel limit"
        raise CorruptMedia(msg)
    present = {c for c, _ in chunks}
    flags = vp8x[0] & (FLAG_ALPHA | FLAG_ANIM)
    if b"ICCP" in present:
        flags |= FLAG_ICC
    if b"EXIF" in present:
        flags |= FLAG_EXIF
    return [(b"VP8X", bytes((flags,)) + vp8x[1:]), *chunks[1:]]
