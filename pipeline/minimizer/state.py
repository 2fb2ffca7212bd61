"""Per-record working state of the minimizer and the entity actions.

One :class:`RecordState` lives for one (event, purpose): the resolved consent, the key
material and the audit tally. Nothing in it outlives the call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from detectors.findings import Finding
from pipeline.audit import AuditBuilder
from pipeline.consent import Consent
from pipeline.minimizer.generalize import generalize_coordinates_text, generalize_ip
from pipeline.policy.models import Action, PurposePolicy
from pipeline.pseudonym import PseudonymKeys

ScanFn = Callable[[str], list[Finding]]

MASK_CHAR = "*"
MASK_KEEP = 4  # letters/digits left visible at the end (card: ************4242)


@dataclass(slots=True)
class RecordState:
    """What minimizing one record for one purpose needs."""

    purpose_name: str
    purpose: PurposePolicy
    consent: Consent
    keys: PseudonymKeys
    scan: ScanFn
    cross_service: bool
    audit: AuditBuilder = field(default_factory=AuditBuilder)
    _entity_actions: dict[str, Action] = field(default_factory=dict)

    def pseudonym(self, value: str) -> str:
        """The purpose's pseudonym of ``value``; records the key id in the audit."""
        if self.audit.key_id is None:
            self.audit.key_id = self.keys.key_id_for(
                self.purpose_name, cross_service=self.cross_service
            )
        return self.keys.pseudonym(value, self.purpose_name, cross_service=self.cross_service)

    def entity_action(self, entity_type: str) -> Action:
        """The action for ``entity_type`` under this record's consent."""
        action = self._entity_actions.get(entity_type)
        if action is None:
            action = self.purpose.entity_rule(entity_type).resolve(self.consent)
            self._entity_actions[entity_type] = action
        return action


def mask(value: str) -> str:
    """Replace every letter and digit but the last :data:`MASK_KEEP` with ``*``."""
    alnum = [i for i, c in enumerate(value) if c.isalnum()]
    hidden = set(alnum[:-MASK_KEEP] if len(alnum) > MASK_KEEP else alnum)
    return "".join(MASK_CHAR if i in hidden else c for i, c in enumerate(value))


def replace_entity(value: str, entity_type: str, action: Action, st: RecordState) -> str:
    """The text that replaces one detected entity under ``action``.

    ``generalize`` falls back to a redaction when the value has no coarser form (a
    hostname where an IP was expected, coordinates in degrees-minutes-seconds): fail closed.
    """
    if action is Action.KEEP:
        return value
    if action is Action.DROP:
        return ""
    if action is Action.MASK:
        return mask(value)
    if action is Action.PSEUDONYMIZE:
        return f"<{entity_type}:{st.pseudonym(value)}>"
    if action is Action.GENERALIZE:
        coarse = None
        if entity_type == "IP_ADDRESS":
            coarse = generalize_ip(value)
        elif entity_type == "GPS_COORDINATES":
            coarse = generalize_coordinates_text(value)
        if coarse is not None:
            return coarse
    return f"<{entity_type}>"


__all__ = ["MASK_KEEP", "RecordState", "ScanFn", "mask", "replace_entity"]
