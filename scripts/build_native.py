"""Compile the scanner's and the media stripper's hot modules with mypyc, in place, and the
scanner's Hyperscan C extension (see detectors/native.py).

Usage: ``.venv/bin/python scripts/build_native.py [--clean]``. Writes ``*.so`` and
``_native_manifest.json`` in ``detectors/`` and ``pipeline/media/`` (all git-ignored) and C
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
    media = REPO / "pipeline" / "media"
    manifest = package / native.MANIFEST
    media_manifest = media / native.MANIFEST
    extensions = _extensions(native)
    if "--clean" in argv:
        for so in [*package.glob("*.so"), *media.glob("*.so")]:
            so.unlink()
        manifest.unlink(missing_ok=True)
        media_manifest.unlink(missing_ok=True)
        return 0
    from mypyc.build import mypycify
    from setuptools import setup

    # Record the hashes of what is compiled *before* compiling, so an edit made during the
    # build makes the result stale rather than wrongly fresh.
    hashes = native.source_hashes(package)
    media_hashes = native.source_hashes(media, native.MEDIA_COMPILED, ())
    manifest.unlink(missing_ok=True)
    media_manifest.unlink(missing_ok=True)
    setup(
        name="veil-native",
        ext_modules=[
            *mypycify(list(native.COMPILED), opt_level="3", group_name="detectors._native"),
            *mypycify(
                list(native.MEDIA_COMPILED), opt_level="3", group_name="pipeline.media._native"
            ),
            *extensions,
        ],
        script_args=["-q", "build_ext", "--inplace", "--build-temp", "build/native"],
    )
    built = native.compiled_modules(package) + native.extension_modules(package)
    wanted = [n for n in hashes if n.endswith(".py")] + [
        src.rsplit("/", 1)[-1] for src in (e.sources[0] for e in extensions)
    ]
    missing = [n for n in wanted if n not in built]
    missing += [
        n for n in media_hashes if n not in native.compiled_modules(media, native.MEDIA_COMPILED)
    ]
    if missing:
        print(f"build-native: no extension module for {missing}", file=sys.stderr)
        return 1
    # The build copies .so files only when they were rebuilt; the manifest is what marks fresh.
    manifest.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    media_manifest.write_text(
        json.dumps(media_hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
