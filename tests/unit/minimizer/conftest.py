"""Fixtures for the minimizer tests: the default policy, fixed keys, a fixed 'now'."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.consent import Consent
from pipeline.minimizer import MinimizeContext, Minimized, minimize
from pipeline.policy import Policy, load_policy
from pipeline.pseudonym import PseudonymKeys

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
KEY = "unit-test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="session")
def keys() -> PseudonymKeys:
    return PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": KEY})


@pytest.fixture(scope="session")
def ctx(keys: PseudonymKeys) -> MinimizeContext:
    return MinimizeContext(keys=keys, now=NOW)


def log_event(payload: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    """A ``log`` event dated an hour before NOW."""
    return {
        "event_id": "e-1",
        "kind": "log",
        "user_id": "u-42",
        "occurred_at": "2026-11-02T10:59:30Z",
        "payload": payload,
        **envelope,
    }


Run = Callable[..., Minimized]


@pytest.fixture
def run(policy: Policy, ctx: MinimizeContext) -> Run:
    """minimize() with the default policy; consent as keys granted."""

    def _run(
        event: dict[str, Any],
        purpose: str = "analytics",
        *granted: str,
        context: MinimizeContext | None = None,
    ) -> Minimized:
        return minimize(
            event,
            policy=policy,
            consent=Consent(frozenset(granted)),
            purpose=purpose,
            context=context or ctx,
        )

    return _run
