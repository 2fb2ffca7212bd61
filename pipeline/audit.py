"""Audit entries: what the minimizer did to one record for one purpose, never the values.

An entry names the event id, the purpose, the policy and consent versions, the key id used
for pseudonyms and, per field path (list indices folded to ``[]``) and per entity type, the
action taken and how many times. Field paths come from the policy, never from the event, so
an unknown key in an event (which could itself be PII) is only counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """The audit record of one (event, purpose).

    Attributes:
        event_id: the event's id (None when the event had none).
        purpose: the purpose the record was minimized for.
        policy_version: the policy's version.
        consent_version: the consent record's version, if known.
        forwarded: False when the purpose receives nothing.
        withheld: why not forwarded: ``retention``, ``undated``, ``consent:<key>``.
        fields: (field path, action) -> count.
        entities: (field path, entity type, action) -> count, for scanned text.
        media: field path -> category -> removed tag names (from the media stripper).
        unknown_dropped: how many fields the policy does not name were dropped.
        key_id: the id of the pseudonym key used, if any pseudonym was made.
        ephemeral_key: True when that key was random for this run.
    """

    event_id: str | None
    purpose: str
    policy_version: str
    consent_version: str | None = None
    forwarded: bool = True
    withheld: str | None = None
    fields: Mapping[tuple[str, str], int] = field(default_factory=lambda: MappingProxyType({}))
    entities: Mapping[tuple[str, str, str], int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    media: Mapping[str, Mapping[str, tuple[str, ...]]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    unknown_dropped: int = 0
    key_id: str | None = None
    ephemeral_key: bool = False

    def entity_counts(self) -> dict[str, int]:
        """Entity type -> total count over every field (for summaries and metrics)."""
        totals: Counter[str] = Counter()
        for (_path, entity, _action), n in self.entities.items():
            totals[entity] += n
        return dict(totals)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, stable key order, holding no value from the event."""
        return {
            "event_id": self.event_id,
            "purpose": self.purpose,
            "policy_version": self.policy_version,
            "consent_version": self.consent_version,
            "forwarded": self.forwarded,
            "withheld": self.withheld,
            "fields": [
                {"path": p, "action": a, "count": n} for (p, a), n in sorted(self.fields.items())
            ],
            "entities": [
                {"path": p, "entity_type": e, "action": a, "count": n}
                for (p, e, a), n in sorted(self.entities.items())
            ],
            "media": {p: {c: list(t) for c, t in cats.items()} for p, cats in self.media.items()},
            "unknown_dropped": self.unknown_dropped,
            "key_id": self.key_id,
            "ephemeral_key": self.ephemeral_key,
        }


@dataclass(slots=True)
class AuditBuilder:
    """Mutable tally used while one record is minimized; frozen by :meth:`build`."""

    fields: Counter[tuple[str, str]] = field(default_factory=Counter)
    entities: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    media: dict[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    unknown_dropped: int = 0
    key_id: str | None = None

    def field(self, path: str, action: str) -> None:
        """Count one ``action`` on the field at ``path``."""
        self.fields[(path, action)] += 1

    def entity(self, path: str, entity_type: str, action: str) -> None:
        """Count one ``action`` on an ``entity_type`` found in the field at ``path``."""
        self.entities[(path, entity_type, action)] += 1

    def build(
        self,
        *,
        event_id: str | None,
        purpose: str,
        policy_version: str,
        consent_version: str | None,
        ephemeral_key: bool,
    ) -> AuditEntry:
        """Freeze the tally into an :class:`AuditEntry` of a forwarded record."""
        return AuditEntry(
            event_id=event_id,
            purpose=purpose,
            policy_version=policy_version,
            consent_version=consent_version,
            fields=MappingProxyType(dict(self.fields)),
            entities=MappingProxyType(dict(self.entities)),
            media=MappingProxyType(dict(self.media)),
            unknown_dropped=self.unknown_dropped,
            key_id=self.key_id,
            ephemeral_key=ephemeral_key and self.key_id is not None,
        )


__all__ = ["AuditBuilder", "AuditEntry"]
