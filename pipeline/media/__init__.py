"""Lossless media metadata stripping.

``strip_media`` takes the bytes of a photo, video or XMP sidecar, detects the format from its
magic bytes, and returns the same media with identifying metadata removed: the image or
sample data is copied byte for byte, never decoded or re-encoded. ``strip_file`` does the same
file to file, with bounded memory for large videos. Anything that cannot be handled exactly
raises :class:`~pipeline.errors.UnsupportedMedia` or :class:`~pipeline.errors.CorruptMedia`
and produces no output (fail closed).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from detectors.native import verify_group as _verify_native

# Refuse a compiled (mypyc) build of the media modules that no longer matches its sources; it
# runs before any of them is imported.
_verify_native("pipeline/media")

from pipeline.errors import CorruptMedia  # noqa: E402
from pipeline.media import sniff as _sniff  # noqa: E402
from pipeline.media.core import MAX_IN_MEMORY, detect_type, strip_media  # noqa: E402
from pipeline.media.policy import CATEGORIES, MediaPolicy, Removals, StripResult  # noqa: E402

__all__ = [
    "CATEGORIES",
    "MediaPolicy",
    "StripResult",
    "detect_type",
    "strip_file",
    "strip_media",
]


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
