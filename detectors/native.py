"""Which modules are compiled to C with mypyc, and the check that they are current.

The scanner's hot path (candidate matching, digit-run classification, phone validation) and
the media stripper's JPEG/EXIF path (:data:`MEDIA_COMPILED`) are plain typed Python.
``scripts/build-native`` (run by ``scripts/setup`` and ``scripts/test``) compiles the modules
in :data:`COMPILED` and :data:`MEDIA_COMPILED` with mypyc into extension modules next to their
sources, and the hand-written C extensions in :data:`EXTENSIONS`; Python then imports the
extension instead of the ``.py``. That roughly halves the scanner's time per event (numbers in
the README). Where no C compiler is available the build is skipped and the same modules run as
Python, with identical results.

An extension module shadows its source, so a stale build would silently run old code after
an edit or a ``git pull``. The build therefore records the SHA-256 of every compiled source in
:data:`MANIFEST` (one per package directory), and :func:`verify` (called when :mod:`detectors`
is imported; :func:`verify_group` when :mod:`pipeline.media` or :mod:`pipeline.sidecar` is)
refuses to import a stale
build. Hashes, not mtimes: a checkout that rewrites a file with the same bytes is not stale.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

__all__ = [
    "COMPILED",
    "EXTENSIONS",
    "GROUPS",
    "MANIFEST",
    "MEDIA_COMPILED",
    "SIDECAR_COMPILED",
    "StaleNativeBuild",
    "compiled_modules",
    "extension_modules",
    "native_helper",
    "verify",
    "verify_group",
]

# The modules mypyc compiles, as paths relative to the repository root. Every module a compiled
# one imports at call time on the hot path is here too: calls between compiled modules are
# direct C calls, calls out to Python modules are not.
COMPILED: tuple[str, ...] = (
    "detectors/findings.py",
    "detectors/patterns.py",
    "detectors/validators.py",
    "detectors/phones.py",
    "detectors/numbers.py",
    "detectors/matchers.py",
    "detectors/scanner.py",
)
# C extension modules written by hand, as (source, module name): optional (each has a Python
# fallback: detectors.matchers uses the python-hyperscan binding where _hsnative is missing),
# but when one is present it must match its source too.
EXTENSIONS: tuple[tuple[str, str], ...] = (("detectors/_hsnative.c", "_hsnative"),)
# The media stripper's modules, compiled as their own group in pipeline/media (checked when
# pipeline.media is imported): about a fifth less sidecar CPU per proxied 100 KB upload.
MEDIA_COMPILED: tuple[str, ...] = (
    "pipeline/media/policy.py",
    "pipeline/media/sniff.py",
    "pipeline/media/markers.py",
    "pipeline/media/tiff.py",
    "pipeline/media/jpeg.py",
    "pipeline/media/core.py",
)
# The proxy's upload fast path and what it calls per upload, compiled as their own group in
# pipeline/sidecar (checked when pipeline.sidecar is imported). Not compilable: modules that
# define async generators (proxy, body) and the access logger (a slotted aiohttp base);
# aiohttp's handlers (proxy, app, api) stay interpreted anyway, since aiohttp inspects them.
SIDECAR_COMPILED: tuple[str, ...] = (
    "pipeline/sidecar/metrics.py",
    "pipeline/sidecar/sniff.py",
    "pipeline/sidecar/consent.py",
    "pipeline/sidecar/accessline.py",
    "pipeline/sidecar/engine.py",
    "pipeline/sidecar/http1.py",
    "pipeline/sidecar/upstream.py",
    "pipeline/sidecar/forwarding.py",
    "pipeline/sidecar/fastpath.py",
)
# Package directory (relative to the repository) -> its compiled modules, one mypyc group each.
GROUPS: dict[str, tuple[str, ...]] = {
    "detectors": COMPILED,
    "pipeline/media": MEDIA_COMPILED,
    "pipeline/sidecar": SIDECAR_COMPILED,
}
MANIFEST = "_native_manifest.json"  # written into the package directory by the build
_PACKAGE = Path(__file__).resolve().parent


class StaleNativeBuild(ImportError):
    """A compiled detector module does not match its source; rebuild with scripts/build-native."""


def source_hashes(
    package: Path = _PACKAGE,
    modules: tuple[str, ...] = COMPILED,
    extensions: tuple[tuple[str, str], ...] = EXTENSIONS,
) -> dict[str, str]:
    """SHA-256 of each compiled module's source, keyed by module file name (``numbers.py``)."""
    out: dict[str, str] = {}
    for rel in (*modules, *(src for src, _ in extensions)):
        name = rel.rsplit("/", 1)[-1]
        path = package / name
        if path.exists() or rel in modules:
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def compiled_modules(package: Path = _PACKAGE, modules: tuple[str, ...] = COMPILED) -> list[str]:
    """Names (``numbers.py``) of the compiled modules with an extension module in ``package``."""
    return [
        rel.rsplit("/", 1)[-1]
        for rel in modules
        if any(package.glob(rel.rsplit("/", 1)[-1][:-3] + ".*.so"))
    ]


def extension_modules(
    package: Path = _PACKAGE, extensions: tuple[tuple[str, str], ...] = EXTENSIONS
) -> list[str]:
    """Sources (``_hsnative.c``) of the C extensions with a built module in ``package``."""
    return [
        src.rsplit("/", 1)[-1] for src, module in extensions if any(package.glob(module + ".*.so"))
    ]


def verify_group(directory: str) -> None:
    """:func:`verify` for one of the pipeline's :data:`GROUPS` (they have no C extensions)."""
    verify(_PACKAGE.parent / directory, GROUPS[directory], ())


def verify(
    package: Path = _PACKAGE,
    modules: tuple[str, ...] = COMPILED,
    extensions: tuple[tuple[str, str], ...] = EXTENSIONS,
) -> None:
    """Refuse a compiled build that does not match the sources next to it.

    No extension module at all is fine (pure Python). Otherwise the manifest must exist and
    name the current hash of every compiled module's source.

    Raises:
        StaleNativeBuild: an extension module exists but the manifest is missing, unreadable or
            records a different source hash; the message names the module files.
    """
    present = compiled_modules(package, modules)
    built = extension_modules(package, extensions)
    if not present and not built:
        return
    try:
        recorded = json.loads((package / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    current = source_hashes(package, modules, extensions)
    # Compiled modules: all or none. C extensions: each optional, but current when present.
    checked = [rel.rsplit("/", 1)[-1] for rel in modules] if present else []
    checked += built
    stale = sorted(
        n
        for n in checked
        if recorded.get(n) != current.get(n) or (n.endswith(".py") and n not in present)
    )
    if stale:
        msg = (
            f"compiled modules in {package.name}/ do not match their sources "
            f"({', '.join(stale)}): run scripts/build-native (or scripts/build-native --clean "
            "to run pure Python)"
        )
        raise StaleNativeBuild(msg)


def native_helper(name: str) -> Any:
    """``detectors._hsnative.<name>``, or None where the C extension is not built or predates
    ``name`` (callers then take their pure-Python way)."""
    try:
        return getattr(importlib.import_module("detectors._hsnative"), name)
    except (ImportError, AttributeError):
        return None
