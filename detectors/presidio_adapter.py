"""Veil's scanner as a Presidio ``EntityRecognizer``.

An ``AnalyzerEngine`` user adds Veil's one-pass scanner to a registry and keeps the rest of
Presidio (anonymizer, other recognizers)::

    registry.add_recognizer(VeilRecognizer())

Added next to Presidio's predefined recognizers, both run for the types they share: the text
is matched twice for them, and Presidio's results come back beside Veil's (its URL recognizer,
for one, reports an e-mail address's domain as a URL). :func:`use_veil` adds Veil and removes
the predefined recognizers whose every entity type Veil covers, so each such type has one
source::

    use_veil(registry)

Importing this module imports presidio_analyzer (and through it the spaCy *library*), so the
scanner itself never imports it; no spaCy model is loaded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from presidio_analyzer import EntityRecognizer, RecognizerRegistry, RecognizerResult

from detectors.scanner import ENTITY_TYPES, get_scanner


class VeilRecognizer(EntityRecognizer):
    """Presidio recognizer for every entity type of :mod:`detectors.scanner`."""

    def __init__(
        self,
        supported_entities: Sequence[str] | None = None,
        supported_language: str = "en",
        name: str = "VeilRecognizer",
    ) -> None:
        """Raises ValueError for an entity type Veil does not know (names the valid ones)."""
        entities = sorted(ENTITY_TYPES if supported_entities is None else supported_entities)
        get_scanner(entities)  # validate now: bad config fails at construction
        self._veil_name = name
        super().__init__(
            supported_entities=entities, name=name, supported_language=supported_language
        )

    def load(self) -> None:
        """Nothing to load: scanners compile once per entity set and are shared."""

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: Any = None
    ) -> list[RecognizerResult]:
        """Return Presidio results for the requested ``entities`` that Veil supports."""
        wanted = [e for e in (entities or self.supported_entities) if e in self.supported_entities]
        if not wanted:
            return []
        return [
            RecognizerResult(
                entity_type=f.entity_type,
                start=f.start,
                end=f.end,
                score=f.score,
                recognition_metadata={
                    RecognizerResult.RECOGNIZER_NAME_KEY: self._veil_name,
                    RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                },
            )
            for f in get_scanner(wanted).scan(text)
        ]


def use_veil(
    registry: RecognizerRegistry, *, language: str = "en", replace: bool = True
) -> list[str]:
    """Add a :class:`VeilRecognizer` for ``language`` to ``registry``.

    Args:
        registry: a Presidio registry, usually with its predefined recognizers loaded.
        language: the language the recognizer serves (Veil's shapes are language-neutral).
        replace: also remove every other recognizer for ``language`` whose supported entity
            types are all Veil's (Presidio's e-mail, phone, card, IBAN, IP, MAC, SSN and URL
            recognizers); ones with any type Veil lacks (dates, NER, passports) stay.

    Returns:
        The names of the recognizers removed.
    """
    removed: list[str] = []
    if replace:
        for rec in list(registry.recognizers):
            name = str(getattr(rec, "name", ""))
            covered = set(getattr(rec, "supported_entities", ())) <= ENTITY_TYPES
            same_language = getattr(rec, "supported_language", None) == language
            if same_language and covered and name != "VeilRecognizer":
                registry.remove_recognizer(name, language=language)
                removed.append(name)
    registry.add_recognizer(VeilRecognizer(supported_language=language))
    return removed
