"""Media fields: strip metadata from inline (``content_b64``) or referenced bytes.

Media are never forwarded as received. ``keep`` on a media field means "keep the stripped
bytes"; the purpose's ``location`` rule decides whether GPS survives coarsened (P8, P10) and
its ``media_metadata`` rule whether capture dates survive. Referenced media
(``content_ref``) are fetched through the resolver the caller gives and emitted inline as
``content_b64``: the reference points at the unstripped original, so it is never forwarded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.errors import MalformedEvent, Reason, RecordError
from pipeline.media import MediaPolicy, strip_media
from pipeline.minimizer.plan import Leaf, MediaRule
from pipeline.minimizer.state import RecordState
from pipeline.policy.models import FieldType

OUTPUT_FIELD = "content_b64"


def strip_field(
    value: str,
    leaf: Leaf,
    parent: Mapping[str, Any],
    rule: MediaRule,
    resolver: Callable[[str], bytes] | None,
    st: RecordState,
) -> str:
    """Return the stripped bytes of a kept media field, base64-encoded.

    Raises:
        MalformedEvent: ``content_b64`` is not base64 (``wrong_type``).
        RecordError: ``media_unavailable`` when a reference cannot be resolved.
        UnsupportedMedia, CorruptMedia: from the stripper; nothing is forwarded.
    """
    if leaf.spec.type is FieldType.MEDIA:
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            msg = f"{leaf.path}: expected base64"
            raise MalformedEvent(Reason.WRONG_TYPE, msg) from None
    else:
        data = _resolve(value, leaf.path, resolver)
    filename = parent.get("filename")
    content_type = parent.get("content_type")
    result = strip_media(
        data,
        policy=MediaPolicy(
            location="coarse" if rule.coarse_location else "drop", keep_dates=rule.keep_dates
        ),
        filename=filename if isinstance(filename, str) else None,
        content_type=content_type if isinstance(content_type, str) else None,
    )
    st.audit.media[leaf.path] = {c: tuple(tags) for c, tags in result.removed.items()}
    return base64.b64encode(result.data).decode("ascii")


def _resolve(ref: str, path: str, resolver: Callable[[str], bytes] | None) -> bytes:
    if resolver is None:
        msg = f"{path}: no media store is configured to resolve references"
        raise RecordError(Reason.MEDIA_UNAVAILABLE, msg)
    try:
        return resolver(ref)
    except RecordError:
        raise
    except Exception as exc:  # the store's own errors: the record cannot be minimized
        msg = f"{path}: the referenced media could not be read ({type(exc).__name__})"
        raise RecordError(Reason.MEDIA_UNAVAILABLE, msg) from exc


__all__ = ["OUTPUT_FIELD", "strip_field"]
