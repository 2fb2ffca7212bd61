"""Finding: value semantics of the frozen, ordered dataclass it replaced."""

from __future__ import annotations

import copy
import pickle

import pytest

import detectors.findings as findings_module
from detectors.findings import Finding

A = Finding(0, 14, "EMAIL_ADDRESS", 0.95, "pattern")


def test_equality_hash_and_order_follow_the_fields() -> None:
    same = Finding(start=0, end=14, entity_type="EMAIL_ADDRESS", score=0.95, detector="pattern")
    assert A == same and hash(A) == hash(same) and len({A, same}) == 1
    assert A != Finding(0, 14, "EMAIL_ADDRESS", 0.95, "ner")
    assert A != (0, 14, "EMAIL_ADDRESS", 0.95, "pattern")  # not a tuple
    later = Finding(0, 15, "EMAIL_ADDRESS", 0.5, "pattern")
    assert A < later and later > A and A <= same and same >= A
    assert sorted([later, A]) == [A, later]


def test_repr_pickle_and_copy() -> None:
    assert repr(A) == (
        "Finding(start=0, end=14, entity_type='EMAIL_ADDRESS', score=0.95, detector='pattern')"
    )
    assert pickle.loads(pickle.dumps(A)) == A  # noqa: S301  # our own bytes
    assert copy.copy(A) == A and copy.deepcopy(A) == A


def test_compiled_finding_is_immutable() -> None:
    if not str(findings_module.__file__).endswith(".so"):
        pytest.skip("pure Python build: immutability is enforced by mypy (Final) only")
    with pytest.raises(AttributeError):
        A.start = 3  # type: ignore[misc]
