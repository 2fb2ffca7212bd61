"""docker-compose.yml against the Compose Specification's JSON schema (no Docker here).

Also checks what the schema cannot: the services the deployment promises exist, workers share
one consumer group, secrets are files and not inline values, and the Dockerfile installs the
locked requirements.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import REPO, SHARED

SCHEMA = SHARED / "schemas" / "compose-spec.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_file_is_valid_against_the_spec(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(e.message for e in errors)


@pytest.mark.parametrize(
    "broken",
    [
        {"services": {"kafka": {"image": 42}}},
        {"services": {"w": {"image": "x", "depends_on": {"k": {"condition": "whenever"}}}}},
        {"services": {"w": {"image": "x", "healthcheck": {"interval": []}}}},
        {"services": {"w": {"image": "x", "no_such_key": 1}}},
    ],
)
def test_the_schema_check_catches_mistakes(broken: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_services_the_deployment_promises(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"kafka", "topics", "worker-1", "worker-2", "sidecar"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    workers = [services["worker-1"], services["worker-2"]]
    assert {w["environment"]["VEIL_APP_ID"] for w in workers} == {"veil"}
    for w in workers:
        assert w["command"] == ["veil", "worker"]
        assert w["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["topics"]["command"] == ["veil", "topics", "create"]
    for name, svc in services.items():
        env = svc.get("environment", {})
        assert "VEIL_PSEUDONYM_KEY" not in env, f"{name}: keys belong in a secret file"
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: published beyond loopback"


def test_dockerfile_installs_the_lock_and_runs_unprivileged() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert "pip install --no-deps -r requirements.lock" in text
    assert "\nUSER veil" in text
    assert "FROM python:3.11" in text
