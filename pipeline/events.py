"""Parse and validate the event envelope (DESIGN.md, Events).

:func:`parse_event` turns raw bytes into a dict or raises
:class:`~pipeline.errors.MalformedEvent` with a :class:`~pipeline.errors.Reason`. It checks
the envelope and the limits below; the payload's fields are checked against the policy by
the minimizer, which drops what the policy does not name.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import MalformedEvent, Reason

KINDS: tuple[str, ...] = ("log", "communication", "media_upload")

# Limits. A record over them is refused, not truncated: truncation could cut PII in half
# and hide it from the detectors.
MAX_EVENT_BYTES = 16 * 1024 * 1024  # inline media (content_b64) included
MAX_DEPTH = 16  # nesting of objects and lists; the envelope needs 5
MAX_STRING_CHARS = 256 * 1024  # any string but inline media
MAX_EVENT_ID_CHARS = 256
MEDIA_FIELD = "content_b64"  # exempt from MAX_STRING_CHARS, bounded by MAX_EVENT_BYTES

_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_event(raw: bytes | str) -> dict[str, Any]:
    """Decode one record and validate its envelope.

    Args:
        raw: one JSON object, UTF-8 encoded (or already decoded).

    Returns:
        The event dict, unchanged.

    Raises:
        MalformedEvent: with reason ``too_large``, ``invalid_utf8``, ``malformed_json``,
            ``too_deep``, ``not_an_object``, ``missing_field``, ``wrong_type`` or
            ``unknown_kind``. The message names the field, never its value.
    """
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        msg = f"event is {size} bytes; the limit is {MAX_EVENT_BYTES}"
        raise MalformedEvent(Reason.TOO_LARGE, msg)
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = f"not UTF-8 at byte {exc.start}"
            raise MalformedEvent(Reason.INVALID_UTF8, msg) from None
    else:
        text = raw
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        msg = f"nested deeper than {MAX_DEPTH}"
        raise MalformedEvent(Reason.TOO_DEEP, msg) from None
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON at line {exc.lineno} column {exc.colno}"
        raise MalformedEvent(Reason.MALFORMED_JSON, msg) from None
    except ValueError:  # NaN, Infinity: not JSON, and no number downstream expects them
        msg = "not valid JSON (NaN or Infinity)"
        raise MalformedEvent(Reason.MALFORMED_JSON, msg) from None
    if not isinstance(data, dict):
        msg = f"expected a JSON object; got {_json_type(data)}"
        raise MalformedEvent(Reason.NOT_AN_OBJECT, msg)
    validate_envelope(data)
    return data


def validate_envelope(event: dict[str, Any]) -> None:
    """Check the envelope fields, nesting depth and string sizes of a decoded event.

    Raises:
        MalformedEvent: see :func:`parse_event`.
    """
    _check_limits(event)
    event_id = _required(event, "event_id", str)
    if not event_id or len(event_id) > MAX_EVENT_ID_CHARS:
        msg = f"event_id: expected 1 to {MAX_EVENT_ID_CHARS} characters"
        raise MalformedEvent(Reason.WRONG_TYPE, msg)
    kind = _required(event, "kind", str)
    if kind not in KINDS:
        msg = f"kind: expected one of {', '.join(KINDS)}"
        raise MalformedEvent(Reason.UNKNOWN_KIND, msg)
    _required(event, "payload", dict)
    _optional(event, "user_id", str)
    _optional(event, "consent", dict)
    occurred = _optional(event, "occurred_at", str)
    if occurred is not None and parse_timestamp(occurred) is None:
        msg = "occurred_at: expected an ISO 8601 timestamp"
        raise MalformedEvent(Reason.WRONG_TYPE, msg)


def parse_timestamp(text: str) -> datetime | None:
    """Parse an ISO 8601 timestamp; naive times are read as UTC. None when unparseable."""
    try:
        ts = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _required(event: dict[str, Any], name: str, typ: type) -> Any:
    if name not in event or event[name] is None:
        msg = f"{name}: missing"
        raise MalformedEvent(Reason.MISSING_FIELD, msg)
    return _optional(event, name, typ)


def _optional(event: dict[str, Any], name: str, typ: type) -> Any:
    value = event.get(name)
    if value is not None and not isinstance(value, typ):
        msg = f"{name}: expected {_TYPE_NAMES[typ]}; got {_json_type(value)}"
        raise MalformedEvent(Reason.WRONG_TYPE, msg)
    return value


def _check_limits(root: dict[str, Any]) -> None:
    # Iterative walk: a recursive one would itself be the stack overflow we guard against.
    stack: list[tuple[Any, int, str]] = [(root, 1, "")]
    while stack:
        value, depth, key = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                raise MalformedEvent(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH}")
            for k, v in value.items():
                _check_string(k, "")
                stack.append((v, depth + 1, k))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                raise MalformedEvent(Reason.TOO_DEEP, f"nested deeper than {MAX_DEPTH}")
            stack.extend((v, depth + 1, key) for v in value)
        elif isinstance(value, str):
            _check_string(value, key)


def _check_string(value: str, key: str) -> None:
    if key != MEDIA_FIELD and len(value) > MAX_STRING_CHARS:
        msg = f"a string is over {MAX_STRING_CHARS} characters"
        raise MalformedEvent(Reason.TOO_LARGE, msg)
    # ASCII text holds no surrogate: the search only runs on the rest.
    if not value.isascii() and _SURROGATE.search(value):  # "\ud800" in JSON: not UTF-8
        msg = "a string holds an unpaired UTF-16 surrogate"
        raise MalformedEvent(Reason.INVALID_UTF8, msg)


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not JSON"
    raise ValueError(msg)


_TYPE_NAMES: dict[type, str] = {str: "a string", dict: "an object", list: "a list"}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _TYPE_NAMES.get(type(value), type(value).__name__)


__all__ = [
    "KINDS",
    "MAX_DEPTH",
    "MAX_EVENT_BYTES",
    "MAX_STRING_CHARS",
    "parse_event",
    "parse_timestamp",
    "validate_envelope",
]
