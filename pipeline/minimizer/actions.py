"""Field actions: apply one resolved action to one field value of a known type."""

from __future__ import annotations

import functools
from typing import Any, Final

from pipeline.errors import MalformedEvent, Reason
from pipeline.events import parse_timestamp
from pipeline.minimizer.generalize import generalize_coordinate, generalize_ip, generalize_timestamp
from pipeline.minimizer.plan import CHECK_NUMBER, CHECK_STRING
from pipeline.minimizer.state import RecordState, mask
from pipeline.minimizer.text import scan_text
from pipeline.minimizer.url import minimize_url
from pipeline.policy.models import Action, FieldType


class _Missing:
    """The field is absent from the output."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_NUMERIC = {FieldType.NUMBER, FieldType.LATITUDE, FieldType.LONGITUDE}
_ID_LIKE = {FieldType.ID, FieldType.IDENTIFIER}
REDACTED = "<REDACTED>"


def check_type(value: Any, ftype: FieldType, path: str) -> None:
    """Raise ``wrong_type`` unless ``value`` has the JSON type ``ftype`` needs."""
    if ftype in _NUMERIC:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        expected = "a number"
    elif ftype in _ID_LIKE:
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        expected = "a string or an integer"
    else:
        ok = isinstance(value, str)
        expected = "a string"
    if not ok:
        msg = f"{path}: expected {expected}"
        raise MalformedEvent(Reason.WRONG_TYPE, msg)


def type_ok(value: Any, check: int) -> bool:
    """Whether ``value`` has the JSON type a field of ``check`` (see plan.Leaf) needs."""
    t = type(value)
    if check == CHECK_STRING:
        return t is str or isinstance(value, str)
    if check == CHECK_NUMBER:
        if t is int or t is float:
            return True
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t is str or t is int:
        return True
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def apply_field(value: Any, ftype: FieldType, action: Action, path: str, st: RecordState) -> Any:
    """The output value of one field, or :data:`MISSING`.

    The policy loader guarantees ``action`` fits ``ftype``. A value whose JSON type does not
    fit raises :class:`~pipeline.errors.MalformedEvent` (``wrong_type``): the record is
    dead-lettered rather than guessed at. A string that does not parse for ``generalize``
    (a hostname in an ``ip`` field) is dropped.
    """
    check_type(value, ftype, path)
    result = _apply(value, ftype, action, path, st)
    st.audit.field(path, Action.DROP if result is MISSING else action)
    return result


def apply_action(value: Any, ftype: FieldType, action: Action, path: str, st: RecordState) -> Any:
    """:func:`apply_field` without the type check and the audit count (the caller does both)."""
    return _apply(value, ftype, action, path, st)


def _apply(value: Any, ftype: FieldType, action: Action, path: str, st: RecordState) -> Any:
    if action is Action.DROP:
        return MISSING
    if action is Action.KEEP:
        return value
    if action is Action.REDACT:
        return REDACTED
    if action is Action.MASK:
        return mask(str(value))
    if action is Action.PSEUDONYMIZE:
        return st.pseudonym(str(value))
    if action is Action.SCAN:
        if ftype is FieldType.URL:
            return minimize_url(value, path, st)
        return scan_text(value, path, st)
    if action is Action.GENERALIZE:
        return _generalize(value, ftype)
    msg = f"{path}: action {action} is not implemented"  # unreachable: the loader checks
    raise AssertionError(msg)


def _generalize(value: Any, ftype: FieldType) -> Any:
    if ftype is FieldType.IP:
        net = _network(value)
        return MISSING if net is None else net
    if ftype in (FieldType.LATITUDE, FieldType.LONGITUDE):
        return generalize_coordinate(value)
    if ftype is FieldType.TIMESTAMP:
        hour = _hour(value)
        return MISSING if hour is None else hour
    return MISSING


# Pure functions of one string, cached: log lines repeat client addresses, and every purpose
# of a record generalizes the same event time (bounded, least recently used dropped first).
@functools.lru_cache(maxsize=4096)
def _network(value: str) -> str | None:
    return generalize_ip(value)


@functools.lru_cache(maxsize=4096)
def _hour(value: str) -> str | None:
    ts = parse_timestamp(value)
    return None if ts is None else generalize_timestamp(ts)


def forget_memos() -> None:
    """Empty the generalization memos (see :func:`pipeline.minimizer.core.forget_scans`)."""
    _network.cache_clear()
    _hour.cache_clear()
    generalize_ip.cache_clear()


__all__ = [
    "MISSING",
    "REDACTED",
    "apply_action",
    "apply_field",
    "check_type",
    "forget_memos",
    "type_ok",
]
