"""Environment fallbacks for CLI flags: one rule for every subcommand."""

from __future__ import annotations

import os

_TRUE = frozenset({"1", "true", "yes", "on"})


def env_flag(name: str) -> bool:
    """Whether the boolean variable ``name`` is set to a true value (1/true/yes/on, any case)."""
    return os.environ.get(name, "").strip().lower() in _TRUE
