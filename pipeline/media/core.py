"""The stripper's entry point for in-memory media: format detection and dispatch.

Compiled with mypyc (see detectors/native.py) like the format modules it calls, so the
per-upload path from :func:`strip_media` down to the JPEG/EXIF rewrite runs as C; the
package's ``__init__`` re-exports it (and checks the compiled build before importing it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Final

from pipeline.errors import CorruptMedia, MediaError
from pipeline.media import sniff as _sniff
from pipeline.media.policy import MediaPolicy, Removals, StripResult

MAX_IN_MEMORY: Final = 512 * 1024 * 1024  # larger inputs must go through strip_file (videos only)

# A stripper returns the stripped file, or its pieces in order (see StripResult.parts).
Stripper = Callable[[bytes, MediaPolicy, Removals, str], bytes | list[bytes | memoryview]]


# media type -> "module:function"; imported on first use so that importing pipeline.media
# stays cheap for the CLI registry. Explicit, so a reader sees every supported format here.
_STRIPPERS: Final[dict[str, str]] = {
    _sniff.JPEG: "pipeline.media.jpeg:strip_jpeg_parts",
    _sniff.PNG: "pipeline.media.png:strip_png",
    _sniff.WEBP: "pipeline.media.webp:strip_webp",
    _sniff.TIFF: "pipeline.media.tiff_file:strip_tiff",
    _sniff.HEIC: "pipeline.media.heif:strip_heif",
    _sniff.AVIF: "pipeline.media.heif:strip_heif",
    _sniff.MP4: "pipeline.media.isobmff:strip_video",
    _sniff.MOV: "pipeline.media.isobmff:strip_video",
    _sniff.XMP: "pipeline.media.xmp:strip_sidecar",
}


_RESOLVED: Final[dict[str, Stripper]] = {}  # resolved once per type: import_module is not free


def _stripper(media_type: str) -> Stripper:
    fn = _RESOLVED.get(media_type)
    if fn is None:
        module, func = _STRIPPERS[media_type].split(":")
        fn = _RESOLVED[media_type] = getattr(importlib.import_module(module), func)
    return fn


def detect_type(
    data: bytes, *, filename: str | None = None, content_type: str | None = None
) -> str:
    """The MIME type of ``data`` from its magic bytes, cross-checked against the name/type.

    Raises:
        UnsupportedMedia: unsupported format, or a name/content type naming another format.
        CorruptMedia: empty or unidentifiable input.
    """
    label = filename or "input"
    media_type = _sniff.sniff(data, label)
    _sniff.check_declared(media_type, label, filename, content_type)
    return media_type


def strip_media(
    data: bytes | bytearray | memoryview | object,
    *,
    policy: MediaPolicy = MediaPolicy(),  # noqa: B008  # frozen value, safe as a default
    filename: str | None = None,
    content_type: str | None = None,
) -> StripResult:
    """Strip identifying metadata from ``data`` without touching the image or media data.

    Args:
        data: the whole file, bytes-like. Anything else is refused with CorruptMedia (the
            annotation admits it so that the compiled function checks it itself, with that
            error, rather than with mypyc's TypeError).
        policy: what may survive (location coarsened, dates).
        filename: only for error messages and to refuse a lying extension.
        content_type: only to refuse a declared type that disagrees with the bytes.

    Returns:
        The stripped bytes, the detected type and the names of what was removed and kept.

    Raises:
        UnsupportedMedia: a format Veil does not strip (RAW, PDF, DOCX, GIF...).
        CorruptMedia: the structure is broken, truncated or exceeds a limit.
    """
    label = filename or "input"
    if not isinstance(data, bytes | bytearray | memoryview):
        msg = f"{label}: media data must be bytes; got {type(data).__name__}"
        raise CorruptMedia(msg)
    body = bytes(data)  # no copy when it is bytes already
    if len(body) > MAX_IN_MEMORY:
        msg = f"{label}: larger than {MAX_IN_MEMORY} bytes; use strip_file"
        raise CorruptMedia(msg)
    media_type = detect_type(body, filename=filename, content_type=content_type)
    removals = Removals()
    try:
        out = _stripper(media_type)(body, policy, removals, label)
    except MediaError:
        raise
    except (ValueError, IndexError, KeyError, OverflowError, UnicodeError) as exc:
        # A parser bug on hostile input must still fail closed, with the file named.
        msg = f"{label}: malformed {media_type} structure ({type(exc).__name__})"
        raise CorruptMedia(msg) from exc
    return removals.result(out, media_type)
