"""The minimizer core: ``event -> (policy, consent, purpose) -> minimized event + audit``.

Pure: no I/O besides the media resolver the caller passes in the context. The same code
runs in replay, in the Kafka workers and in the sidecar.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from detectors.findings import Finding
from pipeline.audit import AuditEntry
from pipeline.consent import Consent
from pipeline.errors import MalformedEvent, PolicyError, Reason, RecordError
from pipeline.events import KINDS, parse_timestamp
from pipeline.minimizer import media as _media
from pipeline.minimizer.actions import (
    MISSING,
    apply_action,
    apply_field,
    check_type,
    forget_memos,
    type_ok,
)
from pipeline.minimizer.plan import Leaf, Node, Obj, Plan, plan_for
from pipeline.minimizer.prescan import needs_view, view
from pipeline.minimizer.state import RecordState, ScanFn
from pipeline.minimizer.text import scan_text
from pipeline.minimizer.url import minimize_url
from pipeline.policy.models import CROSS_SERVICE, Action, FieldType, Policy, PurposePolicy
from pipeline.pseudonym import PseudonymKeys

# One scan of a URL's (or percent-encoded text's) view to skip clean values (see prescan);
# tests turn it off to check that it never changes a result.
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


# Texts up to this many characters have their findings remembered across records, at most
# this many (least recently used dropped first): field values repeat in a log stream (user
# agents, app names, URL path segments), and scanning is the minimizer's main cost. The memo
# lives in this process only and holds at most about 2 MB of text.
SCAN_MEMO_CHARS = 256
SCAN_MEMO_ENTRIES = 8192


@functools.cache
def _default_scan() -> ScanFn:
    from detectors.scanner import scan

    if SCAN_MEMO_ENTRIES <= 0:
        return scan
    remembered = functools.lru_cache(maxsize=SCAN_MEMO_ENTRIES)(scan)

    def scan_short_remembered(text: str) -> list[Finding]:
        return remembered(text) if len(text) <= SCAN_MEMO_CHARS else scan(text)

    return scan_short_remembered


def forget_scans() -> None:
    """Empty the cross-record memos (benchmarks time each round from cold memos)."""
    _default_scan.cache_clear()
    view.cache_clear()
    forget_memos()


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
    return _Record(event, policy, consent, context).minimize(purpose, purpose_policy)


def minimize_all(
    event: Mapping[str, Any], *, policy: Policy, consent: Consent, context: MinimizeContext
) -> dict[str, Minimized]:
    """:func:`minimize` for every purpose of the policy, keyed by purpose.

    The record is validated, its consent narrowed, its time parsed and each distinct text
    scanned once, not once per purpose; the results are those of :func:`minimize`.

    Raises:
        RecordError: as :func:`minimize`; a record one purpose cannot minimize is
            dead-lettered as a whole, never forwarded to the others.
    """
    record = _Record(event, policy, consent, context)
    return {name: record.minimize(name, rules) for name, rules in policy.purposes.items()}


def _memo(scan: ScanFn) -> ScanFn:
    """``scan`` remembering its results for the life of one record (every purpose of it).

    The findings lists are shared between callers, which only read them.
    """
    cache: dict[str, list[Finding]] = {}

    def scan_once(text: str) -> list[Finding]:
        found = cache.get(text)
        if found is None:
            found = cache[text] = scan(text)
        return found

    return scan_once


_UNPARSED: Final = object()


class _Record:
    """One event, validated once; minimized for one or several purposes."""

    __slots__ = ("_time", "consent", "context", "event", "event_id", "kind", "policy", "scan")

    def __init__(
        self,
        event: Mapping[str, Any],
        policy: Policy,
        consent: Consent,
        context: MinimizeContext,
    ) -> None:
        kind = event.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            msg = f"kind: expected one of {', '.join(KINDS)}"
            raise MalformedEvent(Reason.UNKNOWN_KIND, msg)
        if not isinstance(event.get("payload"), Mapping):
            raise MalformedEvent(Reason.WRONG_TYPE, "payload: expected an object")
        raw_id = event.get("event_id")
        if event.get("user_id") is None and policy.missing_user == "dead_letter":
            raise RecordError(Reason.MISSING_USER, "user_id: missing and the policy requires one")
        self.event = event
        self.policy = policy
        self.context = context
        self.kind = kind
        self.event_id = raw_id if isinstance(raw_id, str) else None
        self.consent = consent.narrow(event.get("consent"))
        self.scan = _memo(context.scan or _default_scan())
        self._time: object = _UNPARSED

    def minimize(self, purpose: str, rules: PurposePolicy) -> Minimized:
        """The result for ``purpose`` (see :func:`minimize`)."""
        consent = self.consent
        withheld = self._withheld(rules)
        if withheld is not None:
            entry = AuditEntry(
                event_id=self.event_id,
                purpose=purpose,
                policy_version=self.policy.version,
                consent_version=consent.version,
                forwarded=False,
                withheld=withheld,
            )
            return Minimized(None, entry)
        st = RecordState(
            purpose_name=purpose,
            purpose=rules,
            consent=consent,
            keys=self.context.keys,
            scan=self.scan,
            cross_service=CROSS_SERVICE in consent.granted,
        )
        plan = plan_for(self.policy, self.kind, purpose, consent)
        walker = _Walker(plan, st, self.context.resolve_media_ref)
        out = walker.obj(self.event, plan.root, top=True)
        walker.finish()
        out.setdefault("payload", {})  # the envelope keeps its shape even when all is dropped
        audit = st.audit.build(
            event_id=self.event_id,
            purpose=purpose,
            policy_version=self.policy.version,
            consent_version=consent.version,
            ephemeral_key=self.context.keys.ephemeral,
        )
        return Minimized(out, audit)

    def _withheld(self, rules: PurposePolicy) -> str | None:
        for key in sorted(rules.requires_consent):
            if key not in self.consent.granted:
                return f"consent:{key}"
        occurred = self.event.get("occurred_at")
        if occurred is None:
            return "undated" if self.policy.undated == "withhold" else None
        if self._time is _UNPARSED:
            self._time = parse_timestamp(occurred) if isinstance(occurred, str) else None
        ts = self._time
        if not isinstance(ts, datetime):
            raise MalformedEvent(Reason.WRONG_TYPE, "occurred_at: expected an ISO 8601 timestamp")
        if self.context.now - ts > rules.retention:
            return "retention"
        return None


# A scanned value waiting for its scan: (container, key or index, value, leaf).
_Pending = tuple[Any, Any, str, Leaf]


class _Walker:
    """Follows the plan tree over the event; only what the tree names is copied.

    ``scan`` fields are type-checked on the way but rewritten in :meth:`finish`, after the
    walk: their place in the output is held by the raw value meanwhile (a scan result is
    never absent, so the output's shape and key order do not depend on it).
    """

    __slots__ = ("fields", "pending", "plan", "resolver", "st")

    def __init__(
        self, plan: Plan, st: RecordState, resolver: Callable[[str], bytes] | None
    ) -> None:
        self.plan = plan
        self.st = st
        self.resolver = resolver
        self.fields = st.audit.fields
        self.pending: list[_Pending] = []

    def obj(self, src: Mapping[str, Any], node: Obj, *, top: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        children = node.children
        for key, value in src.items():
            child = children.get(key)
            if child is None:
                if not (top and key in _CONSUMED):
                    self.st.audit.unknown_dropped += 1
                continue
            if value is None:
                continue
            if type(child) is Leaf:
                if child.media:
                    self._media(value, child, src, out)
                    continue
                result = self.leaf(value, child, out, key)
            else:
                result = self.node(value, child)
            if result is not MISSING:
                out[key] = result
        return out

    def leaf(self, value: Any, leaf: Leaf, container: Any, key: Any) -> Any:
        if not type_ok(value, leaf.check):
            check_type(value, leaf.spec.type, leaf.path)  # raises, naming the expected type
        action = leaf.action
        if action is Action.SCAN:
            self.pending.append((container, key, value, leaf))
            return value
        result = apply_action(value, leaf.spec.type, action, leaf.path, self.st)
        self.fields[leaf.dropped if result is MISSING else leaf.done] += 1
        return result

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
        item = node.item
        if isinstance(item, Leaf) and item.action is Action.SCAN and not item.media:
            texts: list[Any] = []
            for v in value:
                if v is not None:
                    texts.append(self.leaf(v, item, texts, len(texts)))
            return texts if texts else MISSING
        items = [self.node(v, item) for v in value if v is not None]
        kept = [v for v in items if v is not MISSING]
        return kept if kept else MISSING

    def finish(self) -> None:
        """Rewrite the scanned fields held back by the walk (see the class docstring)."""
        st = self.st
        for container, key, value, leaf in self.pending:
            is_url = leaf.spec.type is FieldType.URL
            if PRESCAN and needs_view(value, is_url):
                shown = view(value, is_url)
                if shown is not None and not st.scan(shown):
                    self.fields[leaf.done] += 1
                    continue  # clean: the raw value already holds its place
            if is_url:
                container[key] = minimize_url(value, leaf.path, st)
            else:
                container[key] = scan_text(value, leaf.path, st)
            self.fields[leaf.done] += 1

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


__all__ = ["MinimizeContext", "Minimized", "forget_scans", "minimize", "minimize_all"]
