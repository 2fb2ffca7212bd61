"""What a purpose receives under a consent: the table behind ``veil policy explain``."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.consent import Consent
from pipeline.policy.models import COMMON, KINDS, Action, Policy, Rule

_DROP = Rule(action=Action.DROP)

# The clause each entity type falls under (POLICY-MAP.md), cited when a rule names none.
ENTITY_CLAUSES: dict[str, tuple[str, ...]] = {
    "EMAIL_ADDRESS": ("P1",),
    "PHONE_NUMBER": ("P1",),
    "CREDIT_CARD": ("P1",),
    "IBAN_CODE": ("P1",),
    "US_SSN": ("P1", "P3"),
    "ACCOUNT_NUMBER": ("P7",),
    "IP_ADDRESS": ("P4",),
    "MAC_ADDRESS": ("P4", "P9"),
    "IMEI": ("P4",),
    "DEVICE_ID": ("P4",),
    "URL": ("P5",),
    "GPS_COORDINATES": ("P9", "P10"),
}


@dataclass(frozen=True, slots=True)
class ExplainRow:
    """One line of the explanation.

    Attributes:
        scope: the event kind the field belongs to (``common``: every kind), or ``entity``.
        subject: a field path or an entity type.
        category: the field's category (empty for entities).
        action: the action that applies under the consent.
        why: the clause ids and the consent condition behind it.
    """

    scope: str
    subject: str
    category: str
    action: str
    why: str


def explain(policy: Policy, purpose: str, consent: Consent) -> tuple[list[str], list[ExplainRow]]:
    """Explain ``purpose`` under ``consent``.

    Returns:
        Header lines (topic, retention, required consent) and one row per field of every
        kind and per entity type.

    Raises:
        KeyError: ``purpose`` is not in the policy.
    """
    rules = policy.purposes[purpose]
    header = [
        f"purpose {purpose} (policy {policy.version}): {rules.description}".rstrip(": "),
        f"topic {rules.topic}; retention {_days(rules.retention.total_seconds())}",
    ]
    missing = sorted(rules.requires_consent - consent.granted)
    if missing:
        header.append(
            f"receives NO record: needs consent {', '.join(missing)} ({', '.join(rules.clauses)})"
        )
    elif rules.requires_consent:
        header.append(f"requires consent {', '.join(sorted(rules.requires_consent))}: granted")
    rows: list[ExplainRow] = []
    for kind in (COMMON, *KINDS):
        for path, spec in policy.fields.get(kind, {}).items():
            own = rules.fields.get(path)
            rule = own or rules.categories.get(spec.category) or _DROP
            clauses = rule.clauses or policy.categories[spec.category].clauses
            source = (
                "field rule"
                if own
                else (
                    "category rule" if spec.category in rules.categories else "not named: dropped"
                )
            )
            why = f"{', '.join(clauses)}; {source}{_condition(rule, consent)}"
            rows.append(ExplainRow(kind, path, spec.category, rule.resolve(consent), why))
    for entity in sorted({*rules.entities}):
        rule = rules.entity_rule(entity)
        clauses = rule.clauses or ENTITY_CLAUSES.get(entity, rules.clauses)
        why = f"{', '.join(clauses)}; entity rule{_condition(rule, consent)}"
        rows.append(ExplainRow("entity", entity, "", rule.resolve(consent), why))
    default = rules.default_entity
    rows.append(
        ExplainRow(
            "entity",
            "(other)",
            "",
            default.resolve(consent),
            f"default entity rule{_condition(default, consent)}",
        )
    )
    return header, rows


def _condition(rule: Rule, consent: Consent) -> str:
    if rule.consent is None:
        return ""
    state = "granted" if rule.consent in consent.granted else "not granted"
    return f"; {rule.action} if consent {rule.consent} else {rule.otherwise} ({state})"


def _days(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d" if rest == 0 else f"{int(seconds)}s"


def render(header: list[str], rows: list[ExplainRow]) -> str:
    """A plain-text table (fixed-width columns) under the header lines."""
    table = [("KIND", "FIELD OR ENTITY", "CATEGORY", "ACTION", "WHY")]
    table += [(r.scope, r.subject, r.category, str(r.action), r.why) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = [*header, ""]
    for row in table:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        lines.append("  ".join([*cells, row[4]]).rstrip())
    return "\n".join(lines)


__all__ = ["ExplainRow", "explain", "render"]
