"""The access log's per-request path, compiled: the line's text and its batched writing.

:mod:`pipeline.sidecar.accesslog` holds what stays interpreted (aiohttp's access logger
class, the :mod:`logging` handler and the target redaction); this module is what runs for
every upload: formatting the message and the timestamp, queueing the line, writing batches.
As interpreted code it was about a fifteenth of the sidecar's CPU per proxied upload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final, TextIO

# Lines are written in batches of at most this many characters: PIPE_BUF on Linux, below
# which a write to a pipe is atomic, so workers sharing stderr never mix within a line.
BATCH_CHARS: Final = 4096
_INFO: Final = logging.INFO
_DATE_FORMAT: Final = "%Y-%m-%d %H:%M:%S"  # logging.Formatter.default_time_format

# The handler class whose instances take lines directly (registered by accesslog, which
# defines it; this module cannot import it without importing aiohttp's logger base).
_DIRECT_TYPES: Final[list[type]] = []


def register_direct_type(handler_type: type) -> None:
    """Let instances of exactly ``handler_type`` (an :class:`AccessLines` holder under the
    attribute ``access_lines``) receive lines from :func:`log_line` without a LogRecord."""
    if handler_type not in _DIRECT_TYPES:
        _DIRECT_TYPES.append(handler_type)


def access_message(
    method: str, target: str, status: int, in_bytes: int, out_bytes: int, seconds: float
) -> str:
    """The message of one access line; ``target`` is already made safe."""
    return (
        f"method={method} path={target} status={status} "
        f"in_bytes={in_bytes} out_bytes={out_bytes} duration_ms={seconds * 1000.0:.1f}"
    )


class AccessLines:
    """Queued access lines of one stream, written in batches of whole lines.

    Args:
        stream: where batches are written.
        logger_name: the logger named in each line.
        lock: the owning handler's lock; :meth:`write_message` takes it, callers of
            :meth:`add` and :meth:`write` hold it.
        on_error: called when :meth:`write_message` could not write (the stream is broken
            or closed); it must not raise (logging's ``handleError``).
    """

    def __init__(
        self, stream: TextIO, logger_name: str, lock: Any, on_error: Callable[[], None]
    ) -> None:
        self.stream = stream
        self.logger_name = logger_name
        self._lock = lock
        self._on_error = on_error
        self._lines: list[str] = []
        self._size = 0
        # (second, its date and time text) in one attribute: replaced as a pair.
        self._stamp: tuple[int, str] = (-1, "")

    def timestamp(self, created: float, msecs: float | None = None) -> str:
        """``asctime`` as :class:`logging.Formatter` writes it by default (local time,
        ``2026-11-30 17:04:05,123``) for ``created`` seconds since the epoch; the date and
        time text is formatted once per second. ``msecs`` as logging computes it for a
        record, or None to compute it here."""
        second = int(created)
        stamp = self._stamp
        if stamp[0] != second:
            stamp = (second, time.strftime(_DATE_FORMAT, time.localtime(second)))
            self._stamp = stamp
        if msecs is None:
            msecs = (created - second) * 1000
        return f"{stamp[1]},{int(msecs):03d}"

    def write_message(self, message: str) -> None:
        """Queue an INFO line of ``logger_name`` carrying ``message``, timestamped now."""
        line = f"{self.timestamp(time.time())} INFO {self.logger_name}: {message}\n"
        self._lock.acquire()
        try:
            self.add(line)
        except (OSError, ValueError):
            self._on_error()
        finally:
            self._lock.release()

    def add(self, line: str) -> None:
        """Queue ``line`` (ending in a newline); write the batches once they are full."""
        self._lines.append(line)
        self._size += len(line)
        if self._size >= BATCH_CHARS:
            self.write()

    def write(self) -> None:
        """Write every queued line, in batches of at most BATCH_CHARS (a longer line goes
        alone), and flush the stream.

        Raises:
            OSError, ValueError: the stream is broken or closed (the lines are dropped).
        """
        lines, self._lines, self._size = self._lines, [], 0
        batch: list[str] = []
        size = 0
        for line in lines:
            if batch and size + len(line) > BATCH_CHARS:
                self.stream.write("".join(batch))
                batch, size = [], 0
            batch.append(line)
            size += len(line)
        if batch:
            self.stream.write("".join(batch))
        self.stream.flush()


def direct_lines(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> AccessLines | None:
    """The :class:`AccessLines` of the handler that would receive every INFO record of
    ``logger`` when nothing else would, or None (other handlers, filters or propagation to
    honour: then lines go as records)."""
    if not isinstance(logger, logging.Logger) or logger.propagate or logger.filters:
        return None
    handlers = logger.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if type(handler) not in _DIRECT_TYPES or handler.filters or handler.level > _INFO:
        return None
    lines = getattr(handler, "access_lines", None)
    return lines if isinstance(lines, AccessLines) else None


def log_line(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
    method: str,
    raw_path: str,
    raw_query: str,
    status: int,
    in_bytes: int,
    out_bytes: int,
    seconds: float,
    safe: Callable[[str, str], str],
) -> None:
    """Emit one access line; ``safe(raw_path, raw_query)`` gives the logged target. See
    :func:`pipeline.sidecar.accesslog.log_request`, which calls this."""
    if not logger.isEnabledFor(_INFO):
        return  # no line: skip redacting the target for nothing
    message = access_message(
        method, safe(raw_path, raw_query), status, in_bytes, out_bytes, seconds
    )
    lines = direct_lines(logger)
    if lines is not None:
        lines.write_message(message)
    else:
        logger.info("%s", message)
