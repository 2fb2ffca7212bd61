"""The compiled (mypyc) detector build: stale builds are refused, CI runs the compiled code."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

from detectors import native

SO = ".cpython-311-x86_64-linux-gnu.so"


def _package(tmp_path: Path) -> Path:
    for rel in native.COMPILED:
        (tmp_path / rel.rsplit("/", 1)[-1]).write_text(f"# source of {rel}\n", encoding="utf-8")
    return tmp_path


def _compile(pkg: Path, names: list[str] | None = None) -> None:
    for rel in native.COMPILED:
        name = rel.rsplit("/", 1)[-1]
        if names is None or name in names:
            (pkg / (name[:-3] + SO)).write_bytes(b"\x7fELF")


def _manifest(pkg: Path, hashes: dict[str, str]) -> None:
    (pkg / native.MANIFEST).write_text(json.dumps(hashes), encoding="utf-8")


def test_pure_python_package_is_accepted(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    assert native.compiled_modules(pkg) == []
    native.verify(pkg)  # no extension modules: nothing to check


def test_fresh_build_is_accepted(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _compile(pkg)
    _manifest(pkg, native.source_hashes(pkg))
    assert len(native.compiled_modules(pkg)) == len(native.COMPILED)
    native.verify(pkg)


def test_edited_source_makes_the_build_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _compile(pkg)
    _manifest(pkg, native.source_hashes(pkg))
    (pkg / "numbers.py").write_text("# edited\n", encoding="utf-8")
    with pytest.raises(native.StaleNativeBuild, match=r"\(numbers\.py\).*build-native"):
        native.verify(pkg)


@pytest.mark.parametrize("manifest", [None, "not json", "{}"])
def test_missing_or_bad_manifest_is_stale(tmp_path: Path, manifest: str | None) -> None:
    pkg = _package(tmp_path)
    _compile(pkg)
    if manifest is not None:
        (pkg / native.MANIFEST).write_text(manifest, encoding="utf-8")
    with pytest.raises(native.StaleNativeBuild):
        native.verify(pkg)


def test_partial_build_is_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _compile(pkg, ["scanner.py"])  # scanner compiled, its callees not: a half-done build
    _manifest(pkg, native.source_hashes(pkg))
    with pytest.raises(native.StaleNativeBuild, match=r"numbers\.py"):
        native.verify(pkg)


def test_touch_without_change_is_not_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _compile(pkg)
    _manifest(pkg, native.source_hashes(pkg))
    src = pkg / "numbers.py"
    os.utime(src, (src.stat().st_atime + 60, src.stat().st_mtime + 60))  # newer mtime only
    native.verify(pkg)


def _extension(pkg: Path, *, built: bool) -> Path:
    src = pkg / "_hsnative.c"
    src.write_text("/* source */\n", encoding="utf-8")
    if built:
        (pkg / ("_hsnative" + SO)).write_bytes(b"\x7fELF")
    return src


def test_c_extension_is_optional(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _compile(pkg)
    _extension(pkg, built=False)  # no libhyperscan-dev: the binding is used instead
    _manifest(pkg, native.source_hashes(pkg))
    assert native.extension_modules(pkg) == []
    native.verify(pkg)


def test_c_extension_alone_is_checked(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    src = _extension(pkg, built=True)  # mypyc modules absent, the extension built
    _manifest(pkg, native.source_hashes(pkg))
    native.verify(pkg)
    src.write_text("/* edited */\n", encoding="utf-8")
    with pytest.raises(native.StaleNativeBuild, match=r"\(_hsnative\.c\)"):
        native.verify(pkg)


def test_edited_c_extension_source_is_stale(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _compile(pkg)
    src = _extension(pkg, built=True)
    _manifest(pkg, native.source_hashes(pkg))
    native.verify(pkg)
    src.write_text("/* edited */\n", encoding="utf-8")
    with pytest.raises(native.StaleNativeBuild, match=r"_hsnative\.c"):
        native.verify(pkg)


@pytest.mark.skipif(
    os.environ.get("VEIL_REQUIRE_NATIVE") != "1",
    reason="set VEIL_REQUIRE_NATIVE=1 (CI does) to require the compiled build",
)
def test_ci_scans_with_the_c_extension() -> None:
    from detectors.scanner import Scanner

    assert Scanner()._hs is not None
    assert Scanner()._hs.engine == "libhs"


@pytest.mark.skipif(
    os.environ.get("VEIL_REQUIRE_NATIVE") != "1",
    reason="set VEIL_REQUIRE_NATIVE=1 (CI does) to require the compiled build",
)
@pytest.mark.parametrize("rel", native.COMPILED)
def test_ci_runs_the_compiled_modules(rel: str) -> None:
    module = importlib.import_module(rel[:-3].replace("/", "."))
    assert str(module.__file__).endswith(".so"), f"{rel} runs as Python, not compiled"


def test_media_build_is_checked_on_its_own(tmp_path: Path) -> None:
    for rel in native.MEDIA_COMPILED:
        name = rel.rsplit("/", 1)[-1]
        (tmp_path / name).write_text(f"# source of {rel}\n", encoding="utf-8")
        (tmp_path / (name[:-3] + SO)).write_bytes(b"\x7fELF")
    hashes = native.source_hashes(tmp_path, native.MEDIA_COMPILED, ())
    _manifest(tmp_path, hashes)
    native.verify(tmp_path, native.MEDIA_COMPILED, ())
    (tmp_path / "tiff.py").write_text("# edited\n", encoding="utf-8")
    with pytest.raises(native.StaleNativeBuild, match=r"\(tiff\.py\)"):
        native.verify(tmp_path, native.MEDIA_COMPILED, ())


@pytest.mark.skipif(
    os.environ.get("VEIL_REQUIRE_NATIVE") != "1",
    reason="set VEIL_REQUIRE_NATIVE=1 (CI does) to require the compiled build",
)
@pytest.mark.parametrize("rel", [*native.MEDIA_COMPILED, *native.SIDECAR_COMPILED])
def test_ci_runs_the_compiled_pipeline_modules(rel: str) -> None:
    module = importlib.import_module(rel[:-3].replace("/", "."))
    assert str(module.__file__).endswith(".so"), f"{rel} runs as Python, not compiled"
