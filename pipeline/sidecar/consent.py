"""Consent for one request: the ``X-Veil-Consent`` header, narrowed by a snapshot.

Sources, most restrictive wins:

* the header ``X-Veil-Consent: location=granted, advertising=denied`` set by the upload
  service (values ``granted``/``true``/``yes``/``1`` grant; anything else, or a key that is
  absent, does not);
* optionally a consent snapshot file (JSONL, one user per line, the replay's format) looked up
  by the user header (``X-Veil-User`` by default).

Without a snapshot the header is the only source. With one, the snapshot is the base and the
header can only narrow it, so a client cannot grant itself more than the snapshot holds; a
request without a user, or with a user the snapshot does not know, gets no consent at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pipeline.consent import Consent
from pipeline.replay.consent_snapshot import load_consent_snapshot

_GRANTED = frozenset({"granted", "true", "yes", "1", "on"})
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
MAX_HEADER_ITEMS = 32


def parse_header(value: str | None) -> dict[str, bool] | None:
    """Parse an ``X-Veil-Consent`` header into ``{key: granted}``.

    Returns:
        None when the header is absent; otherwise a mapping where every well-formed item is
        present (True only for a granting value). Malformed items are skipped, which means
        "not granted" downstream: unknown consent is never consent.
    """
    if value is None:
        return None
    out: dict[str, bool] = {}
    for item in value.split(",")[:MAX_HEADER_ITEMS]:
        key, sep, val = item.strip().partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            continue
        # A key named twice keeps its most restrictive value.
        out[key] = out.get(key, True) and val.strip().lower() in _GRANTED
    return out


class ConsentSnapshot:
    """Consent per user, read once from a JSONL snapshot.

    The file format is the replay's (:mod:`pipeline.replay.consent_snapshot`): one
    ``{"user_id", "consent", "updated_at"}`` object per line, the latest ``updated_at`` wins.
    Read-only after construction.
    """

    __slots__ = ("_by_user",)

    def __init__(self, by_user: Mapping[str, Consent]) -> None:
        self._by_user = dict(by_user)

    @classmethod
    def load(cls, path: Path) -> ConsentSnapshot:
        """Read a snapshot file with the replay's reader (same format, same rules).

        Raises:
            ConfigError: the file cannot be read or a line is not a consent record; the
                message names the file and line, never the values.
        """
        return cls(load_consent_snapshot(path))

    def __len__(self) -> int:
        return len(self._by_user)

    def get(self, user: str | None) -> Consent:
        """Consent of ``user``; none at all for an unknown or missing user."""
        if user is None:
            return Consent.none()
        return self._by_user.get(user, Consent.none())


def resolve(header: str | None, user: str | None, snapshot: ConsentSnapshot | None) -> Consent:
    """Combine the header and the snapshot for one request; most restrictive wins."""
    from_header = parse_header(header)
    if snapshot is None:
        return Consent.none() if from_header is None else Consent.from_mapping(from_header)
    base = snapshot.get(user)
    return base if from_header is None else base.narrow(from_header)
