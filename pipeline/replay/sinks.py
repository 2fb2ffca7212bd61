"""Replay outputs: a line-oriented sink for minimized events, dead letters and audit entries.

A :class:`Sink` takes one JSON document per call and owns its destination. File sinks can
open lazily so that a dead-letter or audit file exists only when something was written to
it. Like :mod:`pipeline.replay.readers`, this is the seam where a ``kafka://`` sink plugs in.
"""

from __future__ import annotations

import gzip
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TextIO

STDOUT = "-"


class Sink(ABC):
    """A destination for records, one JSON document per :meth:`write`.

    ``write`` is never called after ``close``; ``close`` is idempotent and flushes.
    """

    name: str

    @abstractmethod
    def write(self, line: str) -> None:
        """Write one record (without a trailing newline)."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release the destination."""


class FileSink(Sink):
    """JSON lines to a file (gzip when the name ends in ``.gz``) or to stdout (``-``).

    Args:
        path: destination path or ``-``.
        lazy: when True the file is created on the first write only. An existing file of
            that name is removed at once all the same: a run's dead-letter or audit file must
            never be mistaken for an earlier run's (like ``--out``, each run replaces it).
    """

    def __init__(self, path: str, *, lazy: bool = False) -> None:
        self.name = path
        self._fh: TextIO | None = None
        if not lazy:
            self._open()
        elif path != STDOUT:
            Path(path).unlink(missing_ok=True)

    def _open(self) -> TextIO:
        if self._fh is None:
            if self.name == STDOUT:
                self._fh = sys.stdout
            elif self.name.endswith(".gz"):
                self._fh = gzip.open(self.name, "wt", encoding="utf-8")
            else:
                Path(self.name).parent.mkdir(parents=True, exist_ok=True)
                self._fh = Path(self.name).open("w", encoding="utf-8")
        return self._fh

    def write(self, line: str) -> None:
        self._open().write(line + "\n")

    def close(self) -> None:
        if self._fh is None:
            return
        self._fh.flush()
        if self._fh is not sys.stdout:
            self._fh.close()
        self._fh = None


class NullSink(Sink):
    """Discards what it is given (``--audit`` not set)."""

    name = "(none)"

    def write(self, line: str) -> None:
        """Drop the record."""

    def close(self) -> None:
        """Nothing to release."""
