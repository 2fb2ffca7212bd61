"""Value types of the media stripper: what the policy allows and what a strip did.

Categories are a closed set so that audit records and the CLI summary stay comparable across
formats; every removed item is reported by *tag name only*, never by value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

# The closed set of categories a removed tag is reported under (contract with the audit).
CATEGORIES: Final[tuple[str, ...]] = (
    "location",
    "serial",
    "owner",
    "maker_notes",
    "thumbnail",
    "xmp",
    "iptc",
    "identifiers",
    "dates",
    "other",
)
_CATEGORY_SET: Final = frozenset(CATEGORIES)


@dataclass(frozen=True, slots=True)
class MediaPolicy:
    """What metadata may survive a strip.

    Attributes:
        location: ``"drop"`` removes every location tag; ``"coarse"`` keeps latitude and
            longitude rounded to two decimals (about 1 km) where the format can carry it
            without re-encoding (EXIF GPS in JPEG, WebP, PNG eXIf, XMP sidecars) and drops
            the rest (altitude, direction, timestamps, place names).
        keep_dates: keep capture dates (EXIF DateTimeOriginal and friends, QuickTime
            creation times). Dates are removed by default.
    """

    location: Literal["drop", "coarse"] = "drop"
    keep_dates: bool = False

    def __post_init__(self) -> None:
        if self.location not in ("drop", "coarse"):
            msg = "MediaPolicy.location must be 'drop' or 'coarse'"
            raise ValueError(msg)


def _empty_removed() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({})


class StripResult:
    """Outcome of one successful strip.

    Immutable and compared by value, like the frozen dataclass it replaces; a plain class
    with ``Final`` attributes because this module is compiled (detectors/native.py) and
    mypyc compiles such a constructor, where a frozen dataclass's stays interpreted.

    The output may be held as pieces (:attr:`parts`) whose concatenation is the file: the
    JPEG stripper's image data is a view of the input, so a caller that writes the pieces
    (the sidecar's upload path, with one ``writev``) never copies it. :attr:`data` joins
    them on first use, once.

    Attributes:
        media_type: MIME type detected from the magic bytes, never from a name.
        removed: category -> sorted, de-duplicated tag names removed (no values).
        kept: names of the metadata items deliberately kept (for example ``Orientation``,
            ``ICC_Profile``).
    """

    def __init__(
        self,
        data: bytes | list[bytes | memoryview],
        media_type: str,
        removed: Mapping[str, tuple[str, ...]] | None = None,
        kept: tuple[str, ...] = (),
    ) -> None:
        """``data``: the stripped file (empty bytes for :func:`pipeline.media.strip_file`,
        which writes to its destination instead), or its pieces in order."""
        if isinstance(data, bytes):
            self._data: bytes | None = data
            self._parts: tuple[bytes | memoryview, ...] = (data,)
        else:
            self._data = None
            self._parts = tuple(data)
        self.size: Final = sum(len(part) for part in self._parts)  # bytes of the file
        self.media_type: Final = media_type
        self.removed: Final[Mapping[str, tuple[str, ...]]] = (
            _empty_removed() if removed is None else removed
        )
        self.kept: Final = kept

    @property
    def data(self) -> bytes:
        """The stripped file (joined from its pieces on first use)."""
        data = self._data
        if data is None:
            data = self._data = b"".join(self._parts)
            self._parts = (data,)  # the pieces may view the (larger) input: let it go
        return data

    @property
    def parts(self) -> tuple[bytes | memoryview, ...]:
        """The file as pieces in order (one piece once :attr:`data` was used)."""
        return self._parts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StripResult):
            return NotImplemented
        return (self.data, self.media_type, dict(self.removed), self.kept) == (
            other.data,
            other.media_type,
            dict(other.removed),
            other.kept,
        )

    def __repr__(self) -> str:
        return (
            f"StripResult(data=<{self.size} bytes>, media_type={self.media_type!r}, "
            f"removed={dict(self.removed)!r}, kept={self.kept!r})"
        )


class Removals:
    """Mutable collector used while stripping; frozen into :class:`StripResult` at the end.

    A category's names may be held as a frozenset given to :meth:`add_all` (the stripper's
    cached per-layout summaries): it is kept as it is, without a copy, and copied to a set
    only if more names come for that category. Its hash, cached by Python, then makes
    :meth:`result` a dictionary lookup for it.
    """

    __slots__ = ("_by_cat", "_kept")

    def __init__(self) -> None:
        self._by_cat: dict[str, set[str] | frozenset[str]] = {}
        self._kept: set[str] | frozenset[str] = set()

    def _names(self, category: str) -> set[str]:
        """The mutable name set of ``category`` (a known one), created or copied as needed."""
        names = self._by_cat.get(category)
        if names is None:
            created: set[str] = set()
            self._by_cat[category] = created
            return created
        if isinstance(names, frozenset):
            copied = set(names)
            self._by_cat[category] = copied
            return copied
        return names

    def add(self, category: str, name: str) -> None:
        """Record that tag ``name`` of ``category`` was removed."""
        if category not in _CATEGORY_SET:
            category = "other"
        self._names(category).add(name)

    def add_all(self, category: str, names: Iterable[str]) -> None:
        """Record that tags ``names`` of ``category`` were removed."""
        if category not in _CATEGORY_SET:
            category = "other"
        if isinstance(names, frozenset) and category not in self._by_cat:
            self._by_cat[category] = names  # shared, never modified: see _names
            return
        self._names(category).update(names)

    def _kept_set(self) -> set[str]:
        """The mutable kept-name set, copied first if it is a shared frozenset."""
        kept = self._kept
        if isinstance(kept, frozenset):
            kept = self._kept = set(kept)
        return kept

    def keep(self, name: str) -> None:
        """Record that metadata item ``name`` was deliberately kept."""
        self._kept_set().add(name)

    def keep_all(self, names: frozenset[str]) -> None:
        """Record that metadata items ``names`` were deliberately kept (held as it is, like
        a frozenset given to :meth:`add_all`, while nothing else was kept)."""
        if self._kept:
            self._kept_set().update(names)
        else:
            self._kept = names

    def merge(self, other: Removals) -> None:
        """Add everything ``other`` collected."""
        for cat, names in other._by_cat.items():
            self.add_all(cat, names)
        self._kept_set().update(other._kept)

    def result(self, data: bytes | list[bytes | memoryview], media_type: str) -> StripResult:
        """Freeze into a :class:`StripResult` of ``data`` (the file, or its pieces)."""
        by_cat = self._by_cat
        removed = {c: _sorted_names(by_cat[c]) for c in CATEGORIES if c in by_cat}
        return StripResult(
            data=data,
            media_type=media_type,
            removed=MappingProxyType(removed),
            kept=_sorted_names(self._kept),
        )


# Name set -> the same names sorted. Photos from one camera report the same tag names every
# time; sorting them was a tenth of a strip. Names only (tag and segment names, never
# values), bounded like the EXIF summaries; sets of over 512 names are sorted uncached.
_SORTED: Final[dict[frozenset[str], tuple[str, ...]]] = {}
_MAX_SORTED: Final = 512


def _sorted_names(names: set[str] | frozenset[str]) -> tuple[str, ...]:
    key = frozenset(names)  # the same object when it is one already
    hit = _SORTED.get(key)
    if hit is None:
        hit = tuple(sorted(key))
        if len(key) <= 512:
            if len(_SORTED) >= _MAX_SORTED:
                _SORTED.clear()
            _SORTED[key] = hit
    return hit
