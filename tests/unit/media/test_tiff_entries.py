"""IFD entry tables: values decoded on lookup, with the bounds and duplicate rules."""

from __future__ import annotations

import struct

import pytest

from pipeline.media.tiff import ASCII, SHORT, Entry, TiffReader


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
