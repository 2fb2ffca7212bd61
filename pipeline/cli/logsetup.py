"""The CLI's logging: :data:`pipeline.logformat.FORMAT` on stderr, as cheap per record as
logging allows."""

from __future__ import annotations

import logging
import sys

from pipeline.logformat import FORMAT, SecondCachedFormatter


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
