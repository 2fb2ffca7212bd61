"""Compile the policy into a per-(kind, purpose, consent) tree of resolved field actions.

The walk over an event then only follows the tree: one dict lookup per key, no rule
resolution. Plans are cached: there are few kinds, purposes and consent combinations.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.consent import Consent
from pipeline.policy.models import Action, FieldSpec, FieldType, Policy, PurposePolicy, Rule

DROP_RULE = Rule(action=Action.DROP)


# What JSON type a field's value must have (see actions.check_type).
CHECK_NUMBER, CHECK_ID, CHECK_STRING = 0, 1, 2
_NUMERIC = frozenset({FieldType.NUMBER, FieldType.LATITUDE, FieldType.LONGITUDE})
_ID_LIKE = frozenset({FieldType.ID, FieldType.IDENTIFIER})


@dataclass(frozen=True, slots=True)
class Leaf:
    """A field: its generic path (for the audit), spec and resolved action.

    The remaining attributes are derived once when the plan is compiled, so the walk over
    each event does no dispatch on the field type: ``check`` (the JSON type the value must
    have), ``media`` (a media field), ``done``/``dropped`` (the audit keys of the action
    taken and of a drop).
    """

    path: str
    spec: FieldSpec
    action: Action
    check: int = field(init=False)
    media: bool = field(init=False)
    done: tuple[str, Action] = field(init=False)
    dropped: tuple[str, Action] = field(init=False)

    def __post_init__(self) -> None:
        ftype = self.spec.type
        check = (
            CHECK_NUMBER if ftype in _NUMERIC else CHECK_ID if ftype in _ID_LIKE else CHECK_STRING
        )
        object.__setattr__(self, "check", check)
        object.__setattr__(self, "media", ftype in (FieldType.MEDIA, FieldType.MEDIA_REF))
        object.__setattr__(self, "done", (self.path, self.action))
        object.__setattr__(self, "dropped", (self.path, Action.DROP))


@dataclass(frozen=True, slots=True)
class Obj:
    """An object whose named children are fields or further objects/lists."""

    path: str
    children: Mapping[str, Node]


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list whose items all follow ``item``."""

    path: str
    item: Node


Node = Leaf | Obj | ListOf


@dataclass(frozen=True, slots=True)
class MediaRule:
    """How media bytes are stripped for a purpose (from the location/media_metadata rules)."""

    coarse_location: bool
    keep_dates: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """The compiled rules for one (kind, purpose, consent)."""

    root: Obj
    media: MediaRule


def field_rule(purpose: PurposePolicy, path: str, spec: FieldSpec) -> Rule:
    """The rule of a field: its own override, else its category's, else drop."""
    return purpose.fields.get(path) or purpose.categories.get(spec.category) or DROP_RULE


_cache: dict[tuple[int, str, str, frozenset[str]], tuple[Policy, Plan]] = {}
_lock = threading.Lock()
_CACHE_LIMIT = 4096


def plan_for(policy: Policy, kind: str, purpose: str, consent: Consent) -> Plan:
    """The (cached) plan of ``kind`` events for ``purpose`` under ``consent``."""
    key = (id(policy), kind, purpose, consent.granted)
    hit = _cache.get(key)
    if hit is not None and hit[0] is policy:  # id() can be reused after a policy is freed
        return hit[1]
    plan = _compile(policy, kind, policy.purposes[purpose], consent)
    with _lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = (policy, plan)
    return plan


def _compile(policy: Policy, kind: str, purpose: PurposePolicy, consent: Consent) -> Plan:
    tree: dict[str, object] = {}
    for path, spec in policy.kind_fields(kind).items():
        node = tree
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)  # noqa: S101  # the loader rejects leaf/object clashes
            node = child
        node[parts[-1]] = Leaf(path, spec, field_rule(purpose, path, spec).resolve(consent))
    root = _freeze(tree, "")
    assert isinstance(root, Obj)  # noqa: S101
    location = purpose.categories.get("location", DROP_RULE).resolve(consent)
    dates = purpose.categories.get("media_metadata", DROP_RULE).resolve(consent)
    media = MediaRule(
        coarse_location=location in (Action.KEEP, Action.GENERALIZE),
        keep_dates=dates is Action.KEEP,
    )
    return Plan(root, media)


def _freeze(tree: object, prefix: str) -> Node:
    if isinstance(tree, Leaf):
        return tree
    assert isinstance(tree, dict)  # noqa: S101
    children: dict[str, Node] = {}
    for name, sub in tree.items():
        key, is_list = name.removesuffix("[]"), name.endswith("[]")
        path = f"{prefix}.{name}" if prefix else name
        node = _freeze(sub, path)
        children[key] = ListOf(path, node) if is_list else node
    return Obj(prefix, MappingProxyType(children))


__all__ = [
    "CHECK_ID",
    "CHECK_NUMBER",
    "CHECK_STRING",
    "Leaf",
    "ListOf",
    "MediaRule",
    "Node",
    "Obj",
    "Plan",
    "field_rule",
    "plan_for",
]
