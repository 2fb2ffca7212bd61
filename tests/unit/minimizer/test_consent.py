"""Consent: default not granted, only true/"granted" grant, an event's object only narrows."""

from __future__ import annotations

import pytest

from pipeline.consent import Consent

KEYS = ["location", "personalization", "advertising", "third_party_sharing", "cross_service"]


def test_default_is_nothing_granted() -> None:
    assert Consent.none().granted == frozenset()
    assert Consent().granted == frozenset()


@pytest.mark.parametrize(
    ("value", "granted"),
    [
        (True, True),
        ("granted", True),
        (False, False),
        ("denied", False),
        ("true", False),  # a string we do not define is not consent
        ("yes", False),
        (1, False),
        (1.0, False),
        (None, False),
        ({"granted": True}, False),
    ],
)
def test_only_true_or_granted_grant(value: object, granted: bool) -> None:
    assert ("location" in Consent.from_mapping({"location": value}).granted) is granted


@pytest.mark.parametrize("key", KEYS)
def test_event_consent_can_withdraw_each_key(key: str) -> None:
    table = Consent.from_mapping(dict.fromkeys(KEYS, True), version="v7")
    narrowed = table.narrow({key: False})
    assert key not in narrowed.granted
    assert narrowed.granted == frozenset(KEYS) - {key}
    assert narrowed.version == "v7"


@pytest.mark.parametrize("key", KEYS)
def test_event_consent_cannot_grant_what_the_table_does_not(key: str) -> None:
    assert key not in Consent.none().narrow({key: True}).granted
    assert key not in Consent.none().narrow({key: "granted"}).granted


def test_event_consent_leaves_unmentioned_keys_and_none_changes_nothing() -> None:
    table = Consent.from_mapping({"location": True, "advertising": True})
    assert table.narrow({"location": True}).granted == {"location", "advertising"}
    assert table.narrow(None) == table
    assert table.narrow({"location": "maybe"}).granted == {"advertising"}


def test_malformed_event_consent_withdraws_everything() -> None:
    table = Consent.from_mapping({"location": True})
    assert table.narrow(["location"]).granted == frozenset()  # type: ignore[arg-type]
