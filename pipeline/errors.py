"""Veil's exception hierarchy.

Every error Veil raises derives from :class:`VeilError`. Messages name *where* a bad value
is (a key path, a field, a line number, a file) and *what kind* of value was expected,
never the value itself: an error message may end up in a log, and logs carry no PII.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Reason codes for dead-lettered records. Stable strings: they are part of the output."""

    MALFORMED_JSON = "malformed_json"
    INVALID_UTF8 = "invalid_utf8"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_KIND = "unknown_kind"
    TOO_DEEP = "too_deep"
    TOO_LARGE = "too_large"
    MISSING_USER = "missing_user"
    UNSUPPORTED_MEDIA = "unsupported_media"
    CORRUPT_MEDIA = "corrupt_media"
    MEDIA_UNAVAILABLE = "media_unavailable"
    UNREADABLE_INPUT = "unreadable_input"
    INTERNAL_ERROR = "internal_error"
    # Streaming (issue 5): the record is fine but not where it should be, or a consent record
    # names something the policy does not know.
    KEY_MISMATCH = "key_mismatch"  # Kafka key is not the event's user_id: consent not local
    KIND_MISMATCH = "kind_mismatch"  # event kind does not belong on the raw topic it came from
    UNKNOWN_CONSENT_KEY = "unknown_consent_key"  # consent record names a key not in the policy


class VeilError(Exception):
    """Root of every error Veil raises on purpose."""


class ConfigError(VeilError):
    """Deployment settings are missing or invalid."""


class PolicyError(VeilError):
    """The policy file is invalid. The message names the key path and what was expected."""


class RecordError(VeilError):
    """A single record cannot be minimized; it goes to the dead-letter store.

    Attributes:
        reason: the machine-readable reason code.
    """

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class MalformedEvent(RecordError):
    """The record is not a valid Veil event (bad JSON, wrong types, missing fields...)."""


class MediaError(RecordError):
    """Media bytes could not be stripped; never forwarded as they are."""


class UnsupportedMedia(MediaError):
    """The media format is not one Veil can strip losslessly."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.UNSUPPORTED_MEDIA, message)


class CorruptMedia(MediaError):
    """The media claims a supported format but its structure is broken."""

    def __init__(self, message: str) -> None:
        super().__init__(Reason.CORRUPT_MEDIA, message)
