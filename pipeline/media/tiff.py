"""TIFF structures: IFD parsing with bounds, EXIF rewriting, and a minimal IFD writer.

Used for EXIF blobs (JPEG APP1, WebP ``EXIF``, PNG ``eXIf``) and for whole TIFF files.
Every offset read from the input is bounds-checked before use, IFD chains are followed with a
visited set and a hard cap, so a hostile file can neither loop nor make us read past its end.
We never *copy* an IFD from the input: the output EXIF is written from scratch from the few
values the policy keeps, so an unknown tag can never leak through.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

from exifread.tags.exif import EXIF_TAGS, GPS_TAGS, INTEROP_TAGS

from pipeline.errors import CorruptMedia
from pipeline.media.policy import MediaPolicy, Removals

# Value sizes of the TIFF field types (TIFF 6.0 + BigTIFF types we only need to size).
TYPE_SIZES: Final[dict[int, int]] = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
# Final: mypyc compiles Final module constants to C constants (other module globals are
# looked up in the module's dict at every use).
BYTE: Final = 1
ASCII: Final = 2
SHORT: Final = 3
LONG: Final = 4
RATIONAL: Final = 5
UNDEFINED: Final = 7

MAX_IFDS: Final = 32  # IFD0, IFD1, Exif, GPS, Interop... real files have < 10
MAX_ENTRIES: Final = 2048  # per IFD; real IFDs have < 300
MAX_PIXELS: Final = 178_956_970  # Pillow's decompression-bomb error threshold; refuse above it

TAG_EXIF_IFD: Final = 0x8769
TAG_GPS_IFD: Final = 0x8825
TAG_INTEROP_IFD: Final = 0xA005
TAG_ORIENTATION: Final = 0x0112
DATE_TAGS_IFD0: Final = (0x0132,)  # DateTime
DATE_TAGS_EXIF: Final = (0x9003, 0x9004, 0x9010, 0x9011, 0x9012, 0x9290, 0x9291, 0x9292)
_DATE_TAG_SET: Final = frozenset(DATE_TAGS_IFD0 + DATE_TAGS_EXIF)

# Category of well-known tags; everything else in a removed IFD is "other".
_CATEGORY: Final[dict[int, str]] = {
    0x013B: "owner",
    0x8298: "owner",
    0xA430: "owner",
    0x9C9D: "owner",
    0xFDE8: "owner",
    0x013C: "identifiers",
    0xA431: "serial",
    0xA435: "serial",
    0xC62F: "serial",
    0xFDE9: "serial",
    0x927C: "maker_notes",
    0xC634: "maker_notes",
    0xA420: "identifiers",
    0x010F: "identifiers",
    0x0110: "identifiers",
    0x0131: "identifiers",
    0xA432: "identifiers",
    0xA433: "identifiers",
    0xA434: "identifiers",
    0xC614: "identifiers",
    0xC615: "identifiers",
    0x02BC: "xmp",
    0x83BB: "iptc",
    0x8649: "iptc",
    0x0132: "dates",
    0x9003: "dates",
    0x9004: "dates",
    0x9010: "dates",
    0x9011: "dates",
    0x9012: "dates",
    0x9290: "dates",
    0x9291: "dates",
    0x9292: "dates",
    # GeoTIFF keys place the image on the earth.
    33550: "location",
    33922: "location",
    34264: "location",
    34735: "location",
    34736: "location",
    34737: "location",
    TAG_GPS_IFD: "location",
}
_EXTRA_NAMES: Final[dict[int, str]] = {
    33550: "ModelPixelScaleTag",
    33922: "ModelTiepointTag",
    34264: "ModelTransformationTag",
    34735: "GeoKeyDirectoryTag",
    34736: "GeoDoubleParamsTag",
    34737: "GeoAsciiParamsTag",
    0xC634: "DNGPrivateData",
    0xC62F: "CameraSerialNumber",
    34675: "ICC_Profile",
    0x02BC: "XMP",
    0x83BB: "IPTC-NAA",
    0x8649: "PhotoshopSettings",
}


def tag_name(tag: int, ifd: str = "IFD0") -> str:
    """Human name of ``tag`` in an IFD of kind ``ifd`` (``GPS``, ``Interop`` or other)."""
    entry: tuple[object, ...] | None
    if ifd == "GPS":
        entry = GPS_TAGS.get(tag)
    elif ifd == "Interop":
        entry = INTEROP_TAGS.get(tag)
    else:
        entry = EXIF_TAGS.get(tag)
    if tag in _EXTRA_NAMES and ifd not in ("GPS", "Interop"):
        return _EXTRA_NAMES[tag]
    return str(entry[0]) if entry else f"Tag0x{tag:04X}"


def category_of(tag: int, ifd: str) -> str:
    """Removal category of ``tag`` found in an IFD of kind ``ifd``."""
    if ifd == "GPS":
        return "location"
    if ifd == "IFD1":
        return "thumbnail"
    return _CATEGORY.get(tag, "other")


class Entry:
    """One IFD entry; ``offset`` is where its value bytes start in the buffer, -1 if invalid.

    A plain class with read-only attributes, compared by value: mypyc compiles its
    constructor, where a named tuple's (or a frozen dataclass's) stays interpreted Python.
    """

    def __init__(self, tag: int, type: int, count: int, offset: int, size: int) -> None:
        self.tag: Final = tag
        self.type: Final = type
        self.count: Final = count
        self.offset: Final = offset
        self.size: Final = size

    def _key(self) -> tuple[int, int, int, int, int]:
        return (self.tag, self.type, self.count, self.offset, self.size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Entry) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return "Entry(tag={}, type={}, count={}, offset={}, size={})".format(*self._key())


class Entries(Mapping[int, Entry]):
    """An IFD's entries by tag, decoded on lookup from the raw entry table.

    Most tags of an EXIF block are only named in the removal report, never read: building an
    :class:`Entry` for each one up front was the largest single cost of stripping a photo.
    Only the tag numbers are unpacked up front (in C, one call per IFD); a lookup finds the
    tag's position with ``tuple.index`` (in C; an IFD is looked up a few times, so this costs
    less than building an index) and decodes that one entry, checking its value offset then,
    with the same result as checking it up front. The first of duplicated tags wins.

    Attributes:
        tags: every entry's tag number, in file order (duplicates included).
    """

    __slots__ = ("_data", "_table_at", "_value_layout", "tags")

    def __init__(
        self, data: bytes, table_at: int, tags: tuple[int, ...], value_layout: struct.Struct
    ) -> None:
        self._data = data
        self._table_at = table_at  # offset of the first entry in the buffer
        self._value_layout = value_layout  # (type, count, value) of one entry
        self.tags = tags

    def __getitem__(self, tag: int) -> Entry:
        try:
            i = self.tags.index(tag)
        except ValueError:
            raise KeyError(tag) from None
        at = self._table_at + 12 * i
        typ, cnt, value = self._value_layout.unpack_from(self._data, at + 2)
        unit = TYPE_SIZES.get(typ)
        size = (unit or 0) * cnt
        if unit is None:
            voff = -1
        elif size <= 4:
            voff = at + 8
        else:
            voff = value if value + size <= len(self._data) else -1  # out of bounds: never read
        return Entry(tag, typ, cnt, voff, size)

    def get(self, tag: int, default: Entry | None = None) -> Entry | None:  # type: ignore[override]
        """The entry for ``tag``, or ``default``."""
        return self[tag] if tag in self.tags else default

    def __contains__(self, tag: object) -> bool:
        return tag in self.tags

    def __iter__(self) -> Iterator[int]:
        # File order; each duplicated tag once.
        return iter(dict.fromkeys(self.tags))

    def __len__(self) -> int:
        return len(set(self.tags))


class Ifd:
    """A parsed IFD: entries by tag and the offset of the next IFD (0 = none).

    A plain class with read-only attributes rather than a frozen dataclass: mypyc compiles
    its constructor (a frozen dataclass's stays interpreted), and every strip builds several.
    """

    def __init__(self, entries: Entries, next_offset: int) -> None:
        self.entries: Final = entries
        self.next_offset: Final = next_offset


class TiffReader:
    """Bounds-checked reader over a TIFF-structured buffer (a TIFF file or an EXIF blob).

    Args:
        data: the buffer, starting at the TIFF header (``II*\\0`` or ``MM\\0*``).
        label: names the file in error messages.

    Raises:
        CorruptMedia: bad header.
    """

    def __init__(self, data: bytes, label: str) -> None:
        if len(data) < 8:
            msg = f"{label}: TIFF header truncated"
            raise CorruptMedia(msg)
        if data[:4] == b"II*\x00":
            self.endian = "<"
        elif data[:4] == b"MM\x00*":
            self.endian = ">"
        else:
            msg = f"{label}: bad TIFF header"
            raise CorruptMedia(msg)
        self.data = data
        self.label = label
        # Compiled once per reader instead of a format string built per value read.
        layouts = _LAYOUTS[self.endian]
        self._u16 = layouts.u16
        self._u32 = layouts.u32
        self._values = layouts.values
        self.first_ifd = self.u32(4)
        self._visited: set[int] = set()

    def u16(self, off: int) -> int:
        """Unsigned 16-bit value at ``off`` (caller checked bounds)."""
        return int(self._u16.unpack_from(self.data, off)[0])

    def u32(self, off: int) -> int:
        """Unsigned 32-bit value at ``off`` (caller checked bounds)."""
        return int(self._u32.unpack_from(self.data, off)[0])

    def ifd(self, offset: int, where: str) -> Ifd:
        """Parse the IFD at ``offset``.

        Raises:
            CorruptMedia: the IFD lies past the end, repeats (a loop), or there are too many.
        """
        n = len(self.data)
        if offset in self._visited:
            msg = f"{self.label}: IFD offset loop at {where}"
            raise CorruptMedia(msg)
        if len(self._visited) >= MAX_IFDS:
            msg = f"{self.label}: too many IFDs (over {MAX_IFDS})"
            raise CorruptMedia(msg)
        if offset < 8 or offset + 2 > n:
            msg = f"{self.label}: {where} offset past the end of the data"
            raise CorruptMedia(msg)
        self._visited.add(offset)
        count = self.u16(offset)
        if count > MAX_ENTRIES or offset + 2 + 12 * count + 4 > n:
            msg = f"{self.label}: {where} entry table past the end of the data"
            raise CorruptMedia(msg)
        # One unpack of the table's tag numbers (bounds checked above); entries are decoded
        # when looked up.
        tags = _tag_table(self.endian, count).unpack_from(self.data, offset + 2)
        entries = Entries(self.data, offset + 2, tags, self._values)
        return Ifd(entries, self.u32(offset + 2 + 12 * count))

    def raw(self, e: Entry) -> bytes:
        """The value bytes of ``e`` (empty if the entry's value is out of bounds)."""
        return b"" if e.offset < 0 else self.data[e.offset : e.offset + e.size]

    def ints(self, e: Entry) -> tuple[int, ...]:
        """Values of a BYTE/SHORT/LONG entry; empty for any other type or a bad offset."""
        fmt = {BYTE: "B", SHORT: "H", LONG: "I", 13: "I"}.get(e.type)
        if fmt is None or e.offset < 0:
            return ()
        return tuple(
            int(v) for v in struct.unpack_from(f"{self.endian}{e.count}{fmt}", self.data, e.offset)
        )

    def rationals(self, e: Entry) -> tuple[tuple[int, int], ...]:
        """Values of a RATIONAL entry as (numerator, denominator) pairs."""
        if e.type != RATIONAL or e.offset < 0:
            return ()
        v = struct.unpack_from(f"{self.endian}{2 * e.count}I", self.data, e.offset)
        return tuple((int(v[i]), int(v[i + 1])) for i in range(0, len(v), 2))

    def pointer(self, ifd: Ifd, tag: int) -> int | None:
        """Offset stored in a sub-IFD pointer tag, or None if absent or malformed."""
        e = ifd.entries.get(tag)
        if e is None or e.type not in (LONG, 13, UNDEFINED) or e.count != 1 or e.offset < 0:
            return None
        return self.u32(e.offset)


class ExifDirs:
    """The IFDs of an EXIF blob, by kind; absent ones are None. Read-only attributes (a
    plain class for mypyc, like :class:`Ifd`)."""

    def __init__(
        self,
        reader: TiffReader,
        ifd0: Ifd,
        exif: Ifd | None,
        gps: Ifd | None,
        interop: Ifd | None,
        later: tuple[Ifd, ...],
    ) -> None:
        self.reader: Final = reader
        self.ifd0: Final = ifd0
        self.exif: Final = exif
        self.gps: Final = gps
        self.interop: Final = interop
        self.later: Final = later  # IFD1 (thumbnail) and anything chained after it


def read_exif(data: bytes, label: str) -> ExifDirs:
    """Parse the IFD tree of an EXIF blob (TIFF header first).

    Raises:
        CorruptMedia: broken header or IFD structure (loops, offsets past the end).
    """
    r = TiffReader(data, label)
    ifd0 = r.ifd(r.first_ifd, "IFD0")
    exif = _sub(r, ifd0, TAG_EXIF_IFD, "ExifIFD")
    gps = _sub(r, ifd0, TAG_GPS_IFD, "GPS IFD")
    interop = _sub(r, exif, TAG_INTEROP_IFD, "Interop IFD") if exif else None
    later: list[Ifd] = []
    nxt = ifd0.next_offset
    while nxt:  # bounded: TiffReader.ifd refuses loops and more than MAX_IFDS
        ifd = r.ifd(nxt, f"IFD{len(later) + 1}")
        later.append(ifd)
        nxt = ifd.next_offset
    return ExifDirs(r, ifd0, exif, gps, interop, tuple(later))


def _sub(r: TiffReader, parent: Ifd, tag: int, where: str) -> Ifd | None:
    off = r.pointer(parent, tag)
    return r.ifd(off, where) if off else None


def exif_tag_ids(dirs: ExifDirs) -> Iterable[tuple[str, int]]:
    """Every tag in the blob as (ifd kind, tag id); ``("IFD1", -1)`` is the thumbnail."""
    for kind, ifd in _groups(dirs):
        for tag in ifd.entries:
            if tag in (TAG_EXIF_IFD, TAG_INTEROP_IFD):
                continue  # structure, not metadata
            yield kind, tag
    if dirs.later:
        yield "IFD1", -1


def report_removed(dirs: ExifDirs, kept: set[tuple[str, int]], removals: Removals) -> None:
    """Record every tag of ``dirs`` except those in ``kept`` as removed (see exif_tag_ids).

    The same tags as iterating :func:`exif_tag_ids`, reported from a summary of the whole
    blob kept per tag layout (:data:`_EXIF_SUMMARIES`), built from the per-IFD summaries of
    :func:`_removed_summary`: a photo has dozens of tags and this runs for every photo.
    """
    kept_in = _kept_by_kind(kept)
    layout = tuple((kind, ifd.entries.tags, kept_in.get(kind, ())) for kind, ifd in _groups(dirs))
    report_layout(layout, bool(dirs.later) and ("IFD1", -1) not in kept, removals)


Layout = tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]


def report_layout(layout: Layout, thumbnail: bool, removals: Removals) -> None:
    """:func:`report_removed` from an EXIF block's layout: per IFD in the order of
    :func:`_groups`, its kind, every tag number in file order and the kept tag numbers
    sorted; ``thumbnail``: report the IFD1 thumbnail."""
    for category, names in layout_summary(layout, thumbnail):
        removals.add_all(category, names)


def layout_summary(layout: Layout, thumbnail: bool) -> tuple[tuple[str, frozenset[str]], ...]:
    """(category, tag names) that :func:`report_layout` records."""
    key = (layout, thumbnail)
    summary = _EXIF_SUMMARIES.get(key)
    if summary is None:
        found: dict[str, set[str]] = {}
        for kind, tags, kept_here in layout:
            for category, names in _removed_summary(kind, tags, kept_here):
                found.setdefault(category, set()).update(names)
        if thumbnail:
            category, name = removed_as("IFD1", -1)
            found.setdefault(category, set()).add(name)
        summary = tuple((category, frozenset(names)) for category, names in found.items())
        if sum(len(tags) for _, tags, _ in layout) <= _MAX_EXIF_SUMMARY_TAGS:
            if len(_EXIF_SUMMARIES) >= _MAX_SUMMARIES:
                _EXIF_SUMMARIES.clear()
            _EXIF_SUMMARIES[key] = summary
    return summary


def _kept_by_kind(kept: set[tuple[str, int]]) -> dict[str, tuple[int, ...]]:
    """The kept tag numbers of each IFD kind, sorted (one pass over ``kept``)."""
    found: dict[str, list[int]] = {}
    for where, tag in kept:
        tags = found.get(where)
        if tags is None:
            tags = found[where] = []
        tags.append(tag)
    return {kind: tuple(sorted(tags)) for kind, tags in found.items()}


# (per IFD: kind, tag numbers, kept tag numbers; thumbnail reported) -> what report_removed
# records for a whole blob: the usual photo's categories each come as one frozenset, kept by
# Removals without a copy. Tag numbers only, never values; bounded like _SUMMARIES.
_EXIF_SUMMARIES: Final[
    dict[
        tuple[tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...], bool],
        tuple[tuple[str, frozenset[str]], ...],
    ]
] = {}
_MAX_EXIF_SUMMARY_TAGS: Final = 1024


# (IFD kind, tag numbers, kept tag numbers) -> what report_removed records for that IFD. The
# key is tag numbers only, never values (the report names those tags anyway); the same few
# layouts recur in every photo from a camera model. Bounded in entries and in key size, so
# hostile files with random or huge tag tables cannot grow it: those are summarised uncached.
_SUMMARIES: Final[
    dict[tuple[str, tuple[int, ...], tuple[int, ...]], tuple[tuple[str, frozenset[str]], ...]]
] = {}
_MAX_SUMMARIES: Final = 512
_MAX_SUMMARY_TAGS: Final = 256


def _removed_summary(
    kind: str, tags: tuple[int, ...], kept: tuple[int, ...]
) -> tuple[tuple[str, frozenset[str]], ...]:
    """(category, tag names) removed from an IFD of kind ``kind`` holding ``tags``, other
    than the pointers to sub-IFDs (structure, not metadata) and the ``kept`` tags."""
    key = (kind, tags, kept)
    summary = _SUMMARIES.get(key)
    if summary is not None:
        return summary
    found: dict[str, set[str]] = {}
    for tag in tags:
        if tag == TAG_EXIF_IFD or tag == TAG_INTEROP_IFD or tag in kept:
            continue
        category, name = removed_as(kind, tag)
        names = found.get(category)
        if names is None:
            names = found[category] = set()
        names.add(name)
    summary = tuple((category, frozenset(names)) for category, names in found.items())
    if len(tags) <= _MAX_SUMMARY_TAGS:
        if len(_SUMMARIES) >= _MAX_SUMMARIES:
            _SUMMARIES.clear()
        _SUMMARIES[key] = summary
    return summary


_TABLES: Final[dict[tuple[str, int], struct.Struct]] = {}


class _Layouts:
    """The compiled struct layouts of one byte order (built once, not per value)."""

    def __init__(self, endian: str) -> None:
        self.u16: Final = struct.Struct(endian + "H")
        self.u32: Final = struct.Struct(endian + "I")
        self.values: Final = struct.Struct(endian + "HII")  # an entry's type, count, value
        # Writing: an entry with its value inline (up to 4 bytes), or with the value's offset.
        self.entry_inline: Final = struct.Struct(endian + "HHI4s")
        self.entry_pointing: Final = struct.Struct(endian + "HHII")


_LAYOUTS: Final = {e: _Layouts(e) for e in "<>"}


def _tag_table(endian: str, count: int) -> struct.Struct:
    """The compiled layout of the tag numbers of an IFD entry table of ``count`` entries (at
    most MAX_ENTRIES, so at most 2 x 2048 layouts are ever kept)."""
    key = (endian, count)
    layout = _TABLES.get(key)
    if layout is None:
        layout = _TABLES.setdefault(key, struct.Struct(f"{endian}{'H10x' * count}"))
    return layout


def _groups(dirs: ExifDirs) -> list[tuple[str, Ifd]]:
    groups = [
        (kind, ifd)
        for kind, ifd in (
            ("IFD0", dirs.ifd0),
            ("ExifIFD", dirs.exif),
            ("GPS", dirs.gps),
            ("Interop", dirs.interop),
        )
        if ifd is not None
    ]
    return groups + [("IFD1", ifd) for ifd in dirs.later]


def exif_tags(dirs: ExifDirs) -> Iterable[tuple[str, int, str]]:
    """Every tag in the blob as (ifd kind, tag id, name), for reporting."""
    for kind, tag in exif_tag_ids(dirs):
        yield kind, tag, removed_as(kind, tag)[1]


@functools.lru_cache(maxsize=4096)
def removed_as(kind: str, tag: int) -> tuple[str, str]:
    """(category, name) under which tag ``tag`` of an IFD of kind ``kind`` is reported.

    Cached: the same few dozen tags recur in every photo, and the lookups through the
    exifread tables cost more than the rest of the EXIF rewrite. Bounded, so hostile
    files with random tag ids cannot grow it.
    """
    if tag < 0:
        return "thumbnail", "ThumbnailImage"
    return category_of(tag, kind), tag_name(tag, kind)


class OutEntry:
    """An entry to write: the value bytes are already in the output byte order.

    A plain class: mypyc compiles its constructor, where a dataclass's stays interpreted.
    """

    def __init__(self, tag: int, type: int, count: int, value: bytes) -> None:
        self.tag = tag
        self.type = type
        self.count = count
        self.value = value  # replaced by build_exif for the sub-IFD pointers

    def __repr__(self) -> str:
        return (
            f"OutEntry(tag={self.tag}, type={self.type}, count={self.count}, value={self.value!r})"
        )


def write_ifd(entries: list[OutEntry], start: int, endian: str, next_ifd: int = 0) -> bytes:
    """Serialise one IFD placed at ``start`` followed by its out-of-line values.

    Entries are sorted by tag as TIFF requires; values are word-aligned.
    """
    entries = sorted(entries, key=_tag_of)
    layouts = _LAYOUTS[endian]
    inline, pointing = layouts.entry_inline, layouts.entry_pointing
    table = [layouts.u16.pack(len(entries))]
    values: list[bytes] = []
    offset = start + 2 + 12 * len(entries) + 4  # where the out-of-line values start
    for e in entries:
        value = e.value
        if len(value) <= 4:
            table.append(inline.pack(e.tag, e.type, e.count, value))  # "4s" pads with NULs
        else:
            table.append(pointing.pack(e.tag, e.type, e.count, offset))
            values.append(value)
            offset += len(value)
            if len(value) % 2:
                values.append(b"\x00")
                offset += 1
    table.append(layouts.u32.pack(next_ifd))
    return b"".join(table) + b"".join(values)


def _tag_of(entry: OutEntry) -> int:
    return entry.tag


def ifd_size(entries: list[OutEntry]) -> int:
    """Bytes :func:`write_ifd` will produce for ``entries``."""
    out = 2 + 12 * len(entries) + 4
    for e in entries:
        if len(e.value) > 4:
            out += len(e.value) + len(e.value) % 2
    return out


def _copy(r: TiffReader, e: Entry) -> OutEntry | None:
    """Re-encode ``e`` in the reader's byte order (same order, so bytes are reusable)."""
    raw = r.raw(e)
    return OutEntry(e.tag, e.type, e.count, raw) if raw or e.size == 0 else None


def _coarse(r: TiffReader, gps: Ifd, ref_tag: int, val_tag: int) -> tuple[bytes, float] | None:
    ref, val = gps.entries.get(ref_tag), gps.entries.get(val_tag)
    if ref is None or val is None or val.count != 3:
        return None
    parts = r.rationals(val)
    if len(parts) != 3 or any(d == 0 for _, d in parts):
        return None
    deg = sum(n / d / f for (n, d), f in zip(parts, (1, 60, 3600), strict=True))
    return r.raw(ref)[:1], round(deg, 2)


def coarse_gps_entries(r: TiffReader, gps: Ifd | None) -> list[OutEntry]:
    """GPS entries with latitude/longitude rounded to 0.01 degree; [] if unusable."""
    if gps is None:
        return []
    lat = _coarse(r, gps, 1, 2)
    lon = _coarse(r, gps, 3, 4)
    if lat is None or lon is None or lat[0] not in (b"N", b"S") or lon[0] not in (b"E", b"W"):
        return []
    e = r.endian

    def rat(deg: float) -> bytes:
        return struct.pack(e + "6I", round(deg * 100), 100, 0, 1, 0, 1)

    return [
        OutEntry(0, BYTE, 4, bytes((2, 3, 0, 0))),
        OutEntry(1, ASCII, 2, lat[0] + b"\x00"),
        OutEntry(2, RATIONAL, 3, rat(lat[1])),
        OutEntry(3, ASCII, 2, lon[0] + b"\x00"),
        OutEntry(4, RATIONAL, 3, rat(lon[1])),
    ]


def build_exif(
    ifd0: list[OutEntry], exif: list[OutEntry], gps: list[OutEntry], endian: str
) -> bytes:
    """A complete EXIF/TIFF blob: IFD0 with optional ExifIFD and GPS IFD, no IFD1."""
    e = endian
    ifd0 = list(ifd0)
    if exif:
        ifd0.append(OutEntry(TAG_EXIF_IFD, LONG, 1, b"\x00" * 4))
    if gps:
        ifd0.append(OutEntry(TAG_GPS_IFD, LONG, 1, b"\x00" * 4))
    pos = 8 + ifd_size(ifd0)
    exif_off = pos
    pos += ifd_size(exif) if exif else 0
    gps_off = pos
    for ent in ifd0:
        if ent.tag == TAG_EXIF_IFD:
            ent.value = _LAYOUTS[e].u32.pack(exif_off)
        elif ent.tag == TAG_GPS_IFD:
            ent.value = _LAYOUTS[e].u32.pack(gps_off)
    header = (b"II*\x00" if e == "<" else b"MM\x00*") + _LAYOUTS[e].u32.pack(8)
    out = header + write_ifd(ifd0, 8, e)
    if exif:
        out += write_ifd(exif, exif_off, e)
    if gps:
        out += write_ifd(gps, gps_off, e)
    return out


def rewrite_exif(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes | None:
    """Minimal EXIF replacing ``data``: Orientation, dates if kept, coarse GPS if allowed.

    Every other tag of the input is reported in ``removals`` by category.

    Returns:
        The new TIFF-structured blob, or None when nothing is worth keeping.

    Raises:
        CorruptMedia: the IFD structure is broken.
    """
    dirs = read_exif(data, label)
    r = dirs.reader
    out0: list[OutEntry] = []
    out_exif: list[OutEntry] = []
    kept: set[tuple[str, int]] = set()
    orient = dirs.ifd0.entries.get(TAG_ORIENTATION)
    if orient is not None and orient.type == SHORT and orient.count == 1:
        values = r.ints(orient)
        if values and 1 <= values[0] <= 8:
            out0.append(OutEntry(TAG_ORIENTATION, SHORT, 1, r.raw(orient)))
            kept.add(("IFD0", TAG_ORIENTATION))
            removals.keep("Orientation")
    if policy.keep_dates:
        for kind, ifd, tags, out in (
            ("IFD0", dirs.ifd0, DATE_TAGS_IFD0, out0),
            ("ExifIFD", dirs.exif, DATE_TAGS_EXIF, out_exif),
        ):
            if ifd is None:
                continue
            # The date tags present, found in one pass: a lookup of an absent tag scans the
            # whole table, and most of these are absent from most photos.
            present = _DATE_TAG_SET.intersection(ifd.entries.tags)
            for tag in tags:
                ent = ifd.entries[tag] if tag in present else None
                copied = _copy(r, ent) if ent is not None and ent.type == ASCII else None
                if copied is not None and ent is not None and ent.count <= 64:
                    out.append(copied)
                    kept.add((kind, tag))
                    removals.keep(tag_name(tag, kind))
    gps = coarse_gps_entries(r, dirs.gps) if policy.location == "coarse" else []
    if gps:
        kept.update({("GPS", 1), ("GPS", 2), ("GPS", 3), ("GPS", 4)})
        removals.keep("GPSLatitude(coarse)")
        removals.keep("GPSLongitude(coarse)")
    report_removed(dirs, kept, removals)
    if not (out0 or out_exif or gps):
        return None
    if len(out0) == 1 and out0[0].tag == TAG_ORIENTATION and not out_exif and not gps:
        # Orientation alone, the usual outcome: one of 2 x 8 blobs, built once each.
        key = (r.endian, out0[0].value)
        blob = _ORIENTATION_ONLY.get(key)
        if blob is None:
            blob = _ORIENTATION_ONLY[key] = build_exif(out0, [], [], r.endian)
        return blob
    return build_exif(out0, out_exif, gps, r.endian)


# (byte order, Orientation value bytes) -> the EXIF blob holding only that Orientation. The
# value was checked to be 1-8 (a SHORT), so this holds at most 16 entries.
_ORIENTATION_ONLY: Final[dict[tuple[str, bytes], bytes]] = {}
