"""Errors the sidecar answers with an HTTP status.

Each carries the status and a stable ``code`` string (the JSON error body and the metrics use
the code). Messages name where the problem is (a header, a part number, a line), never a
value taken from the request.
"""

from __future__ import annotations

from pipeline.errors import VeilError


class SidecarError(VeilError):
    """A request the sidecar refuses.

    Attributes:
        status: the HTTP status answered.
        code: a stable machine-readable code, e.g. ``too_large``.
    """

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequest(SidecarError):
    """The request is malformed (e.g. a truncated multipart body)."""

    status = 400
    code = "bad_request"


class Unauthorized(SidecarError):
    """The bearer token is missing or wrong."""

    status = 401
    code = "unauthorized"


class RequestTimeout(SidecarError):
    """The client did not send its body within the request timeout."""

    status = 408
    code = "request_timeout"


class BodyTooLarge(SidecarError):
    """The body is larger than the configured limit."""

    status = 413
    code = "too_large"


class Unsupported(SidecarError):
    """Media the sidecar cannot strip, or a body it cannot inspect; never forwarded."""

    status = 415
    code = "unsupported_media"


class Corrupt(SidecarError):
    """Media that claims a supported format but is broken; never forwarded."""

    status = 422
    code = "corrupt_media"


class UpstreamUnavailable(SidecarError):
    """The upstream could not be reached or broke the connection."""

    status = 502
    code = "upstream_unavailable"


class UpstreamTimeout(SidecarError):
    """The upstream did not answer within the upstream timeout."""

    status = 504
    code = "upstream_timeout"
