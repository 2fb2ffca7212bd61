"""Lossless media metadata stripping.

``strip_media`` takes the bytes of a photo, video or XMP sidecar, detects the format from its
magic bytes, and returns the same media with identifying metadata removed: the image or
sample data is copied byte for byte, never decoded or re-encoded. ``strip_file`` does the same
file to file, with bounded memory for large videos. Anything that cannot be handled exactly
raises :class:`~pipeline.errors.UnsupportedMedia` or :class:`~pipeline.errors.CorruptMedia`
and produces no output (fail closed).
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from detectors.native import verify_group as _verify_native

# Refuse a compiled (mypyc) build of the media modules that no longer matches its sources; it
# runs before any of them is imported.
_verify_native("pipeline/media")

from pipeline.errors import CorruptMedia, MediaError  # noqa: E402
from pipeline.media import sniff as _sniff  # noqa: E402
from pipeline.media.policy import CATEGORIES, MediaPolicy, Removals, StripResult  # noqa: E402

__all__ = [
    "CATEGORIES",
    "MediaPolicy",
    "StripResult",
    "detect_type",
    "strip_file",
    "strip_media",
]

MAX_IN_MEMORY = 512 * 1024 * 1024  # larger inputs must go through strip_file (videos only)

Stripper = Callable[[bytes, MediaPolicy, Removals, str], bytes]


# media type -> "module:function"; imported on first use so that importing pipeline.media
# stays cheap for the CLI registry. Explicit, so a reader sees every supported format here.
_STRIPPERS: dict[str, str] = {
    _sniff.JPEG: "pipeline.media.jpeg:strip_jpeg",
    _sniff.PNG: "pipeline.media.png:strip_png",
    _sniff.WEBP: "pipeline.media.webp:strip_webp",
    _sniff.TIFF: "pipeline.media.tiff_file:strip_tiff",
    _sniff.HEIC: "pipeline.media.heif:strip_heif",
    _sniff.AVIF: "pipeline.media.heif:strip_heif",
    _sniff.MP4: "pipeline.media.isobmff:strip_video",
    _sniff.MOV: "pipeline.media.isobmff:strip_video",
    _sniff.XMP: "pipeline.media.xmp:strip_sidecar",
}


_RESOLVED: dict[str, Stripper] = {}  # resolved once per type: import_module is not free


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
    data: bytes,
    *,
    policy: MediaPolicy = MediaPolicy(),  # noqa: B008  # frozen value, safe as a default
    filename: str | None = None,
    content_type: str | None = None,
) -> StripResult:
    """Strip identifying metadata from ``data`` without touching the image or media data.

    Args:
        data: the whole file.
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
    data = bytes(data)
    if len(data) > MAX_IN_MEMORY:
        msg = f"{label}: larger than {MAX_IN_MEMORY} bytes; use strip_file"
        raise CorruptMedia(msg)
    media_type = detect_type(data, filename=filename, content_type=content_type)
    removals = Removals()
    try:
        out = _stripper(media_type)(data, policy, removals, label)
    except MediaError:
        raise
    except (ValueError, IndexError, KeyError, OverflowError, UnicodeError) as exc:
        # A parser bug on hostile input must still fail closed, with the file named.
        msg = f"{label}: malformed {media_type} structure ({type(exc).__name__})"
        raise CorruptMedia(msg) from exc
    return removals.result(out, media_type)


def strip_file(
    src: Path,
    dst: Path,
    *,
    policy: MediaPolicy = MediaPolicy(),  # noqa: B008  # frozen value, safe as a default
) -> StripResult:
    """Strip ``src`` into ``dst``; the result's ``data`` is empty.

    MP4/MOV are processed by box offsets with bounded memory (the media data is streamed);
    other formats are read whole. ``dst`` is written atomically: on any error it is not
    created (and a pre-existing ``dst`` is left untouched).

    Raises:
        UnsupportedMedia, CorruptMedia: as :func:`strip_media`.
        OSError: ``src`` unreadable or ``dst`` not writable.
    """
    src, dst = Path(src), Path(dst)
    label = src.name
    with src.open("rb") as fh:
        head = fh.read(4096)
    media_type = detect_type(head, filename=src.name)
    fd, tmp_name = tempfile.mkstemp(prefix=".veil-", suffix=".part", dir=dst.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if media_type in (_sniff.MP4, _sniff.MOV):
                from pipeline.media.isobmff import strip_video_file

                removals = Removals()
                with src.open("rb") as fin:
                    strip_video_file(fin, out, policy, removals, label)
                result = removals.result(b"", media_type)
            else:
                if src.stat().st_size > MAX_IN_MEMORY:
                    msg = f"{label}: {media_type} larger than {MAX_IN_MEMORY} bytes"
                    raise CorruptMedia(msg)
                res = strip_media(src.read_bytes(), policy=policy, filename=src.name)
                out.write(res.data)
                result = StripResult(b"", res.media_type, res.removed, res.kept)
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return result
