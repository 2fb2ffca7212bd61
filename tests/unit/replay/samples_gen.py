"""Load ``scripts/gen_samples.py`` (a script, not a package) for tests and benchmarks."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.conftest import REPO

_NAME = "veil_gen_samples"


def load() -> ModuleType:
    """Import the sample generator once and return the module."""
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, REPO / "scripts" / "gen_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module
