"""Veil's log line format, and a formatter that produces it cheaply.

The sidecar writes one access line per upload, so the per-record cost of :mod:`logging`
shows in its throughput: the timestamp text is formatted once per second instead of once
per record.
"""

from __future__ import annotations

import logging
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecondCachedFormatter(logging.Formatter):
    """A formatter whose ``asctime`` (``2026-11-30 17:04:05,123``, local time) reuses the
    date and time text while the second is the same. Same output as
    :class:`logging.Formatter` with its default ``datefmt``."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        # (second, its text) in one attribute: threads read and replace the pair at once.
        self._cached: tuple[int, str] = (-1, "")

    def formatTime(  # logging's method name
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return self.timestamp(record.created, record.msecs)

    def timestamp(self, created: float, msecs: float | None = None) -> str:
        """``asctime`` for a record created at ``created`` (seconds since the epoch);
        ``msecs`` as logging computes it for that record, or None to compute it here."""
        second = int(created)
        cached = self._cached
        if cached[0] != second:
            cached = (second, time.strftime(self.default_time_format, self.converter(second)))
            self._cached = cached
        if msecs is None:
            msecs = (created - second) * 1000
        return f"{cached[1]},{int(msecs):03d}"  # default_msec_format "%s,%03d"
