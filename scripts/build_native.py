"""Compile the hot modules of the scanner, the media stripper and the sidecar's upload path
with mypyc, in place, and the scanner's Hyperscan C extension (see detectors/native.py).

Usage: ``.venv/bin/python scripts/build_native.py [--clean]``. Writes ``*.so`` and
``_native_manifest.json`` in each compiled package directory (all git-ignored) and C
sources under ``build/native``. Exits 0 on success, 1 when the build failed (the modules then
run as pure Python).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _load_native() -> object:
    # Loaded by path, not as detectors.native: importing the package runs the stale-build
    # check, which is exactly what fails when a rebuild is needed.
    spec = importlib.util.spec_from_file_location("_veil_native", REPO / "detectors/native.py")
    if spec is None or spec.loader is None:
        raise ImportError(str(REPO / "detectors/native.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extensions(native: Any) -> list[Any]:
    """The hand-written C extensions whose libraries are installed (see native.EXTENSIONS)."""
    from setuptools import Extension

    if not Path("/usr/include/hs/hs.h").exists():
        print(
            "build-native: no Hyperscan headers (Debian libhyperscan-dev): skipping "
            "detectors._hsnative; the python-hyperscan binding is used instead",
            file=sys.stderr,
        )
        return []
    return [
        Extension(
            f"detectors.{module}",
            [source],
            libraries=["hs"],
            extra_compile_args=["-O2", "-Wall", "-Wextra"],
        )
        for source, module in native.EXTENSIONS
    ]


def main(argv: list[str]) -> int:
    os.chdir(REPO)
    native: Any = _load_native()
    package = REPO / "detectors"
    groups = {directory: REPO / directory for directory in native.GROUPS}
    extensions = _extensions(native)
    if "--clean" in argv:
        for directory in groups.values():
            for so in directory.glob("*.so"):
                so.unlink()
            (directory / native.MANIFEST).unlink(missing_ok=True)
        return 0
    from mypyc.build import mypycify
    from setuptools import setup

    # Record the hashes of what is compiled *before* compiling, so an edit made during the
    # build makes the result stale rather than wrongly fresh.
    hashes = {
        directory: native.source_hashes(
            path, native.GROUPS[directory], native.EXTENSIONS if directory == "detectors" else ()
        )
        for directory, path in groups.items()
    }
    for path in groups.values():
        (path / native.MANIFEST).unlink(missing_ok=True)
    ext_modules = [*extensions]
    for directory, modules in native.GROUPS.items():
        group = directory.replace("/", ".") + "._native"
        ext_modules += mypycify(list(modules), opt_level="3", group_name=group)
    setup(
        name="veil-native",
        ext_modules=ext_modules,
        script_args=["-q", "build_ext", "--inplace", "--build-temp", "build/native"],
    )
    missing = [
        src.rsplit("/", 1)[-1]
        for src in (e.sources[0] for e in extensions)
        if src.rsplit("/", 1)[-1] not in native.extension_modules(package)
    ]
    for directory, path in groups.items():
        built = native.compiled_modules(path, native.GROUPS[directory])
        missing += [n for n in hashes[directory] if n.endswith(".py") and n not in built]
    if missing:
        print(f"build-native: no extension module for {missing}", file=sys.stderr)
        return 1
    # The build copies .so files only when they were rebuilt; the manifest is what marks fresh.
    for directory, path in groups.items():
        (path / native.MANIFEST).write_text(
            json.dumps(hashes[directory], indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
