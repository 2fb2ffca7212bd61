"""HEIC/HEIF/AVIF: remove Exif, XMP and thumbnail items from the ``meta`` box.

The coded image items are copied byte for byte. Removed items disappear from ``iinf``,
``iloc``, ``iref`` and ``ipma``; their bytes in ``mdat``/``idat`` are zeroed so they cannot be
recovered. When ``meta`` shrinks, every ``iloc`` file offset pointing past it is shifted by the
same amount, so the image items still point at their (unchanged) data. Orientation survives as
the ``irot``/``imir`` properties, which are what HEIF decoders use. Coarse location is not
written into HEIF (it would need a new Exif item); the policy's "coarse" means "at most
coarse", so dropping it is always allowed.
"""

from __future__ import annotations

import struct

from pipeline.errors import CorruptMedia, UnsupportedMedia
from pipeline.media.isobmff import iter_boxes
from pipeline.media.policy import MediaPolicy, Removals
from pipeline.media.tiff import MAX_PIXELS, rewrite_exif
from pipeline.media.xmp import report_xmp

MAX_ITEMS = 65_536


def strip_heif(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Return ``data`` without Exif/XMP/thumbnail items.

    Raises:
        CorruptMedia: broken boxes, iloc entries past the end, the primary item removed.
        UnsupportedMedia: image sequences (``moov``), unknown iloc/iinf versions.
    """
    top = list(iter_boxes(data, 0, len(data), label))
    types = [b[0] for b in top]
    if types.count(b"meta") != 1:
        msg = f"{label}: expected exactly one meta box"
        raise CorruptMedia(msg)
    if b"moov" in types:
        msg = f"{label}: HEIF image sequences are not supported"
        raise UnsupportedMedia(msg)
    _, m_start, m_payload, m_end = top[types.index(b"meta")]
    children = list(iter_boxes(data, m_payload + 4, m_end, label))  # full box: skip version
    kids = {c[0]: c for c in children}
    for need in (b"iinf", b"iloc", b"pitm"):
        if need not in kids:
            msg = f"{label}: meta box lacks {need.decode()}"
            raise CorruptMedia(msg)
    items = _iinf(data, kids[b"iinf"], label)
    refs = _iref(data, kids[b"iref"], label) if b"iref" in kids else []
    _check_dims(data, kids.get(b"iprp"), label)
    primary = _pitm(data, kids[b"pitm"])
    thumbs = {src for rtype, src, _ in refs if rtype == b"thmb"}
    drop: set[int] = set(thumbs)
    for item_id, (itype, ctype) in items.items():
        if itype == b"Exif" or (itype == b"mime" and b"xml" in ctype) or itype == b"uri ":
            drop.add(item_id)
    if primary in drop:
        msg = f"{label}: primary item is a metadata item"
        raise CorruptMedia(msg)
    loc = _iloc(data, kids[b"iloc"], label)
    idat = kids.get(b"idat")
    zero: list[tuple[int, int]] = []
    for item_id in sorted(drop):
        payload = b"".join(
            data[o : o + n] for o, n in _file_extents(loc, item_id, idat, label, len(data))
        )
        itype = items.get(item_id, (b"", b""))[0]
        if item_id in thumbs:
            removals.add("thumbnail", "HEIF-ThumbnailImage")
        elif itype == b"Exif":
            _report_exif(payload, policy, removals, label)
        elif itype == b"mime":
            report_xmp(payload, removals)
        else:
            removals.add("other", f"HEIF-{itype.decode('latin-1')}Item")
        zero.extend(_file_extents(loc, item_id, idat, label, len(data)))
    # New meta children, then the shift every later file offset needs.
    new_children: list[bytes] = []
    for btype, s, p, e in children:
        if btype == b"iinf":
            new_children.append(_new_iinf(data, s, p, e, drop, label))
        elif btype == b"iref":
            new_children.append(_new_iref(data, s, p, e, drop, refs))
        elif btype == b"iprp":
            new_children.append(_new_iprp(data, s, p, e, drop, label))
        elif btype == b"iloc":
            new_children.append(b"")  # placeholder: size depends only on kept entries
        elif btype == b"idat":
            body = bytearray(data[s:e])
            for off, n in zero:
                if p <= off and off + n <= e:
                    body[off - s : off - s + n] = bytes(n)
            new_children.append(bytes(body))
        else:
            new_children.append(data[s:e])
    iloc_index = [c[0] for c in children].index(b"iloc")
    new_children[iloc_index] = loc.serialise(drop, 0)
    new_meta_size = (m_payload - m_start) + 4 + sum(len(c) for c in new_children)
    delta = new_meta_size - (m_end - m_start)
    new_children[iloc_index] = loc.serialise(drop, delta, after=m_end)
    meta = _box(b"meta", data[m_payload : m_payload + 4] + b"".join(new_children))
    out = bytearray()
    for btype, s, _p, e in top:
        out += meta if btype == b"meta" else data[s:e]
    for off, n in zero:  # zero the dropped items' bytes where they now live
        if off >= m_end:
            out[off + delta : off + delta + n] = bytes(n)
        elif off + n <= m_start:
            out[off : off + n] = bytes(n)
    return bytes(out)


def _box(btype: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def _report_exif(payload: bytes, policy: MediaPolicy, removals: Removals, label: str) -> None:
    """Exif item = 4-byte offset to the TIFF header, then the EXIF blob."""
    if len(payload) >= 4:
        skip = 4 + int.from_bytes(payload[:4], "big")
        try:
            rewrite_exif(payload[skip:], policy, removals, label)  # for the names only
            return
        except CorruptMedia:
            pass
    removals.add("other", "HEIF-Exif")


def _pitm(data: bytes, box: tuple[bytes, int, int, int]) -> int:
    _, _s, p, e = box
    version = data[p]
    if version == 0 and e - p >= 6:
        return int.from_bytes(data[p + 4 : p + 6], "big")
    return int.from_bytes(data[p + 4 : p + 8], "big")


def _iinf(
    data: bytes, box: tuple[bytes, int, int, int], label: str
) -> dict[int, tuple[bytes, bytes]]:
    """item id -> (item type, content type) from the ``infe`` entries."""
    _, _s, p, e = box
    start = p + (6 if data[p] == 0 else 8)
    items: dict[int, tuple[bytes, bytes]] = {}
    for btype, _s2, ip, ie in iter_boxes(data, start, e, label):
        if btype != b"infe":
            continue
        version = data[ip]
        if version < 2 or ie - ip < 12:
            msg = f"{label}: unsupported infe version"
            raise UnsupportedMedia(msg)
        id_len = 2 if version == 2 else 4
        item_id = int.from_bytes(data[ip + 4 : ip + 4 + id_len], "big")
        q = ip + 4 + id_len + 2
        itype = data[q : q + 4]
        rest = data[q + 4 : ie].split(b"\x00")
        ctype = rest[1] if itype == b"mime" and len(rest) > 1 else b""
        items[item_id] = (itype, ctype)
        if len(items) > MAX_ITEMS:
            msg = f"{label}: too many items"
            raise CorruptMedia(msg)
    return items


def _new_iinf(data: bytes, s: int, p: int, e: int, drop: set[int], label: str) -> bytes:
    version = data[p]
    start = p + (6 if version == 0 else 8)
    kept = []
    for btype, s2, ip, ie in iter_boxes(data, start, e, label):
        id_len = 2 if data[ip] == 2 else 4
        item_id = int.from_bytes(data[ip + 4 : ip + 4 + id_len], "big")
        if btype != b"infe" or item_id not in drop:
            kept.append(data[s2:ie])
    count = struct.pack(">H" if version == 0 else ">I", len(kept))
    return _box(b"iinf", data[p : p + 4] + count + b"".join(kept))


def _iref(
    data: bytes, box: tuple[bytes, int, int, int], label: str
) -> list[tuple[bytes, int, list[int]]]:
    _, _s, p, e = box
    width = 2 if data[p] == 0 else 4
    refs = []
    for rtype, _s2, rp, re_ in iter_boxes(data, p + 4, e, label):
        if re_ - rp < 2 * width + 2:
            msg = f"{label}: iref entry truncated"
            raise CorruptMedia(msg)
        src = int.from_bytes(data[rp : rp + width], "big")
        count = int.from_bytes(data[rp + width : rp + width + 2], "big")
        q = rp + width + 2
        if q + count * width > re_:
            msg = f"{label}: iref entry runs past its box"
            raise CorruptMedia(msg)
        to = [
            int.from_bytes(data[q + i * width : q + (i + 1) * width], "big") for i in range(count)
        ]
        refs.append((rtype, src, to))
    return refs


def _new_iref(
    data: bytes, s: int, p: int, e: int, drop: set[int], refs: list[tuple[bytes, int, list[int]]]
) -> bytes:
    fmt = ">H" if data[p] == 0 else ">I"
    body = bytearray(data[p : p + 4])
    for rtype, src, to in refs:
        kept = [t for t in to if t not in drop]
        if src in drop or not kept:
            continue
        entry = struct.pack(fmt, src) + struct.pack(">H", len(kept))
        entry += b"".join(struct.pack(fmt, t) for t in kept)
        body += _box(rtype, entry)
    return _box(b"iref", bytes(body))


def _new_iprp(data: bytes, s: int, p: int, e: int, drop: set[int], label: str) -> bytes:
    parts = []
    for btype, s2, ip, ie in iter_boxes(data, p, e, label):
        if btype != b"ipma":
            parts.append(data[s2:ie])
            continue
        version, flags = data[ip], int.from_bytes(data[ip + 1 : ip + 4], "big")
        id_len, assoc_len = (2 if version == 0 else 4), (2 if flags & 1 else 1)
        count = int.from_bytes(data[ip + 4 : ip + 8], "big")
        q, kept = ip + 8, []
        for _ in range(min(count, MAX_ITEMS)):
            if q + id_len + 1 > ie:
                msg = f"{label}: ipma entry truncated"
                raise CorruptMedia(msg)
            item_id = int.from_bytes(data[q : q + id_len], "big")
            n = data[q + id_len]
            end = q + id_len + 1 + n * assoc_len
            if end > ie:
                msg = f"{label}: ipma entry runs past its box"
                raise CorruptMedia(msg)
            if item_id not in drop:
                kept.append(data[q:end])
            q = end
        parts.append(
            _box(b"ipma", data[ip : ip + 4] + struct.pack(">I", len(kept)) + b"".join(kept))
        )
    return _box(b"iprp", b"".join(parts))


def _check_dims(data: bytes, iprp: tuple[bytes, int, int, int] | None, label: str) -> None:
    if iprp is None:
        return
    for btype, _s, p, e in iter_boxes(data, iprp[2], iprp[3], label):
        if btype != b"ipco":
            continue
        for ptype, _s2, pp, pe in iter_boxes(data, p, e, label):
            if ptype == b"ispe" and pe - pp >= 12:
                w, h = struct.unpack_from(">II", data, pp + 4)
                if w * h > MAX_PIXELS:
                    msg = f"{label}: declared dimensions exceed the {MAX_PIXELS}-pixel limit"
                    raise CorruptMedia(msg)


class _Iloc:
    """Parsed ``iloc``: field widths and per-item (construction method, base, extents)."""

    def __init__(self, version: int, flags_bytes: bytes, widths: tuple[int, int, int, int]):
        self.version = version
        self.flags_bytes = flags_bytes
        self.offset_size, self.length_size, self.base_size, self.index_size = widths
        self.entries: list[tuple[int, int, int, int, list[tuple[int, int, int]]]] = []
        self.extents: dict[int, list[tuple[int, int, int]]] = {}

    def serialise(self, drop: set[int], delta: int, after: int = 0) -> bytes:
        """The iloc box without ``drop`` items; offsets >= ``after`` (method 0) + ``delta``."""
        out = bytearray((self.version,)) + self.flags_bytes
        out += bytes(
            (
                (self.offset_size << 4) | self.length_size,
                (self.base_size << 4) | (self.index_size if self.version in (1, 2) else 0),
            )
        )
        kept = [en for en in self.entries if en[0] not in drop]
        out += struct.pack(">H" if self.version < 2 else ">I", len(kept))
        for item_id, method, dref, base, extents in kept:
            shift = method == 0 and after and (base + (extents[0][1] if extents else 0)) >= after
            new_base = base + delta if shift and self.base_size else base
            out += struct.pack(">H" if self.version < 2 else ">I", item_id)
            if self.version in (1, 2):
                out += struct.pack(">H", method & 0xF)
            out += struct.pack(">H", dref) + _uint(new_base, self.base_size)
            out += struct.pack(">H", len(extents))
            for index, off, length in extents:
                if self.version in (1, 2) and self.index_size:
                    out += _uint(index, self.index_size)
                new_off = off + delta if shift and not self.base_size else off
                out += _uint(new_off, self.offset_size) + _uint(length, self.length_size)
        return _box(b"iloc", bytes(out))


def _uint(value: int, size: int) -> bytes:
    if size == 0:
        return b""
    if value < 0 or value >= 1 << (8 * size):
        msg = "iloc value does not fit its field"
        raise ValueError(msg)
    return value.to_bytes(size, "big")


def _iloc(data: bytes, box: tuple[bytes, int, int, int], label: str) -> _Iloc:
    _, _s, p, e = box
    version = data[p]
    if version > 2 or e - p < 8:
        msg = f"{label}: unsupported iloc version"
        raise UnsupportedMedia(msg)
    b1, b2 = data[p + 4], data[p + 5]
    widths = (b1 >> 4, b1 & 0xF, b2 >> 4, b2 & 0xF if version in (1, 2) else 0)
    if any(w not in (0, 4, 8) for w in widths):
        msg = f"{label}: iloc field widths out of range"
        raise CorruptMedia(msg)
    loc = _Iloc(version, data[p + 1 : p + 4], widths)
    q = p + 6

    def read(size: int) -> int:
        nonlocal q
        if q + size > e:
            msg = f"{label}: iloc entry runs past its box"
            raise CorruptMedia(msg)
        v = int.from_bytes(data[q : q + size], "big")
        q += size
        return v

    count = read(2 if version < 2 else 4)
    for _ in range(min(count, MAX_ITEMS)):
        item_id = read(2 if version < 2 else 4)
        method = read(2) & 0xF if version in (1, 2) else 0
        dref = read(2)
        base = read(loc.base_size)
        extents = []
        for _ in range(read(2)):
            index = read(loc.index_size) if version in (1, 2) else 0
            extents.append((index, read(loc.offset_size), read(loc.length_size)))
        loc.entries.append((item_id, method, dref, base, extents))
        loc.extents[item_id] = extents
    return loc


def _file_extents(
    loc: _Iloc, item_id: int, idat: tuple[bytes, int, int, int] | None, label: str, size: int
) -> list[tuple[int, int]]:
    """Absolute (offset, length) of an item's bytes in the input file."""
    for en_id, method, _dref, base, extents in loc.entries:
        if en_id != item_id:
            continue
        if method == 0:
            spans = [(base + off, length) for _i, off, length in extents]
            limit = size
        elif method == 1 and idat is not None:
            spans = [(idat[2] + base + off, length) for _i, off, length in extents]
            limit = idat[3]
        else:
            msg = f"{label}: unsupported item construction method"
            raise UnsupportedMedia(msg)
        if any(length == 0 or o + length > limit for o, length in spans):
            msg = f"{label}: item extent empty or past the end of its data"
            raise CorruptMedia(msg)
        return spans
    return []
