"""IPTC-IIM and Photoshop image resources: names of what is there, for reporting.

IPTC is always removed whole (it exists to describe people, places and owners), so this module
only *lists* datasets; it never writes any. Walks are bounded by the buffer length.
"""

from __future__ import annotations

from pipeline.media.policy import Removals

# (record, dataset) -> (name, category) for the application record datasets that matter.
_DATASETS: dict[tuple[int, int], tuple[str, str]] = {
    (2, 5): ("ObjectName", "iptc"),
    (2, 25): ("Keywords", "iptc"),
    (2, 55): ("DateCreated", "dates"),
    (2, 60): ("TimeCreated", "dates"),
    (2, 62): ("DigitalCreationDate", "dates"),
    (2, 63): ("DigitalCreationTime", "dates"),
    (2, 80): ("By-line", "owner"),
    (2, 85): ("By-lineTitle", "owner"),
    (2, 90): ("City", "location"),
    (2, 92): ("Sub-location", "location"),
    (2, 95): ("Province-State", "location"),
    (2, 100): ("Country-PrimaryLocationCode", "location"),
    (2, 101): ("Country-PrimaryLocationName", "location"),
    (2, 103): ("OriginalTransmissionReference", "identifiers"),
    (2, 105): ("Headline", "iptc"),
    (2, 110): ("Credit", "owner"),
    (2, 115): ("Source", "iptc"),
    (2, 116): ("CopyrightNotice", "owner"),
    (2, 118): ("Contact", "owner"),
    (2, 120): ("Caption-Abstract", "iptc"),
    (2, 122): ("Writer-Editor", "owner"),
}
_PS_RESOURCES: dict[int, tuple[str, str]] = {
    0x0404: ("IPTC-NAA", "iptc"),
    0x0409: ("PhotoshopThumbnailOld", "thumbnail"),
    0x040C: ("PhotoshopThumbnail", "thumbnail"),
    0x0422: ("EXIFInfo", "other"),
    0x0424: ("XMP", "xmp"),
    0x040F: ("ICC_Profile", "other"),
    0x041D: ("PhotoshopURL", "other"),
    0x0425: ("IPTCDigest", "iptc"),
    0x0BB7: ("ClippingPathName", "other"),
}


def report_iptc(data: bytes, removals: Removals) -> None:
    """Record the datasets of an IPTC-IIM stream as removed."""
    pos, n = 0, len(data)
    removals.add("iptc", "IPTC")
    while pos + 5 <= n and data[pos] == 0x1C:
        rec, ds = data[pos + 1], data[pos + 2]
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if length & 0x8000:  # extended length: rare; stop listing, the block is dropped anyway
            break
        name, cat = _DATASETS.get((rec, ds), (f"IPTC{rec}:{ds}", "iptc"))
        removals.add(cat, f"IPTC-{name}")
        pos += 5 + length


def report_photoshop(data: bytes, removals: Removals) -> None:
    """Record the resources of a Photoshop ``8BIM`` resource block (IPTC inside) as removed."""
    pos, n = 0, len(data)
    while pos + 12 <= n and data[pos : pos + 4] in (b"8BIM", b"PHUT", b"DCSR", b"AgHg"):
        rid = int.from_bytes(data[pos + 4 : pos + 6], "big")
        name_len = data[pos + 6]
        p = pos + 6 + 1 + name_len + ((1 + name_len) % 2)  # Pascal string padded to even
        if p + 4 > n:
            break
        size = int.from_bytes(data[p : p + 4], "big")
        body = data[p + 4 : p + 4 + size]
        name, cat = _PS_RESOURCES.get(rid, (f"Photoshop0x{rid:04X}", "other"))
        removals.add(cat, f"Photoshop-{name}")
        if rid == 0x0404:
            report_iptc(body, removals)
        pos = p + 4 + size + (size % 2)
