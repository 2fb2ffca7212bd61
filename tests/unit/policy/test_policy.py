"""Policy loading: the default policy validates; every kind of mistake is named by key path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.errors import PolicyError
from pipeline.policy import Action, FieldType, load_policy, policy_from_data
from pipeline.policy.loader import DEFAULT_POLICY
from pipeline.policy.models import CLAUSES

RAW: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY.read_text())


def test_default_policy_loads_with_every_required_purpose() -> None:
    policy = load_policy()
    for purpose in ("analytics", "security", "personalization", "advertising", "third_party"):
        assert purpose in policy.purposes
        assert policy.purposes[purpose].topic
        assert policy.purposes[purpose].retention.total_seconds() > 0
    assert policy.purposes["advertising"].requires_consent == {"advertising"}
    assert policy.purposes["third_party"].requires_consent == {"third_party_sharing"}  # P14
    assert policy.version


def test_default_policy_is_frozen() -> None:
    policy = load_policy()
    with pytest.raises(ValueError, match="frozen"):
        policy.version = "x"  # type: ignore[misc]


def test_every_category_and_purpose_cites_clauses_and_every_action_is_used() -> None:
    policy = load_policy()
    cited: set[str] = set()
    for cat in policy.categories.values():
        cited.update(cat.clauses)
    for purpose in policy.purposes.values():
        cited.update(purpose.clauses)
    assert cited <= CLAUSES
    text = DEFAULT_POLICY.read_text()
    for clause in ("P1", "P2", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P12", "P14", "P16"):
        assert clause in text
    used = {
        a
        for p in policy.purposes.values()
        for rule in [*p.categories.values(), *p.fields.values(), *p.entities.values()]
        for a in rule.actions()
    }
    assert used == set(Action)


def test_env_var_selects_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = copy.deepcopy(RAW)
    data["version"] = "env-test"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("VEIL_POLICY", str(path))
    assert load_policy().version == "env-test"


def _broken(change: str) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    data = {k: v for k, v in data.items() if not k.startswith("x-")}
    analytics = data["purposes"]["analytics"]
    if change == "unknown_top_key":
        data["colour"] = "blue"
    elif change == "bad_action":
        analytics["categories"]["device"] = "obliterate"
    elif change == "action_does_not_fit_type":
        analytics["fields"]["payload.http.status"] = "scan"
    elif change == "generalize_email_entity":
        analytics["entities"] = {"EMAIL_ADDRESS": "generalize"}
    elif change == "unknown_entity":
        analytics["entities"] = {"FAVOURITE_COLOUR": "redact"}
    elif change == "unknown_consent_key":
        analytics["categories"]["location"] = {"action": "keep", "consent": "telepathy"}
    elif change == "requires_unknown_consent":
        analytics["requires_consent"] = ["telepathy"]
    elif change == "unknown_category":
        analytics["categories"]["biometrics"] = "drop"
    elif change == "field_with_unknown_category":
        data["fields"]["log"]["payload.pulse"] = "biometrics/number"
    elif change == "unknown_field_override":
        analytics["fields"]["payload.nonexistent"] = "keep"
    elif change == "bad_clause":
        data["categories"]["account"]["clauses"] = ["P99"]
    elif change == "missing_clauses":
        del data["categories"]["account"]["clauses"]
    elif change == "bad_retention":
        analytics["retention"] = "forever"
    elif change == "zero_retention":
        analytics["retention"] = "0d"
    elif change == "missing_topic":
        del analytics["topic"]
    elif change == "bad_kind":
        data["fields"]["video"] = {"payload.x": "content/text"}
    elif change == "bad_field_type":
        data["fields"]["log"]["payload.ip"] = "device/ipv9"
    elif change == "leaf_and_object":
        data["fields"]["log"]["payload.device"] = "device/string"
    elif change == "bad_missing_user":
        data["missing_user"] = "guess"
    return data


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("unknown_top_key", "colour"),
        ("bad_action", "purposes.analytics.categories.device"),
        ("action_does_not_fit_type", "purposes.analytics.fields.payload.http.status"),
        ("generalize_email_entity", "purposes.analytics.entities.EMAIL_ADDRESS"),
        ("unknown_entity", "purposes.analytics.entities.FAVOURITE_COLOUR"),
        ("unknown_consent_key", "purposes.analytics.categories.location.consent"),
        ("requires_unknown_consent", "purposes.analytics.requires_consent"),
        ("unknown_category", "purposes.analytics.categories.biometrics"),
        ("field_with_unknown_category", "fields.log.payload.pulse.category"),
        ("unknown_field_override", "purposes.analytics.fields.payload.nonexistent"),
        ("bad_clause", "categories.account.clauses"),
        ("missing_clauses", "categories.account.clauses"),
        ("bad_retention", "purposes.analytics.retention"),
        ("zero_retention", "purposes.analytics.retention"),
        ("missing_topic", "purposes.analytics.topic"),
        ("bad_kind", "fields.video"),
        ("bad_field_type", "fields.log.payload.ip"),
        ("leaf_and_object", "payload.device"),
        ("bad_missing_user", "missing_user"),
    ],
)
def test_policy_errors_name_the_key_path(change: str, where: str) -> None:
    with pytest.raises(PolicyError) as info:
        policy_from_data(_broken(change))
    message = str(info.value)
    assert where in message
    for value in ("obliterate", "forever", "blue", "guess"):  # bad *values* are never echoed
        assert value not in message


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML at line"):
        load_policy(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(PolicyError, match="mapping at the top level"):
        load_policy(scalar)


def test_field_types_of_the_default_policy() -> None:
    policy = load_policy()
    fields = policy.all_paths()
    assert fields["payload.ip"].type is FieldType.IP
    assert fields["payload.to_accounts[]"].category == "communication_metadata"
    assert fields["payload.location.lat"].category == "location"  # P9
    assert fields["payload.wifi.bssid"].category == "location"  # P9: Wi-Fi is location
