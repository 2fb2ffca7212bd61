"""Frozen, validated models of the policy file (``config/policy.yaml``).

The policy is data: which fields an event may carry (per event kind), which category of the
privacy policy each field belongs to, and per purpose what happens to each category, field
and detected entity type, possibly depending on a consent key. Everything is validated once,
at load time, so the minimizer never meets a rule it cannot apply: an action that does not
fit a field's type, an unknown category, consent key, entity type or clause id is a
:class:`~pipeline.errors.PolicyError` naming the key path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from detectors.patterns import ENTITY_TYPES as SCANNER_ENTITY_TYPES
from pipeline.consent import Consent

# Event kinds of DESIGN.md (Events). ``common`` in the policy's field table applies to all.
KINDS: tuple[str, ...] = ("log", "communication", "media_upload")
COMMON = "common"

# Clause ids of POLICY-MAP.md.
CLAUSES: frozenset[str] = frozenset(f"P{i}" for i in range(1, 18))

# Entity types the detectors report: the scanner's own list, so the two cannot drift.
ENTITY_TYPES: frozenset[str] = SCANNER_ENTITY_TYPES

# The consent key that lets pseudonyms be joined across purposes (P12).
CROSS_SERVICE = "cross_service"


class Action(StrEnum):
    """What happens to a field or a detected entity."""

    KEEP = "keep"
    DROP = "drop"
    REDACT = "redact"  # replaced by a placeholder such as <EMAIL_ADDRESS>
    MASK = "mask"  # all but the last four letters/digits replaced by '*'
    PSEUDONYMIZE = "pseudonymize"  # keyed HMAC-SHA-256 token, stable per purpose
    GENERALIZE = "generalize"  # IP /24 or /48, coordinates ~1 km, timestamps to the hour
    SCAN = "scan"  # run the text detectors and apply the entity actions


class FieldType(StrEnum):
    """The shape of a field's value; decides which actions can apply to it."""

    ID = "id"  # an opaque record identifier (event_id)
    KIND = "kind"  # the event kind, validated against KINDS
    STRING = "string"  # a short free-form string (model, os, channel...)
    TEXT = "text"  # free text written by people or programs
    URL = "url"  # an absolute or relative URL
    IP = "ip"  # an IPv4/IPv6 address
    IDENTIFIER = "identifier"  # a value that identifies a person or device
    LATITUDE = "latitude"
    LONGITUDE = "longitude"
    TIMESTAMP = "timestamp"  # ISO 8601
    NUMBER = "number"
    MEDIA = "media"  # base64 media bytes (content_b64)
    MEDIA_REF = "media_ref"  # a claim-check reference to stored media bytes


_STRINGY = {Action.KEEP, Action.DROP, Action.REDACT, Action.MASK, Action.PSEUDONYMIZE}
# Which actions apply to which field type. ``keep`` of media means "keep the stripped
# bytes": media are always stripped, never forwarded as received.
ALLOWED_ACTIONS: Mapping[FieldType, frozenset[Action]] = {
    FieldType.ID: frozenset({Action.KEEP, Action.DROP, Action.PSEUDONYMIZE, Action.REDACT}),
    FieldType.KIND: frozenset({Action.KEEP}),
    FieldType.STRING: frozenset(_STRINGY | {Action.SCAN}),
    FieldType.TEXT: frozenset(_STRINGY | {Action.SCAN}),
    FieldType.URL: frozenset(_STRINGY | {Action.SCAN}),
    FieldType.IP: frozenset(_STRINGY | {Action.GENERALIZE}),
    FieldType.IDENTIFIER: frozenset(_STRINGY),
    FieldType.LATITUDE: frozenset({Action.KEEP, Action.DROP, Action.GENERALIZE}),
    FieldType.LONGITUDE: frozenset({Action.KEEP, Action.DROP, Action.GENERALIZE}),
    FieldType.TIMESTAMP: frozenset({Action.KEEP, Action.DROP, Action.GENERALIZE}),
    FieldType.NUMBER: frozenset({Action.KEEP, Action.DROP}),
    FieldType.MEDIA: frozenset({Action.KEEP, Action.DROP}),
    FieldType.MEDIA_REF: frozenset({Action.KEEP, Action.DROP}),
}

# Entity actions: ``generalize`` only where there is a coarser form of the value.
GENERALIZABLE_ENTITIES: frozenset[str] = frozenset({"IP_ADDRESS", "GPS_COORDINATES"})
ENTITY_ACTIONS: frozenset[Action] = frozenset(Action) - {Action.SCAN}

_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _rule_from_yaml(value: Any) -> Any:
    # A rule is written either as a bare action ("keep") or as a mapping.
    return {"action": value} if isinstance(value, str) else value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


ClauseIds = tuple[Annotated[str, Field(pattern=r"^P\d+$")], ...]


class Rule(_Frozen):
    """An action, optionally conditioned on a consent key.

    Attributes:
        action: the action when ``consent`` is None or granted.
        consent: the consent key ``action`` depends on.
        otherwise: the action when ``consent`` is not granted (default ``drop``).
        clauses: the POLICY-MAP clause ids this rule implements.
    """

    action: Action
    consent: str | None = None
    otherwise: Action = Action.DROP
    clauses: ClauseIds = ()

    def resolve(self, consent: Consent) -> Action:
        """Return the action that applies under ``consent``."""
        if self.consent is None or self.consent in consent.granted:
            return self.action
        return self.otherwise

    def actions(self) -> tuple[Action, ...]:
        """Every action this rule can resolve to."""
        return (self.action,) if self.consent is None else (self.action, self.otherwise)


RuleSpec = Annotated[Rule, BeforeValidator(_rule_from_yaml)]


class CategorySpec(_Frozen):
    """A kind of data named by the privacy policy (account, device, location...)."""

    clauses: ClauseIds = Field(min_length=1)
    description: str = ""


class FieldSpec(_Frozen):
    """One field an event may carry: its category and the shape of its value."""

    category: str
    type: FieldType


def _field_from_yaml(value: Any) -> Any:
    # Written compactly as "category/type" or as a mapping.
    if isinstance(value, str) and "/" in value:
        category, _, type_ = value.partition("/")
        return {"category": category, "type": type_}
    return value


FieldSpecIn = Annotated[FieldSpec, BeforeValidator(_field_from_yaml)]


class PurposePolicy(_Frozen):
    """What one output (purpose) may receive.

    Attributes:
        topic: the Kafka topic of the purpose's minimized records.
        retention: records older than this (event time against now) are not forwarded.
        requires_consent: consent keys without which the purpose receives no record at all.
        categories: the rule per category; a category missing here is dropped.
        fields: per-field overrides of the category rule (same paths as the field table).
        entities: the rule per entity type found by ``scan``; ``default_entity`` otherwise.
    """

    clauses: ClauseIds = Field(min_length=1)
    description: str = ""
    topic: str = Field(min_length=1)
    retention: timedelta
    requires_consent: frozenset[str] = frozenset()
    categories: Mapping[str, RuleSpec] = Field(default_factory=dict)
    fields: Mapping[str, RuleSpec] = Field(default_factory=dict)
    entities: Mapping[str, RuleSpec] = Field(default_factory=dict)
    default_entity: RuleSpec = Rule(action=Action.REDACT)

    @model_validator(mode="before")
    @classmethod
    def _retention(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("retention"), str):
            parsed = parse_duration(data["retention"])
            if parsed is not None:
                data = {**data, "retention": parsed}
        return data

    def entity_rule(self, entity_type: str) -> Rule:
        """The rule for ``entity_type`` (``default_entity`` when not listed)."""
        return self.entities.get(entity_type, self.default_entity)


_DURATION = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta | None:
    """Parse ``30d``/``12h``/``15m``/``10s``; None for anything else (pydantic tries ISO)."""
    m = _DURATION.match(text)
    if m is None:
        return None
    return timedelta(seconds=int(m.group(1)) * _UNIT_SECONDS[m.group(2)])


class Policy(_Frozen):
    """The whole policy, validated.

    Attributes:
        version: named by every audit record.
        consent_keys: the consent keys rules may depend on; any other key is never granted.
        missing_user: an event without ``user_id`` is processed as ``anonymous`` or sent to
            the dead-letter store (``dead_letter``).
        undated: an event without ``occurred_at`` cannot be checked against retention:
            ``forward`` treats it as current, ``withhold`` forwards it to no purpose.
        categories: the categories of the privacy policy.
        fields: per event kind (and ``common`` for every kind) the allowed field paths.
            Paths are dotted, ``[]`` marks a list (``payload.to_accounts[]``).
        purposes: the outputs.
    """

    version: str = Field(min_length=1)
    consent_keys: frozenset[str]
    missing_user: Literal["anonymous", "dead_letter"] = "anonymous"
    undated: Literal["forward", "withhold"] = "forward"
    categories: Mapping[str, CategorySpec]
    fields: Mapping[str, Mapping[str, FieldSpecIn]]
    purposes: Mapping[str, PurposePolicy] = Field(min_length=1)

    @model_validator(mode="after")
    def _cross_check(self) -> Policy:
        errors = list(self._problems())
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def kind_fields(self, kind: str) -> dict[str, FieldSpec]:
        """The field table of ``kind``: the common fields plus the kind's own."""
        merged = dict(self.fields.get(COMMON, {}))
        merged.update(self.fields.get(kind, {}))
        return merged

    def all_paths(self) -> dict[str, FieldSpec]:
        """Every field path of every kind (a path has one spec across kinds)."""
        merged: dict[str, FieldSpec] = {}
        for table in self.fields.values():
            merged.update(table)
        return merged

    def _problems(self) -> Iterator[str]:
        for key in sorted(self.consent_keys):
            if not _NAME.match(key):
                yield f"consent_keys: '{key}' is not a lower_snake_case name"
        for name, cat in self.categories.items():
            yield from _bad_clauses(f"categories.{name}.clauses", cat.clauses)
        paths: dict[str, FieldSpec] = {}
        for kind, table in self.fields.items():
            if kind != COMMON and kind not in KINDS:
                yield f"fields.{kind}: expected one of {', '.join((COMMON, *KINDS))}"
            for path, spec in table.items():
                where = f"fields.{kind}.{path}"
                if not _PATH.match(path):
                    yield f"{where}: expected a dotted path of lower_snake_case names"
                if spec.category not in self.categories:
                    yield f"{where}.category: expected one of {_names(self.categories)}"
                if path in paths and paths[path] != spec:
                    yield f"{where}: the same path has a different spec in another kind"
                paths[path] = spec
        for kind in KINDS:
            yield from _shape_conflicts(kind, self.kind_fields(kind))
        for pname, purpose in self.purposes.items():
            yield from self._purpose_problems(f"purposes.{pname}", purpose, paths)

    def _purpose_problems(
        self, where: str, purpose: PurposePolicy, paths: Mapping[str, FieldSpec]
    ) -> Iterator[str]:
        yield from _bad_clauses(f"{where}.clauses", purpose.clauses)
        if purpose.retention <= timedelta(0):
            yield f"{where}.retention: expected a positive duration"
        for key in sorted(purpose.requires_consent - self.consent_keys):
            yield f"{where}.requires_consent: '{key}' is not in consent_keys"
        for cat, rule in purpose.categories.items():
            if cat not in self.categories:
                yield f"{where}.categories.{cat}: expected one of {_names(self.categories)}"
                continue
            yield from self._rule_problems(f"{where}.categories.{cat}", rule)
            for path, spec in paths.items():
                if spec.category == cat and path not in purpose.fields:
                    yield from _fit(f"{where}.categories.{cat}", rule, spec.type, path)
        for path, rule in purpose.fields.items():
            if path not in paths:
                yield f"{where}.fields.{path}: expected a path of the fields table"
                continue
            yield from self._rule_problems(f"{where}.fields.{path}", rule)
            yield from _fit(f"{where}.fields.{path}", rule, paths[path].type, path)
        for entity, rule in [*purpose.entities.items(), ("default", purpose.default_entity)]:
            ewhere = f"{where}.entities.{entity}"
            if entity != "default" and entity not in ENTITY_TYPES:
                yield f"{ewhere}: expected one of {', '.join(sorted(ENTITY_TYPES))}"
            yield from self._rule_problems(ewhere, rule)
            for action in rule.actions():
                if action not in ENTITY_ACTIONS:
                    yield f"{ewhere}: action '{action}' does not apply to an entity"
                if action is Action.GENERALIZE and entity not in GENERALIZABLE_ENTITIES:
                    yield (
                        f"{ewhere}: 'generalize' applies only to "
                        f"{', '.join(sorted(GENERALIZABLE_ENTITIES))}"
                    )

    def _rule_problems(self, where: str, rule: Rule) -> Iterator[str]:
        if rule.consent is not None and rule.consent not in self.consent_keys:
            yield f"{where}.consent: expected one of {', '.join(sorted(self.consent_keys))}"
        yield from _bad_clauses(f"{where}.clauses", rule.clauses)


def _names(mapping: Mapping[str, object]) -> str:
    return ", ".join(sorted(mapping))


def _bad_clauses(where: str, clauses: tuple[str, ...]) -> Iterator[str]:
    for clause in clauses:
        if clause not in CLAUSES:
            yield f"{where}: expected clause ids P1..P17 of POLICY-MAP.md"


def _fit(where: str, rule: Rule, ftype: FieldType, path: str) -> Iterator[str]:
    for action in rule.actions():
        if action not in ALLOWED_ACTIONS[ftype]:
            allowed = ", ".join(sorted(ALLOWED_ACTIONS[ftype]))
            yield (
                f"{where}: action '{action}' does not apply to field {path} "
                f"(type {ftype}); expected one of {allowed}"
            )


def _shape_conflicts(kind: str, table: Mapping[str, FieldSpec]) -> Iterator[str]:
    # A path cannot be both a leaf and an object/list holding other fields.
    leaves = set(table)
    for path in table:
        parts = path.split(".")
        for i in range(1, len(parts)):
            prefix = ".".join(parts[:i])
            if prefix in leaves or prefix.removesuffix("[]") in leaves:
                yield f"fields ({kind}): {prefix} is a field and also holds {path}"
