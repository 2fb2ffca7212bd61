"""Consent: what a person has granted, as a frozen value.

Absent or unknown consent means *not granted*. A consent object carried inside an event can
only narrow what the consent source (Kafka table, replay snapshot) grants: the most
restrictive statement wins, key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The only values that grant a key. Anything else (false, "denied", "yes", 1, null) does not:
# a value we do not understand is not consent.
GRANTED_VALUES: tuple[object, ...] = (True, "granted")


def _is_granted(value: object) -> bool:
    # `1 == True` in Python: compare types too, so 1 and 1.0 do not count as consent.
    return any(type(value) is type(g) and value == g for g in GRANTED_VALUES)


@dataclass(frozen=True, slots=True)
class Consent:
    """The consent keys granted for one person at one time.

    Attributes:
        granted: the granted keys; every other key is not granted.
        version: the consent record's version (e.g. its ``updated_at``), named in audits.
    """

    granted: frozenset[str] = frozenset()
    version: str | None = None

    @classmethod
    def none(cls) -> Consent:
        """Nothing granted (the default for an unknown or anonymous person). The same
        (immutable) value every time: the sidecar asks for it on every upload."""
        if cls is Consent:
            return _NONE
        return cls(frozenset(), None)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object], version: str | None = None) -> Consent:
        """Build from ``{"location": true, "advertising": "granted", "ads": false, ...}``.

        Only ``true`` and ``"granted"`` grant a key; any other value does not.
        """
        return cls(frozenset(k for k, v in mapping.items() if _is_granted(v)), version)

    def narrow(self, event_consent: Mapping[str, object] | None) -> Consent:
        """Apply the consent object carried by an event: it can only take keys away.

        A key the event states with anything other than a grant is removed; a key the event
        grants but this consent does not stays ungranted; keys the event does not mention
        are unchanged. A non-mapping ``event_consent`` (malformed) withdraws everything:
        fail closed.
        """
        if event_consent is None:
            return self
        if not isinstance(event_consent, Mapping):
            return Consent(frozenset(), self.version)
        withdrawn = {k for k, v in event_consent.items() if not _is_granted(v)}
        return Consent(self.granted - withdrawn, self.version)

    def with_granted(self, *keys: str) -> Consent:
        """A copy with ``keys`` granted as well (for tests and ``policy explain``)."""
        return Consent(self.granted | frozenset(keys), self.version)


_NONE = Consent(frozenset(), None)

__all__ = ["GRANTED_VALUES", "Consent"]
