"""Load and validate the policy file once, at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from pipeline.errors import PolicyError
from pipeline.policy.models import Policy

POLICY_ENV = "VEIL_POLICY"
DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "config" / "policy.yaml"


def default_policy_path() -> Path:
    """``$VEIL_POLICY`` when set, else the repository's ``config/policy.yaml``."""
    env = os.environ.get(POLICY_ENV)
    return Path(env) if env else DEFAULT_POLICY


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy file.

    Args:
        path: the YAML file; None means :func:`default_policy_path`.

    Returns:
        The validated, frozen policy.

    Raises:
        PolicyError: the file cannot be read, is not YAML, or does not validate. The message
            names the file and the key path of every problem and what was expected, never
            the offending value.
    """
    source = Path(path) if path is not None else default_policy_path()
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"policy {source}: cannot read the file ({type(exc).__name__})"
        raise PolicyError(msg) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        msg = f"policy {source}: not valid YAML{where}"
        raise PolicyError(msg) from exc
    return policy_from_data(data, source=str(source))


def policy_from_data(data: Any, *, source: str = "<policy>") -> Policy:
    """Validate an already-parsed policy document (see :func:`load_policy`)."""
    if not isinstance(data, dict):
        msg = f"policy {source}: expected a mapping at the top level"
        raise PolicyError(msg)
    # Top-level "x-..." keys hold YAML anchors shared by rules (as in docker-compose files).
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        msg = f"policy {source}: {format_errors(exc)}"
        raise PolicyError(msg) from None


def format_errors(exc: ValidationError) -> str:
    """Render pydantic errors as ``key.path: what was expected`` without input values."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not _is_internal(p))
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _is_internal(part: object) -> bool:
    # pydantic names function validators in the location ("function-before[...]").
    return isinstance(part, str) and part.startswith("function")
