"""The CLI's logging: one format on stderr, set up as cheaply per record as logging allows.

The sidecar writes one access line per upload, so the per-record cost of :mod:`logging`
shows in its throughput. The logging HOWTO's optimisations apply (the format reads no
thread, process or source location, so those are not collected), and the timestamp is
formatted once per second instead of once per record.
"""

from __future__ import annotations

import logging
import sys
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecondCachedFormatter(logging.Formatter):
    """A formatter whose ``asctime`` (``2026-11-30 17:04:05,123``, local time) reuses the
    date and time text while the second is the same. Same output as
    :class:`logging.Formatter` with its default ``datefmt``."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        # (second, its text) in one attribute: threads read and replace the pair at once.
        self._cached: tuple[int, str] = (-1, "")

    def formatTime(  # logging's method name
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        cached = self._cached
        if cached[0] != second:
            cached = (second, time.strftime(self.default_time_format, self.converter(second)))
            self._cached = cached
        return f"{cached[1]},{int(record.msecs):03d}"  # default_msec_format "%s,%03d"


def configure(level: str) -> None:
    """Log records of ``level`` and above to stderr in :data:`FORMAT`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SecondCachedFormatter(FORMAT))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # The format reads no thread, process, multiprocessing name or source location: do not
    # collect them for every record (the logging HOWTO's "Optimization" settings).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None  # the HOWTO's documented switch for findCaller
