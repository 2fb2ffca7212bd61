"""ISO base media (MP4/MOV): placeholder until the box rewriter lands; refuses everything."""

from __future__ import annotations

from typing import BinaryIO

from pipeline.errors import UnsupportedMedia
from pipeline.media.policy import MediaPolicy, Removals


def strip_video(data: bytes, policy: MediaPolicy, removals: Removals, label: str) -> bytes:
    """Refuse: not implemented yet (fail closed)."""
    msg = f"{label}: MP4/MOV stripping not available yet"
    raise UnsupportedMedia(msg)


def strip_video_file(
    src: BinaryIO, dst: BinaryIO, policy: MediaPolicy, removals: Removals, label: str
) -> None:
    """Refuse: not implemented yet (fail closed)."""
    msg = f"{label}: MP4/MOV stripping not available yet"
    raise UnsupportedMedia(msg)
