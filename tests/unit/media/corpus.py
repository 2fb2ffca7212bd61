"""The media corpus split into files Veil strips and files it must refuse (by extension)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tests.conftest import CORPUS

MEDIA = CORPUS / "media"
SUPPORTED_EXT = {
    ".jpg",
    ".jpeg",
    ".jps",
    ".png",
    ".webp",
    ".tif",
    ".tiff",
    ".heic",
    ".heif",
    ".mp4",
    ".mov",
    ".xmp",
}
# Files whose extension looks supported but whose content is a RAW variant, refused by design.
REFUSED_NAMES = {"PhaseOne.iiq"}


def _all() -> list[Path]:
    return sorted(p for p in MEDIA.rglob("*") if p.is_file())


def supported() -> list[Path]:
    """Corpus files of a supported format."""
    return [p for p in _all() if p.suffix.lower() in SUPPORTED_EXT]


def refused() -> list[Path]:
    """Corpus files of an unsupported format (RAW, PDF, DOCX, GIF, AVI, MKV, JXL, PSD...)."""
    return [p for p in _all() if p.suffix.lower() not in SUPPORTED_EXT]


def ids(paths: list[Path]) -> list[str]:
    """Short test ids."""
    return [p.name for p in paths]


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes] | None:
    """Decoded (mode, size, pixel bytes), or None when Pillow cannot decode the original."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.mode, im.size, im.tobytes()
    except (OSError, SyntaxError, ValueError, EOFError):
        return None
