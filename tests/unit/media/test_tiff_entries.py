"""IFD entry tables: values decoded on lookup, with the bounds and duplicate rules; the
removal report per IFD, computed and cached."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import CorruptMedia
from pipeline.media import tiff
from pipeline.media.policy import CATEGORIES, Removals
from pipeline.media.tiff import ASCII, SHORT, Entry, TiffReader
from tests.conftest import CORPUS


def _blob(endian: str, entries: list[tuple[int, int, int, int]], tail: bytes = b"") -> bytes:
    head = (b"II*\x00" if endian == "<" else b"MM\x00*") + struct.pack(endian + "I", 8)
    table = struct.pack(endian + "H", len(entries))
    for tag, typ, count, value in entries:
        table += struct.pack(endian + "HHII", tag, typ, count, value)
    return head + table + struct.pack(endian + "I", 0) + tail


@pytest.mark.parametrize("endian", ["<", ">"])
def test_lookup_bounds_and_duplicates(endian: str) -> None:
    n_entries = 5
    tail_at = 8 + 2 + 12 * n_entries + 4
    data = _blob(
        endian,
        [
            (0x0112, SHORT, 1, 0),  # inline value: offset is the entry's value field
            (0x010F, ASCII, 6, tail_at),  # out-of-line value inside the buffer
            (0x0110, ASCII, 64, tail_at),  # out-of-line value running past the end
            (0x9999, 99, 1, 0),  # unknown type: no value offset
            (0x0112, SHORT, 1, 0),  # duplicate: the first one wins
        ],
        tail=b"Nikon\x00",
    )
    r = TiffReader(data, "t")
    ifd = r.ifd(r.first_ifd, "IFD0")
    entries = ifd.entries
    assert list(entries) == [0x0112, 0x010F, 0x0110, 0x9999]
    assert len(entries) == 4
    assert entries[0x0112] == Entry(0x0112, SHORT, 1, 8 + 2 + 8, 2)
    assert r.raw(entries[0x010F]) == b"Nikon\x00"
    assert entries[0x0110].offset == -1 and r.raw(entries[0x0110]) == b""
    assert entries[0x9999].offset == -1 and entries[0x9999].size == 0
    assert 0x0110 in entries and 0x0111 not in entries
    assert entries.get(0x0111) is None
    with pytest.raises(KeyError):
        entries[0x0111]
    assert ifd.next_offset == 0


def _reference_report(dirs: tiff.ExifDirs, kept: set[tuple[str, int]]) -> dict[str, set[str]]:
    """What report_removed must record: every tag exif_tag_ids lists, less the kept ones."""
    out: dict[str, set[str]] = {}
    for kind, tag in tiff.exif_tag_ids(dirs):
        if (kind, tag) not in kept:
            category, name = tiff.removed_as(kind, tag)
            out.setdefault(category if category in CATEGORIES else "other", set()).add(name)
    return out


def _corpus_exif_blobs() -> list[Path]:
    """Corpus JPEGs that carry an EXIF block (opened once, at collection)."""
    from PIL import Image

    root = CORPUS / "media/ianare+exif-samples/jpg"
    found = []
    for path in sorted(root.rglob("*.jpg"))[:60]:
        with Image.open(path) as image:
            if image.info.get("exif", b"").startswith(b"Exif\x00\x00"):
                found.append(path)
    return found


@pytest.mark.parametrize("path", _corpus_exif_blobs(), ids=lambda p: p.name)
def test_report_removed_matches_the_tag_list_cold_and_cached(path: Path) -> None:
    from PIL import Image

    with Image.open(path) as image:
        exif = image.info["exif"]
    try:
        dirs = tiff.read_exif(exif[6:], path.name)
    except CorruptMedia:
        pytest.skip("broken EXIF block (covered by the bad-input tests)")
    tiff._SUMMARIES.clear()
    tiff._EXIF_SUMMARIES.clear()
    # Cleared once: a cache keyed without the kept tags would answer the second set wrongly.
    for kept in (set(), {("IFD0", tiff.TAG_ORIENTATION), ("GPS", 1), ("GPS", 2)}):
        for _ in range(2):  # once computed, once from the cache
            removals = Removals()
            tiff.report_removed(dirs, kept, removals)
            got = {c: set(names) for c, names in removals.result(b"", "x").removed.items()}
            assert got == _reference_report(dirs, kept)


def test_removal_summaries_are_bounded() -> None:
    tiff._SUMMARIES.clear()
    for i in range(tiff._MAX_SUMMARIES + 50):  # random layouts, as a hostile stream sends
        tiff._removed_summary("IFD0", (0x010F, 0x9000 + i), ())
    assert 0 < len(tiff._SUMMARIES) <= tiff._MAX_SUMMARIES
    tiff._SUMMARIES.clear()
    huge = tuple(range(0x100, 0x100 + tiff._MAX_SUMMARY_TAGS + 1))
    summary = tiff._removed_summary("ExifIFD", huge, ())
    assert sum(len(names) for _, names in summary) == len(huge)  # all reported...
    assert not tiff._SUMMARIES  # ...but not kept


def test_whole_blob_summaries_are_bounded() -> None:
    blob = _blob("<", [(0x010F, ASCII, 1, 0), (0x0112, SHORT, 1, 1)])
    dirs = tiff.read_exif(blob, "t")
    tiff._EXIF_SUMMARIES.clear()
    for i in range(tiff._MAX_SUMMARIES + 50):  # as many kept-tag variants: many layouts
        tiff.report_removed(dirs, {("IFD0", 0x9000 + i)}, Removals())
    assert 0 < len(tiff._EXIF_SUMMARIES) <= tiff._MAX_SUMMARIES
    tiff._EXIF_SUMMARIES.clear()


def test_shared_name_sets_are_copied_before_they_grow() -> None:
    # report_removed hands Removals the cached frozensets themselves; adding to a category
    # afterwards must copy, never change the cache (the next photo would report it).
    shared = frozenset({"Make", "Model"})
    first = Removals()
    first.add_all("identifiers", shared)
    first.add("identifiers", "Software")
    first.add_all("identifiers", {"Artist"})
    second = Removals()
    second.add_all("identifiers", shared)
    second.merge(first)
    assert shared == {"Make", "Model"}
    assert first.result(b"", "x").removed["identifiers"] == ("Artist", "Make", "Model", "Software")
    assert second.result(b"", "x").removed["identifiers"] == (
        "Artist",
        "Make",
        "Model",
        "Software",
    )
    third = Removals()
    third.add_all("no-such-category", shared)  # unknown: reported as other
    assert third.result(b"", "x").removed == {"other": ("Make", "Model")}


def test_sorted_name_tuples_are_cached_bounded_and_exact() -> None:
    from pipeline.media import policy

    policy._SORTED.clear()
    for i in range(policy._MAX_SORTED + 20):
        names = {f"Tag{i}", "Make", "b", "A"}
        assert policy._sorted_names(names) == tuple(sorted(names))
        assert policy._sorted_names(set(names)) == tuple(sorted(names))  # from the cache
    assert 0 < len(policy._SORTED) <= policy._MAX_SORTED
    policy._SORTED.clear()
    many = {f"n{i}" for i in range(600)}
    assert policy._sorted_names(many) == tuple(sorted(many))
    assert not policy._SORTED  # too large to keep


@pytest.mark.parametrize("endian", ["<", ">"])
def test_orientation_only_blobs_are_what_build_exif_writes(endian: str) -> None:
    from pipeline.media.policy import MediaPolicy

    tiff._ORIENTATION_ONLY.clear()
    for value in (1, 6, 8, 6):  # the last one from the cache
        data = _blob(
            endian, [(tiff.TAG_ORIENTATION, SHORT, 1, value << (16 if endian == ">" else 0))]
        )
        out = tiff.rewrite_exif(data, MediaPolicy(), Removals(), "t")
        raw = struct.pack(endian + "H", value)
        expected = tiff.build_exif(
            [tiff.OutEntry(tiff.TAG_ORIENTATION, SHORT, 1, raw)], [], [], endian
        )
        assert out == expected
        reread = tiff.read_exif(out, "t") if out else None
        assert reread is not None and reread.reader.ints(
            reread.ifd0.entries[tiff.TAG_ORIENTATION]
        ) == (value,)
    assert len(tiff._ORIENTATION_ONLY) == 3
    # With dates kept, a date alone in IFD0 is never cached (its value is not one of eight).
    dated = _blob(
        endian,
        [(0x0132, ASCII, 4, int.from_bytes(b"202\x00", "little" if endian == "<" else "big"))],
    )
    tiff.rewrite_exif(dated, MediaPolicy(keep_dates=True), Removals(), "t")
    assert len(tiff._ORIENTATION_ONLY) == 3


def _reference_write_ifd(
    entries: list[tiff.OutEntry], start: int, endian: str, next_ifd: int = 0
) -> bytes:
    """The IFD layout spelled out field by field (TIFF 6.0, section 2)."""
    out = struct.pack(endian + "H", len(entries))
    data = b""
    data_start = start + 2 + 12 * len(entries) + 4
    for e in sorted(entries, key=lambda e: e.tag):
        out += struct.pack(endian + "HHI", e.tag, e.type, e.count)
        if len(e.value) <= 4:
            out += e.value + b"\x00" * (4 - len(e.value))
        else:
            out += struct.pack(endian + "I", data_start + len(data))
            data += e.value + (b"\x00" if len(e.value) % 2 else b"")
    return out + struct.pack(endian + "I", next_ifd) + data


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.integers(0, 0xFFFF), st.integers(1, 12), st.binary(max_size=40)),
        max_size=12,
    ),
    start=st.integers(8, 4000),
    endian=st.sampled_from(["<", ">"]),
    next_ifd=st.integers(0, 2**32 - 1),
)
def test_write_ifd_lays_out_entries_as_tiff_says(
    values: list[tuple[int, int, bytes]], start: int, endian: str, next_ifd: int
) -> None:
    entries = [tiff.OutEntry(tag, typ, len(value), value) for tag, typ, value in values]
    got = tiff.write_ifd(entries, start, endian, next_ifd)
    assert got == _reference_write_ifd(entries, start, endian, next_ifd)
    assert len(got) == tiff.ifd_size(entries)
