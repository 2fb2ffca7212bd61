"""ISO base media files: box walking, and MP4/MOV stripping by box offsets.

Video stripping never changes a box size: metadata boxes (``udta``, ``meta``, ``uuid``,
previews) are turned into ``free`` boxes of the same size with zeroed payloads, creation and
modification times are zeroed in place, and timed-metadata tracks (GPS, face regions...) are
turned into ``free`` with their samples zeroed in ``mdat``. Because no offset moves, the
``stco``/``co64`` chunk offsets stay valid and the audio/video samples are copied byte for byte.
The file is processed through seek/read on file objects in fixed-size chunks, so memory stays
bounded by the size of ``moov`` (capped) whatever the size of ``mdat``.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from typing import BinaryIO

from pipeline.errors import CorruptMedia
from pipeline.media.policy import MediaPolicy, Removals

Buf = bytes | bytearray
MAX_BOXES = 100_000
MAX_DEPTH = 16
MAX_MOOV = 256 * 1024 * 1024  # a moov this large is not a real movie header
COPY_CHUNK = 1024 * 1024
_CONTAINERS = {
    b"moov",
    b"trak",
    b"mdia",
    b"minf",
    b"stbl",
    b"edts",
    b"dinf",
    b"mvex",
    b"moof",
    b"traf",
}
_NEUTRALISE = {
    b"udta",
    b"meta",
    b"uuid",
    b"pnot",
    b"PICT",
    b"thum",
    b"Xtra",
    b"XMP_",
    b"clip",
    b"ctab",
    b"cmov",
}
_TOP_COPY = {
    b"ftyp",
    b"mdat",
    b"free",
    b"skip",
    b"wide",
    b"moof",
    b"mfra",
    b"sidx",
    b"styp",
    b"pdin",
    b"prft",
    b"emsg",
    b"ssix",
    b"junk",
}
_TIMES = {b"mvhd": "", b"tkhd": "Track", b"mdhd": "Media"}
_UDTA_NAMES: dict[bytes, tuple[str, str]] = {
    b"\xa9xyz": ("GPSCoordinates", "location"),
    b"loci": ("Location", "location"),
    b"\xa9mak": ("Make", "identifiers"),
    b"\xa9mod": ("Model", "identifiers"),
    b"\xa9swr": ("Software", "identifiers"),
    b"\xa9day": ("CreationDate", "dates"),
    b"\xa9ART": ("Artist", "owner"),
    b"\xa9aut": ("Author", "owner"),
    b"auth": ("Author", "owner"),
    b"cprt": ("Copyright", "owner"),
    b"\xa9cpy": ("Copyright", "owner"),
    b"XMP_": ("XMP", "xmp"),
    b"CNTH": ("Thumbnail", "thumbnail"),
    b"thum": ("Thumbnail", "thumbnail"),
    b"CNCV": ("CanonCompressorVersion", "maker_notes"),
    b"CNMN": ("CanonModelName", "maker_notes"),
    b"NCDT": ("NikonTags", "maker_notes"),
    b"PENT": ("PentaxTags", "maker_notes"),
    b"MVTG": ("FujiTags", "maker_notes"),
}
_TIMED_META_FORMATS = {
    b"gpmd": "location",
    b"camm": "location",
    b"mebx": "other",
    b"mett": "other",
    b"metx": "other",
    b"rtmd": "other",
    b"tx3g": "other",
}


def iter_boxes(buf: Buf, start: int, end: int, label: str) -> Iterator[tuple[bytes, int, int, int]]:
    """Boxes in ``buf[start:end]`` as (type, box start, payload start, box end).

    Raises:
        CorruptMedia: a box size smaller than its header or past ``end``.
    """
    pos = start
    for _ in range(MAX_BOXES):
        if pos >= end:
            return
        if end - pos < 8:
            if not buf[pos:end].strip(b"\x00"):
                return  # QuickTime allows a 4-byte zero terminator in udta
            msg = f"{label}: box header truncated at byte {pos}"
            raise CorruptMedia(msg)
        size, btype = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                msg = f"{label}: large box header truncated at byte {pos}"
                raise CorruptMedia(msg)
            size = struct.unpack_from(">Q", buf, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            msg = f"{label}: box at byte {pos} has a size out of range"
            raise CorruptMedia(msg)
        yield btype, pos, pos + header, pos + size
        pos += size
    msg = f"{label}: too many boxes"
    raise CorruptMedia(msg)


def read_top_level(fh: BinaryIO, label: str) -> list[tuple[bytes, int, int, int]]:
    """Top-level boxes of a file object by seeking (no payload is read)."""
    fh.seek(0, io.SEEK_END)
    total = fh.tell()
    boxes: list[tuple[bytes, int, int, int]] = []
    pos = 0
    while pos < total:
        if len(boxes) >= MAX_BOXES:
            msg = f"{label}: too many top-level boxes"
            raise CorruptMedia(msg)
        fh.seek(pos)
        head = fh.read(16)
        if len(head) < 8:
            msg = f"{label}: box header truncated at byte {pos}"
            raise CorruptMedia(msg)
        size, btype = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1:
            if len(head) < 16:
                msg = f"{label}: large box header truncated at byte {pos}"
                raise CorruptMedia(msg)
            size, header = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = total - pos
        if size < header or pos + size > total:
            msg = f"{label}: top-level box at byte {pos} runs past the end of the file"
            raise CorruptMedia(msg)
        boxes.append((btype, pos, pos + header, pos + size))
        pos += size
    return boxes


def _neutralise(buf: bytearray, start: int, payload: int, end: int) -> None:
    """Turn the box at ``start`` into a ``free`` box of the same size with a zero payload."""
    buf[start + 4 : start + 8] = b"free"
    buf[payload:end] = bytes(end - payload)


def _report_udta(buf: Buf, payload: int, end: int, removals: Removals, label: str) -> None:
    try:
        for btype, _s, p, e in iter_boxes(buf, payload, end, label):
            if btype == b"meta":
                _report_meta(buf, p, e, removals, label)
                continue
            name, cat = _UDTA_NAMES.get(btype, (btype.decode("latin-1"), "other"))
            removals.add(cat, f"UserData:{name}")
    except CorruptMedia:
        removals.add("other", "UserData")  # unparseable: still removed whole


def _report_meta(buf: Buf, payload: int, end: int, removals: Removals, label: str) -> None:
    """Names of QuickTime ``keys`` and iTunes ``ilst`` items inside a ``meta`` box."""
    start = payload
    if end - payload >= 12 and buf[payload + 4 : payload + 8] not in (b"hdlr", b"keys", b"ilst"):
        start = payload + 4  # ISO full box: version and flags first
    try:
        for btype, _s, p, e in iter_boxes(buf, start, end, label):
            if btype == b"keys" and e - p >= 8:
                _report_keys(buf, p + 8, e, removals, label)
            elif btype == b"ilst":
                for itype, _s2, _p2, _e2 in iter_boxes(buf, p, e, label):
                    name, cat = _UDTA_NAMES.get(itype, (itype.decode("latin-1"), "other"))
                    if int.from_bytes(itype, "big") > 0xFFFF:
                        removals.add(cat, f"ItemList:{name}")
            elif btype not in (b"hdlr", b"free"):
                removals.add("other", f"Meta:{btype.decode('latin-1')}")
    except CorruptMedia:
        removals.add("other", "Meta")


def _report_keys(buf: Buf, start: int, end: int, removals: Removals, label: str) -> None:
    pos = start
    for _ in range(MAX_BOXES):
        if pos + 8 > end:
            return
        size = struct.unpack_from(">I", buf, pos)[0]
        if size < 8 or pos + size > end:
            return
        key = bytes(buf[pos + 8 : pos + size]).decode("utf-8", "replace")
        low = key.lower()
        if "location" in low or "gps" in low:
            cat = "location"
        elif any(w in low for w in ("make", "model", "software", "serial", "identifier")):
            cat = "serial" if "serial" in low else "identifiers"
        elif "date" in low:
            cat = "dates"
        elif any(w in low for w in ("author", "artist", "owner", "copyright", "publisher")):
            cat = "owner"
        else:
            cat = "other"
        removals.add(cat, f"Keys:{key[:100]}")
        pos += size


def _zero_times(buf: bytearray, btype: bytes, payload: int, end: int, removals: Removals) -> None:
    if end - payload < 4:
        return
    version = buf[payload]
    width = 8 if version == 1 else 4
    if end - payload < 4 + 2 * width:
        return
    buf[payload + 4 : payload + 4 + 2 * width] = bytes(2 * width)
    prefix = _TIMES[btype]
    removals.add("dates", f"{prefix}CreateDate")
    removals.add("dates", f"{prefix}ModifyDate")


def _handler(buf: Buf, trak_payload: int, trak_end: int, label: str) -> bytes:
    """The media handler type of a ``trak`` (``vide``, ``soun``, ``meta``...)."""
    for btype, _s, p, e in iter_boxes(buf, trak_payload, trak_end, label):
        if btype == b"mdia":
            for ctype, _s2, p2, e2 in iter_boxes(buf, p, e, label):
                if ctype == b"hdlr" and e2 - p2 >= 12:
                    return bytes(buf[p2 + 8 : p2 + 12])
    return b""


def _find(buf: Buf, start: int, end: int, path: list[bytes], label: str) -> tuple[int, int]:
    """Payload span of the box at ``path`` under ``buf[start:end]``; (0, 0) if absent."""
    for btype, _s, p, e in iter_boxes(buf, start, end, label):
        if btype == path[0]:
            return (p, e) if len(path) == 1 else _find(buf, p, e, path[1:], label)
    return 0, 0


def _sample_format(buf: Buf, stbl: tuple[int, int], label: str) -> bytes:
    p, e = _find(buf, stbl[0], stbl[1], [b"stsd"], label)
    return bytes(buf[p + 12 : p + 16]) if e - p >= 16 else b""


def _chunk_ranges(buf: Buf, stbl: tuple[int, int], label: str) -> list[tuple[int, int]]:
    """(file offset, length) of every chunk of a track, from stco/co64, stsc and stsz."""
    s, e = stbl
    co_p, co_e = _find(buf, s, e, [b"stco"], label)
    wide = False
    if co_e == 0:
        co_p, co_e = _find(buf, s, e, [b"co64"], label)
        wide = True
    sc_p, sc_e = _find(buf, s, e, [b"stsc"], label)
    sz_p, sz_e = _find(buf, s, e, [b"stsz"], label)
    if co_e - co_p < 8 or sc_e - sc_p < 8 or sz_e - sz_p < 12:
        msg = f"{label}: timed metadata track without a usable sample table"
        raise CorruptMedia(msg)
    n_chunks = struct.unpack_from(">I", buf, co_p + 4)[0]
    step = 8 if wide else 4
    if co_p + 8 + n_chunks * step > co_e:
        msg = f"{label}: chunk offset table runs past its box"
        raise CorruptMedia(msg)
    offsets = struct.unpack_from(f">{n_chunks}{'Q' if wide else 'I'}", buf, co_p + 8)
    n_stsc = struct.unpack_from(">I", buf, sc_p + 4)[0]
    if sc_p + 8 + 12 * n_stsc > sc_e:
        msg = f"{label}: sample-to-chunk table runs past its box"
        raise CorruptMedia(msg)
    stsc = [struct.unpack_from(">II", buf, sc_p + 8 + 12 * i) for i in range(n_stsc)]
    uniform, n_samples = struct.unpack_from(">II", buf, sz_p + 4)
    if uniform == 0 and sz_p + 12 + 4 * n_samples > sz_e:
        msg = f"{label}: sample size table runs past its box"
        raise CorruptMedia(msg)
    sizes = (
        [uniform] * min(n_samples, 10_000_000)
        if uniform
        else list(struct.unpack_from(f">{n_samples}I", buf, sz_p + 12))
    )
    ranges: list[tuple[int, int]] = []
    sample = 0
    for i, off in enumerate(offsets, start=1):
        per_chunk = 0
        for first, spc in stsc:
            if first <= i:
                per_chunk = spc
        length = sum(sizes[sample : sample + per_chunk])
        sample += per_chunk
        ranges.append((off, length))
    return ranges


def _walk(
    buf: bytearray,
    start: int,
    end: int,
    depth: int,
    policy: MediaPolicy,
    removals: Removals,
    label: str,
    zero: list[tuple[int, int]],
) -> None:
    if depth > MAX_DEPTH:
        msg = f"{label}: boxes nested too deep"
        raise CorruptMedia(msg)
    for btype, s, p, e in list(iter_boxes(buf, start, end, label)):
        if btype in _NEUTRALISE:
            if btype == b"udta":
                _report_udta(buf, p, e, removals, label)
            elif btype == b"meta":
                _report_meta(buf, p, e, removals, label)
            else:
                name, cat = _UDTA_NAMES.get(btype, (btype.decode("latin-1"), "other"))
                removals.add("xmp" if btype == b"uuid" else cat, f"QuickTime:{name}")
            _neutralise(buf, s, p, e)
        elif btype in _TIMES and not policy.keep_dates:
            _zero_times(buf, btype, p, e, removals)
        elif btype == b"trak" and _handler(buf, p, e, label) in (b"meta", b"text", b"sbtl"):
            stbl = _find(buf, p, e, [b"mdia", b"minf", b"stbl"], label)
            fmt = _sample_format(buf, stbl, label) if stbl[1] else b""
            if _handler(buf, p, e, label) != b"meta" and fmt != b"tx3g":
                _walk(buf, p, e, depth + 1, policy, removals, label, zero)
                continue
            if stbl[1]:
                zero.extend(_chunk_ranges(buf, stbl, label))
            cat = _TIMED_META_FORMATS.get(fmt, "other")
            removals.add(cat, f"TimedMetadataTrack:{fmt.decode('latin-1', 'replace')}")
            _neutralise(buf, s, p, e)
        elif btype in _CONTAINERS:
            _walk(buf, p, e, depth + 1, policy, removals, label, zero)


def strip_video_file(
    src: BinaryIO, dst: BinaryIO, policy: MediaPolicy, removals: Removals, label: str
) -> None:
    """Copy MP4/MOV ``src`` to ``dst`` with metadata neutralised; sizes and offsets unchanged.

    Raises:
        CorruptMedia: broken box structure, no ``moov``, oversized ``moov``.
    """
    boxes = read_top_level(src, label)
    moovs = [b for b in boxes if b[0] == b"moov"]
    if len(moovs) != 1:
        msg = f"{label}: expected exactly one moov box, found {len(moovs)}"
        raise CorruptMedia(msg)
    _, m_start, m_payload, m_end = moovs[0]
    if m_end - m_start > MAX_MOOV:
        msg = f"{label}: moov box larger than {MAX_MOOV} bytes"
        raise CorruptMedia(msg)
    src.seek(m_start)
    moov = bytearray(src.read(m_end - m_start))
    zero: list[tuple[int, int]] = []
    _walk(moov, m_payload - m_start, len(moov), 1, policy, removals, label, zero)
    zero.sort()
    for btype, start, payload, end in boxes:
        if btype == b"moov":
            dst.write(moov)
        elif btype in _TOP_COPY:
            _copy_range(src, dst, start, end, zero)
        else:
            name, cat = _UDTA_NAMES.get(btype, (btype.decode("latin-1", "replace"), "other"))
            removals.add("xmp" if btype == b"uuid" else cat, f"QuickTime:{name}")
            src.seek(start)
            header = bytearray(src.read(payload - start))
            header[4:8] = b"free"
            dst.write(header)
            _write_zeros(dst, end - payload)


def _write_zeros(dst: BinaryIO, count: int) -> None:
    block = bytes(min(count, COPY_CHUNK))
    while count > 0:
        dst.write(block[: min(count, COPY_CHUNK)])
        count -= COPY_CHUNK


def _copy_range(
    src: BinaryIO, dst: BinaryIO, start: int, end: int, zero: list[tuple[int, int]]
) -> None:
    """Stream ``src[start:end]`` to ``dst`` in fixed chunks, zeroing the ``zero`` ranges."""
    src.seek(start)
    pos = start
    while pos < end:
        chunk = bytearray(src.read(min(COPY_CHUNK, end - pos)))
        if not chunk:
            msg = "source file shrank while being read"
            raise CorruptMedia(msg)
        chunk_end = pos + len(chunk)
        for z_off, z_len in zero:
            lo, hi = max(z_off, pos), min(z_off + z_len, chunk_end)
            if lo < hi:
                chunk[lo - pos : hi - pos] = bytes(hi - lo)
        dst.write(chunk)
        pos = chunk_end


def strip_video(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """In-memory form of :func:`strip_video_file` (same code path)."""
    out = io.BytesIO()
    strip_video_file(io.BytesIO(data), out, policy, removals, label)
    return out.getvalue()
