"""The value type every detector returns."""

from __future__ import annotations

from typing import Final, final


@final
class Finding:
    """One piece of PII found in a text.

    Offsets are Python string indices (code points) into the scanned text, ``start``
    inclusive and ``end`` exclusive. A finding never holds the matched value: callers slice
    the text themselves, so a Finding can be logged safely.

    Immutable, compared, ordered and hashed by its fields in the order below, like the frozen,
    ordered dataclass it replaces. A plain class rather than that dataclass because this module
    is compiled (detectors/native.py): mypyc builds a native class with a C constructor, while
    a frozen dataclass kept the generated ``__init__`` in Python (5 % of a scan, measured).
    Attributes are ``Final``: mypy refuses assignments, and the compiled class refuses them at
    run time (``AttributeError``).

    Attributes:
        start: first character of the match.
        end: one past the last character.
        entity_type: Presidio-style name, e.g. ``EMAIL_ADDRESS``.
        score: confidence in [0, 1].
        detector: which detector produced it (``pattern``, ``ner``...).
    """

    __slots__ = ("detector", "end", "entity_type", "score", "start")

    def __init__(self, start: int, end: int, entity_type: str, score: float, detector: str) -> None:
        self.start: Final = start
        self.end: Final = end
        self.entity_type: Final = entity_type
        self.score: Final = score
        self.detector: Final = detector

    def _key(self) -> tuple[int, int, str, float, str]:
        return (self.start, self.end, self.entity_type, self.score, self.detector)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self._key() != other._key()

    def __lt__(self, other: Finding) -> bool:
        return self._key() < other._key()

    def __le__(self, other: Finding) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: Finding) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: Finding) -> bool:
        return self._key() >= other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Finding(start={self.start!r}, end={self.end!r}, entity_type={self.entity_type!r},"
            f" score={self.score!r}, detector={self.detector!r})"
        )

    def __reduce__(self) -> tuple[type[Finding], tuple[int, int, str, float, str]]:
        # Pickling (worker processes) rebuilds through the constructor.
        return (Finding, self._key())
