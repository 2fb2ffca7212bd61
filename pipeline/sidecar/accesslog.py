"""Access log lines that carry no personal data.

One line per request: method, path without query values (``/upload?user=&id=``), status,
bytes in and out, duration. Never the client address (an IP address is personal data), header
values, bodies or query values. Paths and query key names can carry personal data too
(``/users/jo%40example.com/avatar``): they are run through the detectors, percent-encoded
text decoded first, and each finding is logged as ``<ENTITY_TYPE>`` in the raw target.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from detectors.scanner import redact, scan
from detectors.validators import percent_decode
from pipeline.sidecar.keys import IN_BYTES_KEY

MAX_LOGGED_PATH = 200


def redact_raw(raw: str) -> str:
    """``raw`` (percent-encoded) with every detector finding in its decoded text replaced.

    The result stays in the raw encoding, so a decoded control character can never reach the
    log line; only the spans that decode to a finding become ``<ENTITY_TYPE>``.
    """
    decoded, origin = percent_decode(raw, plus_is_space=False)
    return redact(raw, scan(decoded), origin=origin)


def safe_target(path: str, query_string: str) -> str:
    """``path`` with findings redacted and only the query's key names kept (values emptied).

    Bounded: the path to MAX_LOGGED_PATH characters, at most 20 keys of 40 characters.
    """
    # Redact before cutting: a cut through an e-mail address would leave a part the detectors
    # no longer recognise. The request line is bounded by the server (max_line_size).
    path = redact_raw(path)
    if len(path) > MAX_LOGGED_PATH:
        path = path[:MAX_LOGGED_PATH] + "..."
    if not query_string:
        return path
    # parse_qsl decodes the names; they are logged re-encoded (no raw control characters).
    keys = [quote(key, safe="") for key, _ in parse_qsl(query_string, keep_blank_values=True)]
    return path + "?" + "&".join(f"{redact_raw(key)[:40]}=" for key in keys[:20])


class SafeAccessLogger(AbstractAccessLogger):
    """aiohttp access logger writing ``key=value`` lines without PII."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit one line for a finished request."""
        # content_length is the body alone; body_length (streamed bodies) includes headers.
        out_bytes = response.content_length
        if out_bytes is None:
            out_bytes = response.body_length
        log_request(
            self.logger,
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            response.status,
            request.get(IN_BYTES_KEY, 0),
            out_bytes,
            time,
        )


def log_request(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    method: str,
    raw_path: str,
    raw_query: str,
    status: int,
    in_bytes: int,
    out_bytes: int,
    seconds: float,
) -> None:
    """Emit one access line (see the module docstring for what it leaves out)."""
    if not logger.isEnabledFor(logging.INFO):
        return  # no line: skip redacting the target for nothing
    logger.info(
        "method=%s path=%s status=%d in_bytes=%d out_bytes=%d duration_ms=%.1f",
        method,
        safe_target(raw_path, raw_query),
        status,
        in_bytes,
        out_bytes,
        seconds * 1000.0,
    )
