"""The value type every detector returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One piece of PII found in a text.

    Offsets are Python string indices (code points) into the scanned text, ``start``
    inclusive and ``end`` exclusive. A finding never holds the matched value: callers slice
    the text themselves, so a Finding can be logged safely.

    Attributes:
        start: first character of the match.
        end: one past the last character.
        entity_type: Presidio-style name, e.g. ``EMAIL_ADDRESS``.
        score: confidence in [0, 1].
        detector: which detector produced it (``pattern``, ``ner``...).
    """

    start: int
    end: int
    entity_type: str
    score: float
    detector: str
