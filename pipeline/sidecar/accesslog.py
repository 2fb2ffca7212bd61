"""Access log lines that carry no personal data.

One line per request: method, path without query values (``/upload?user=&id=``), status,
bytes in and out, duration. Never the client address (an IP address is personal data), header
values, bodies or query values. Paths and query key names can carry personal data too
(``/users/jo%40example.com/avatar``): they are run through the detectors, percent-encoded
text decoded first, and each finding is logged as ``<ENTITY_TYPE>`` in the raw target.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TextIO
from urllib.parse import parse_qsl, quote

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from detectors.scanner import redact, scan
from detectors.validators import percent_decode
from pipeline.logformat import SecondCachedFormatter
from pipeline.sidecar.accessline import (
    BATCH_CHARS,
    AccessLines,
    direct_lines,
    log_line,
    register_direct_type,
)
from pipeline.sidecar.keys import IN_BYTES_KEY

__all__ = [
    "BATCH_CHARS",
    "FLUSH_INTERVAL",
    "AccessLineHandler",
    "SafeAccessLogger",
    "direct_handler",
    "log_request",
    "redact_raw",
    "safe_target",
]

MAX_LOGGED_PATH = 200
FLUSH_INTERVAL = 1.0  # seconds: the longest a line waits before the sidecar flushes it


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
    *,
    safe: Callable[[str, str], str] = safe_target,
) -> None:
    """Emit one access line (see the module docstring for what it leaves out).

    ``safe`` gives the logged target (:func:`safe_target` or a caller's memo of it).
    Through an :class:`AccessLineHandler` that is the logger's only destination, the line
    is handed to it directly (no LogRecord); otherwise it is an INFO record like any other.
    """
    log_line(logger, method, raw_path, raw_query, status, in_bytes, out_bytes, seconds, safe)


def direct_handler(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> AccessLineHandler | None:
    """The :class:`AccessLineHandler` that would receive every INFO record of ``logger``
    and nothing else would, or None (other handlers, filters or propagation to check)."""
    if direct_lines(logger) is None or not isinstance(logger, logging.Logger):
        return None
    handler = logger.handlers[0]
    return handler if isinstance(handler, AccessLineHandler) else None


class AccessLineHandler(logging.Handler):
    """The sidecar's access log destination: lines written to a stream in batches.

    One write and flush per line was a third of the access log's cost. Lines are kept and
    written in batches of up to :data:`BATCH_CHARS`, whole lines only, when a batch is full
    and on :meth:`flush`, which the sidecar calls every :data:`FLUSH_INTERVAL` seconds and
    when it stops (and :mod:`logging` calls at exit). So a line reaches the stream at most
    about a second after its request; an access log that must survive a crash of the
    process unflushed is not what this gives.

    Records are formatted with :class:`~pipeline.logformat.SecondCachedFormatter`;
    :meth:`write_message` takes a finished INFO message of ``logger_name`` without a record
    and gives the same line. The queue and the writing are
    :class:`~pipeline.sidecar.accessline.AccessLines` (compiled), as ``access_lines``.
    """

    def __init__(self, stream: TextIO, logger_name: str) -> None:
        super().__init__()
        self.setFormatter(SecondCachedFormatter())
        self.access_lines = AccessLines(stream, logger_name, self.lock, self._write_failed)

    def emit(self, record: logging.LogRecord) -> None:
        """Queue ``record``'s line (flushed when a batch is full); called under the lock."""
        try:
            self.access_lines.add(self.format(record) + "\n")
        except Exception:  # logging's contract: report, never raise
            self.handleError(record)

    def write_message(self, message: str) -> None:
        """Queue an INFO line of ``logger_name`` carrying ``message``, timestamped now."""
        self.access_lines.write_message(message)

    def flush(self) -> None:
        """Write every queued line now."""
        self.acquire()
        try:
            self.access_lines.write()
        except (OSError, ValueError):
            self._write_failed()
        finally:
            self.release()

    def _write_failed(self) -> None:
        # A closed or broken stream (stderr gone): the lines cannot be written anywhere.
        self.handleError(logging.makeLogRecord({"msg": "access log write failed"}))


register_direct_type(AccessLineHandler)
