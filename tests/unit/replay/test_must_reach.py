"""Issue 3, "Must reach": no planted PII survives ``analytics`` without consent.

The corpus comes from ``scripts/gen_samples.py`` with its fixed seed: events of all three
kinds plus Apache access and syslog/free-text lines, with every PII type of the policy planted
in fields, free text and URLs (raw and URL-encoded). The check is on the raw output text, so
it covers every field, nested object and URL at once; each planted value is also looked for
URL-encoded and, for numbers, without separators.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pipeline.policy import Policy
from tests.unit.replay.conftest import replay_files, survivors
from tests.unit.replay.samples_gen import load

gen = load()


@pytest.fixture(scope="module")
def corpus() -> object:
    return gen.generate(gen.SEED)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_no_planted_value_survives_analytics_without_consent(
    policy: Policy, tmp_path: Path, corpus: object, workers: int
) -> None:
    paths = gen.write(corpus, tmp_path / "in")
    inputs = [p for p in paths if p.name != "consent.jsonl"]  # nobody has consented
    r = replay_files(inputs, policy, tmp_path, workers=workers, now=gen.SAMPLE_NOW)

    # Not vacuous: every record of every kind came out (none dropped, none dead-lettered).
    n_lines = len(corpus.events) + len(corpus.access_lines) + len(corpus.app_lines)  # type: ignore[attr-defined]
    assert r.stats.records_in == n_lines
    assert r.stats.out == n_lines, r.stats.to_dict()
    assert Counter(o["kind"] for o in r.out).keys() == {"log", "communication", "media_upload"}
    assert len(r.stats.entities) >= 10  # most entity types were acted on

    forbidden = corpus.forbidden()  # type: ignore[attr-defined]
    assert len(forbidden) > 1000
    assert survivors(r.out_text, forbidden) == []
    audit_text = "\n".join(json.dumps(a) for a in r.audit)
    assert survivors(audit_text, forbidden) == []


def test_forbidden_set_covers_every_planted_kind(corpus: object) -> None:
    kinds = set(corpus.planted)  # type: ignore[attr-defined]
    assert kinds >= {
        "email",
        "phone",
        "card",
        "iban",
        "ssn",
        "ipv4",
        "ipv6",
        "mac",
        "bssid",
        "imei",
        "device_id",
        "advertising_id",
        "account",
        "coordinate",
    } - {"mac"}  # MACs are planted as Wi-Fi BSSIDs
    forbidden = corpus.forbidden()  # type: ignore[attr-defined]
    email = next(iter(corpus.planted["email"]))  # type: ignore[attr-defined]
    assert email.replace("@", "%40") in forbidden
    phone = next(iter(corpus.planted["phone"]))  # type: ignore[attr-defined]
    assert "".join(ch for ch in phone if ch.isdigit()) in forbidden


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = gen.write(gen.generate(gen.SEED), tmp_path / "a")
    b = gen.write(gen.generate(gen.SEED), tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    c = gen.write(gen.generate(gen.SEED + 1), tmp_path / "c")
    assert a[0].read_bytes() != c[0].read_bytes()


def test_committed_samples_match_the_generator(tmp_path: Path) -> None:
    from tests.conftest import REPO

    for path in gen.write(gen.generate(gen.SEED), tmp_path):
        assert path.read_bytes() == (REPO / "samples" / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    ("text", "found"),
    [("a jo@x.io b", ["jo@x.io"]), ("a jo%40x.io", ["jo%40x.io"]), ("nothing here", [])],
)
def test_survivor_finder_finds_literals(text: str, found: list[str]) -> None:
    assert survivors(text, ["jo@x.io", "jo%40x.io", "+44 20"]) == found
