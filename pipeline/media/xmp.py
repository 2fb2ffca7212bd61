"""XMP packets: property names for reporting, and sidecar rewriting.

We never parse XMP with an XML parser: property *names* are found with a bounded regular
expression (enough for reporting), and the few values a policy keeps (orientation, dates,
coarse GPS) are read the same way. A stripped sidecar is written from scratch, so nothing
from the input can leak through an unparsed corner (entities, comments, nested packets).
"""

from __future__ import annotations

import re

from pipeline.errors import CorruptMedia
from pipeline.media.policy import MediaPolicy, Removals

MAX_XMP = 16 * 1024 * 1024  # a sidecar larger than this is not a sidecar
_STRUCTURAL_NS = {"rdf", "x", "xml", "xmlns", "xap", "stRef", "stEvt", "stDim", "stFnt"}
_PROP = re.compile(
    rb"<([A-Za-z_][\w.-]{0,63}):([A-Za-z_][\w.-]{0,127})[\s/>]"
    rb"|\s([A-Za-z_][\w.-]{0,63}):([A-Za-z_][\w.-]{0,127})\s*="
)
_LOCATION = re.compile(
    r"GPS|Location|City|Country|State|Province|Sublocation|Latitude|"
    r"Longitude|Altitude|Address|Region|Place|Geo",
    re.IGNORECASE,
)
_OWNER = re.compile(
    r"creator|Artist|Author|Owner|rights|Copyright|Credit|Contact|Person|"
    r"CaptionWriter|Marked|UsageTerms|Licensor|Model(?:Release)?Name",
    re.IGNORECASE,
)
_SERIAL = re.compile(r"Serial", re.IGNORECASE)
_IDS = re.compile(
    r"DocumentID|InstanceID|ImageUniqueID|DerivedFrom|History|Ingredients|"
    r"Make$|Model$|Lens|CreatorTool|Software|OriginalDocumentID",
    re.IGNORECASE,
)
_DATES = re.compile(r"Date|Time(?!Zone)", re.IGNORECASE)
_PEOPLE = re.compile(r"Regions?|Face|PersonInImage", re.IGNORECASE)


def categorize(name: str) -> str:
    """Category of an XMP property ``prefix:Name`` (or a QuickTime/IPTC-style name)."""
    local = name.rsplit(":", 1)[-1]
    if _SERIAL.search(local):
        return "serial"
    if _LOCATION.search(local):
        return "location"
    if _PEOPLE.search(local) or _OWNER.search(local):
        return "owner"
    if "MakerNote" in local:
        return "maker_notes"
    if _IDS.search(local):
        return "identifiers"
    if _DATES.search(local):
        return "dates"
    return "xmp"


def property_names(packet: bytes, limit: int = 4096) -> list[str]:
    """Distinct ``prefix:Name`` properties in an XMP packet (structural ones skipped)."""
    seen: dict[str, None] = {}
    for m in _PROP.finditer(packet[:MAX_XMP]):
        prefix = m.group(1) or m.group(3)
        local = m.group(2) or m.group(4)
        if prefix is None or local is None:
            continue
        p = prefix.decode("ascii")
        if p in _STRUCTURAL_NS:
            continue
        seen.setdefault(f"{p}:{local.decode('ascii')}", None)
        if len(seen) >= limit:
            break
    return list(seen)


def report_xmp(packet: bytes, removals: Removals) -> None:
    """Record every property of ``packet`` as removed, by category (always also ``xmp``)."""
    names = property_names(packet)
    removals.add("xmp", "XMP")
    for name in names:
        removals.add(categorize(name), f"XMP-{name}")


def _value(packet: bytes, prefix: str, local: str) -> str | None:
    """The simple value of ``prefix:local`` (attribute or element form), or None."""
    p, name = re.escape(prefix), re.escape(local)
    m = re.search(rf'\s{p}:{name}\s*=\s*"([^"<]{{0,200}})"'.encode(), packet)
    if m is None:
        m = re.search(rf"<{p}:{name}>([^<]{{0,200}})</{p}:{name}>".encode(), packet)
    if m is None:
        return None
    return m.group(1).decode("utf-8", "replace").strip()


_XMP_COORD = re.compile(
    r"\A(\d{1,3}),(\d{1,2}(?:\.\d+)?)([NSEW])\Z|"
    r"\A(\d{1,3}),(\d{1,2}),(\d{1,2}(?:\.\d+)?)([NSEW])\Z"
)


def _coarse_coord(text: str | None) -> str | None:
    """An XMP GPSCoordinate (``DDD,MM.mmk`` or ``DDD,MM,SSk``) rounded to 0.01 degree."""
    if text is None:
        return None
    m = _XMP_COORD.match(text)
    if m is None:
        return None
    if m.group(1):
        deg = int(m.group(1)) + float(m.group(2)) / 60
        ref = m.group(3)
    else:
        deg = int(m.group(4)) + int(m.group(5)) / 60 + float(m.group(6)) / 3600
        ref = m.group(7)
    rounded = round(deg, 2)
    whole = int(rounded)
    return f"{whole},{(rounded - whole) * 60:.1f}{ref}"


def strip_sidecar(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Replace an XMP sidecar with a fresh packet holding only what the policy keeps.

    Raises:
        CorruptMedia: not a plausible XMP packet (too large, not UTF-8, no ``x:xmpmeta`` or
            ``rdf:RDF`` element) or it declares a DTD/entities.
    """
    if len(data) > MAX_XMP:
        msg = f"{label}: XMP sidecar larger than {MAX_XMP} bytes"
        raise CorruptMedia(msg)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"{label}: XMP sidecar is not UTF-8"
        raise CorruptMedia(msg) from exc
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        msg = f"{label}: XMP sidecar declares a DTD or entities"
        raise CorruptMedia(msg)
    if b"<rdf:RDF" not in data:
        msg = f"{label}: no rdf:RDF element in the XMP sidecar"
        raise CorruptMedia(msg)
    attrs: list[str] = []
    orient = _value(data, "tiff", "Orientation")
    if orient in {str(i) for i in range(1, 9)}:
        attrs.append(f'tiff:Orientation="{orient}"')
        removals.keep("XMP-tiff:Orientation")
    if policy.keep_dates:
        for prefix, local in (("exif", "DateTimeOriginal"), ("xmp", "CreateDate")):
            v = _value(data, prefix, local)
            if v is not None and re.fullmatch(r"[0-9T:+\-.Z ]{4,40}", v):
                attrs.append(f'{prefix}:{local}="{v}"')
                removals.keep(f"XMP-{prefix}:{local}")
    if policy.location == "coarse":
        lat = _coarse_coord(_value(data, "exif", "GPSLatitude"))
        lon = _coarse_coord(_value(data, "exif", "GPSLongitude"))
        if lat and lon:
            attrs += [f'exif:GPSLatitude="{lat}"', f'exif:GPSLongitude="{lon}"']
            removals.keep("XMP-exif:GPSLatitude(coarse)")
            removals.keep("XMP-exif:GPSLongitude(coarse)")
    kept = {a.split("=", 1)[0] for a in attrs}
    for name in property_names(data):
        if name not in kept:
            removals.add(categorize(name), f"XMP-{name}")
    body = "\n   ".join(attrs)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        + (f"\n   {body}" if body else "")
        + '/>\n </rdf:RDF>\n</x:xmpmeta>\n<?xpacket end="w"?>\n'
    ).encode()
