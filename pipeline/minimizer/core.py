"""The minimizer core: ``event -> (policy, consent, purpose) -> minimized event + audit``.

Pure: no I/O besides the media resolver the caller passes in the context. The same code
runs in replay, in the Kafka workers and in the sidecar.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.audit import AuditEntry
from pipeline.consent import Consent
from pipeline.errors import MalformedEvent, PolicyError, Reason, RecordError
from pipeline.events import KINDS, parse_timestamp
from pipeline.minimizer import media as _media
from pipeline.minimizer.actions import MISSING, apply_field
from pipeline.minimizer.plan import Leaf, Node, Obj, Plan, plan_for
from pipeline.minimizer.prescan import clean_values
from pipeline.minimizer.state import RecordState, ScanFn
from pipeline.policy.models import CROSS_SERVICE, Action, FieldType, Policy
from pipeline.pseudonym import PseudonymKeys

# One scanner call per record to skip clean values (see prescan); tests turn it off to
# check that it never changes a result.
PRESCAN = True

# Envelope keys Veil consumes itself: not counted as unknown when dropped.
_CONSUMED = frozenset({"consent"})


@dataclass(frozen=True, slots=True)
class MinimizeContext:
    """What the core needs from its caller besides the event, policy and consent.

    Attributes:
        keys: pseudonymization keys.
        now: the reference time for retention (timezone-aware).
        resolve_media_ref: fetches the bytes of a ``content_ref``; None: references cannot
            be resolved (such records are dead-lettered as ``media_unavailable``).
        scan: the text scanner; None means :func:`detectors.scanner.scan`.
    """

    keys: PseudonymKeys
    now: datetime
    resolve_media_ref: Callable[[str], bytes] | None = None
    scan: ScanFn | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            msg = "MinimizeContext.now must be timezone-aware"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class Minimized:
    """The result for one purpose.

    Attributes:
        event: the minimized event, or None when the purpose may not receive it (consent,
            retention); ``audit.withheld`` says why.
        audit: the audit entry (never values).
    """

    event: dict[str, Any] | None
    audit: AuditEntry


@functools.cache
def _default_scan() -> ScanFn:
    from detectors.scanner import scan

    return scan


def minimize(
    event: Mapping[str, Any],
    *,
    policy: Policy,
    consent: Consent,
    purpose: str,
    context: MinimizeContext,
) -> Minimized:
    """Minimize one event for one purpose.

    Args:
        event: a decoded event (see :func:`pipeline.events.parse_event`).
        policy: the validated policy.
        consent: what the consent source grants the event's user; the event's own
            ``consent`` object narrows it further.
        purpose: a purpose of the policy.
        context: keys, the reference time, the media resolver.

    Returns:
        The minimized event (only the fields the policy names, each after its action) and
        the audit entry; ``event`` is None when the purpose may not receive the record.

    Raises:
        PolicyError: ``purpose`` is not in the policy.
        RecordError: the record must be dead-lettered (malformed, missing user under a
            ``dead_letter`` policy, media unsupported, corrupt or unavailable).
    """
    purpose_policy = policy.purposes.get(purpose)
    if purpose_policy is None:
        msg = f"purpose '{purpose}' is not in the policy; expected one of {sorted(policy.purposes)}"
        raise PolicyError(msg)
    kind = event.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        msg = f"kind: expected one of {', '.join(KINDS)}"
        raise MalformedEvent(Reason.UNKNOWN_KIND, msg)
    if not isinstance(event.get("payload"), Mapping):
        raise MalformedEvent(Reason.WRONG_TYPE, "payload: expected an object")
    raw_id = event.get("event_id")
    event_id = raw_id if isinstance(raw_id, str) else None
    if event.get("user_id") is None and policy.missing_user == "dead_letter":
        raise RecordError(Reason.MISSING_USER, "user_id: missing and the policy requires one")
    consent = consent.narrow(event.get("consent"))
    withheld = _withheld(event, policy, purpose, consent, context.now)
    if withheld is not None:
        entry = AuditEntry(
            event_id=event_id,
            purpose=purpose,
            policy_version=policy.version,
            consent_version=consent.version,
            forwarded=False,
            withheld=withheld,
        )
        return Minimized(None, entry)
    st = RecordState(
        purpose_name=purpose,
        purpose=purpose_policy,
        consent=consent,
        keys=context.keys,
        scan=context.scan or _default_scan(),
        cross_service=CROSS_SERVICE in consent.granted,
    )
    plan = plan_for(policy, kind, purpose, consent)
    if PRESCAN:
        st.clean = clean_values(plan.root, event, st.scan)
    walker = _Walker(plan, st, context.resolve_media_ref)
    out = walker.obj(event, plan.root, top=True)
    out.setdefault("payload", {})  # the envelope keeps its shape even when all is dropped
    audit = st.audit.build(
        event_id=event_id,
        purpose=purpose,
        policy_version=policy.version,
        consent_version=consent.version,
        ephemeral_key=context.keys.ephemeral,
    )
    return Minimized(out, audit)


def minimize_all(
    event: Mapping[str, Any], *, policy: Policy, consent: Consent, context: MinimizeContext
) -> dict[str, Minimized]:
    """:func:`minimize` for every purpose of the policy, keyed by purpose.

    Raises:
        RecordError: as :func:`minimize`; a record one purpose cannot minimize is
            dead-lettered as a whole, never forwarded to the others.
    """
    return {
        name: minimize(event, policy=policy, consent=consent, purpose=name, context=context)
        for name in policy.purposes
    }


def _withheld(
    event: Mapping[str, Any], policy: Policy, purpose: str, consent: Consent, now: datetime
) -> str | None:
    rules = policy.purposes[purpose]
    for key in sorted(rules.requires_consent):
        if key not in consent.granted:
            return f"consent:{key}"
    occurred = event.get("occurred_at")
    if occurred is None:
        return "undated" if policy.undated == "withhold" else None
    ts = parse_timestamp(occurred) if isinstance(occurred, str) else None
    if ts is None:
        raise MalformedEvent(Reason.WRONG_TYPE, "occurred_at: expected an ISO 8601 timestamp")
    if now - ts > rules.retention:
        return "retention"
    return None


class _Walker:
    """Follows the plan tree over the event; only what the tree names is copied."""

    def __init__(
        self, plan: Plan, st: RecordState, resolver: Callable[[str], bytes] | None
    ) -> None:
        self.plan = plan
        self.st = st
        self.resolver = resolver

    def obj(self, src: Mapping[str, Any], node: Obj, *, top: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in src.items():
            child = node.children.get(key)
            if child is None:
                if not (top and key in _CONSUMED):
                    self.st.audit.unknown_dropped += 1
                continue
            if value is None:
                continue
            if isinstance(child, Leaf) and child.spec.type in (
                FieldType.MEDIA,
                FieldType.MEDIA_REF,
            ):
                self._media(value, child, src, out)
                continue
            result = self.node(value, child)
            if result is not MISSING:
                out[key] = result
        return out

    def node(self, value: Any, node: Node) -> Any:
        if isinstance(node, Leaf):
            return apply_field(value, node.spec.type, node.action, node.path, self.st)
        if isinstance(node, Obj):
            if not isinstance(value, Mapping):
                raise MalformedEvent(Reason.WRONG_TYPE, f"{node.path}: expected an object")
            result = self.obj(value, node)
            return result if result else MISSING
        if not isinstance(value, list):
            raise MalformedEvent(Reason.WRONG_TYPE, f"{node.path}: expected a list")
        items = [self.node(v, node.item) for v in value if v is not None]
        kept = [v for v in items if v is not MISSING]
        return kept if kept else MISSING

    def _media(
        self, value: Any, leaf: Leaf, parent: Mapping[str, Any], out: dict[str, Any]
    ) -> None:
        if not isinstance(value, str):
            raise MalformedEvent(Reason.WRONG_TYPE, f"{leaf.path}: expected a string")
        if leaf.action is Action.DROP:
            self.st.audit.field(leaf.path, Action.DROP)
            return
        out[_media.OUTPUT_FIELD] = _media.strip_field(
            value, leaf, parent, self.plan.media, self.resolver, self.st
        )
        self.st.audit.field(leaf.path, leaf.action)


__all__ = ["MinimizeContext", "Minimized", "minimize", "minimize_all"]
