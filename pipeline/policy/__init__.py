"""The policy: frozen models of ``config/policy.yaml`` and their loader.

Public API: :func:`load_policy`, :class:`Policy`, :class:`PurposePolicy`, :class:`Rule`,
:class:`Action`, :class:`FieldType`.
"""

from pipeline.policy.loader import default_policy_path, load_policy, policy_from_data
from pipeline.policy.models import (
    Action,
    CategorySpec,
    FieldSpec,
    FieldType,
    Policy,
    PurposePolicy,
    Rule,
)

__all__ = [
    "Action",
    "CategorySpec",
    "FieldSpec",
    "FieldType",
    "Policy",
    "PurposePolicy",
    "Rule",
    "default_policy_path",
    "load_policy",
    "policy_from_data",
]
