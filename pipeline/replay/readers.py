"""Replay inputs: files, gzip and stdin, read line by line into raw records.

A :class:`Source` yields, in input order, either a :class:`RawRecord` (one line's bytes and
where it came from) or a :class:`~pipeline.deadletter.DeadLetter` for what could not even be
read (an unreadable file, a line over the size limit, a truncated gzip stream). Reading never
decodes or parses: that happens in the workers, so it can run in parallel, and so that a bad
record is dead-lettered with its line number instead of stopping the run.

The interface is small on purpose: a Kafka topic source (``kafka://``) implements the same
``records()`` and plugs into the same runner.
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pipeline.deadletter import DeadLetter
from pipeline.errors import Reason
from pipeline.events import MAX_EVENT_BYTES

RecordFormat = Literal["jsonl", "text"]
InputFormat = Literal["auto", "jsonl", "text"]
INPUT_FORMATS: tuple[InputFormat, ...] = ("auto", "jsonl", "text")

STDIN = "-"
# The event size limit (inline media included): a longer line could never be a valid event,
# so it is skipped in bounded steps instead of being read whole.
DEFAULT_MAX_RECORD_BYTES = MAX_EVENT_BYTES
_GZIP_MAGIC = b"\x1f\x8b"
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})
_TEXT_SUFFIXES = frozenset({".log", ".txt", ".syslog"})


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input line, undecoded.

    Attributes:
        raw: the line's bytes without its line ending.
        file: the input's display name (path as given, or ``-`` for stdin).
        line: 1-based line number in the (decompressed) input.
        format: how to read it: a JSON event or a raw text log line.
    """

    raw: bytes
    file: str
    line: int
    format: RecordFormat

    def source(self) -> dict[str, str | int | None]:
        """Location for dead letters and progress: file and line, never content."""
        return {"file": self.file, "line": self.line}


class Source(ABC):
    """Where replay reads records from.

    ``records()`` is called once; it yields every record in order and never raises for bad
    input (that becomes a dead letter). ``close()`` is idempotent.
    """

    name: str

    @abstractmethod
    def records(self) -> Iterator[RawRecord | DeadLetter]:
        """Yield the records of this input in order."""

    def size_hint(self) -> int | None:
        """Bytes this input will deliver, when known (for the progress bar); else None."""
        return None

    def bytes_read(self) -> int:
        """Bytes consumed so far, comparable to :meth:`size_hint`."""
        return 0

    def close(self) -> None:  # noqa: B027  (a no-op hook sources may override)
        """Release what the source holds."""


def _sniff(first_line: bytes) -> RecordFormat:
    return "jsonl" if first_line.lstrip().startswith(b"{") else "text"


class FileSource(Source):
    """A file (plain or gzip, detected from its magic bytes) or stdin (``-``).

    Args:
        path: file path, or ``-`` for standard input.
        fmt: ``jsonl``, ``text`` or ``auto``: by file suffix (``.jsonl``/``.ndjson``/``.json``
            vs ``.log``/``.txt``), else from the first non-blank line (``{`` means JSONL).
        max_record_bytes: longer lines are dead-lettered as ``too_large`` (their first
            ``max_record_bytes`` kept as raw) without reading them into memory whole.
    """

    def __init__(
        self,
        path: str,
        *,
        fmt: InputFormat = "auto",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    ) -> None:
        self.name = path
        self._fmt = fmt
        self._limit = max_record_bytes
        self._raw: BinaryIO | None = None
        self._size: int | None = None

    def size_hint(self) -> int | None:
        return self._size

    def bytes_read(self) -> int:
        raw = self._raw
        if raw is None or raw.closed:
            return self._size or 0
        try:
            return raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self._raw is not None and self._raw is not sys.stdin.buffer:
            self._raw.close()

    def _open(self) -> BinaryIO:
        if self.name == STDIN:
            # peek() needs a buffered reader; stdin's buffer is one.
            raw: BinaryIO = sys.stdin.buffer
        else:
            path = Path(self.name)
            raw = path.open("rb")
            self._size = path.stat().st_size
        self._raw = raw
        head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
        if head == _GZIP_MAGIC:
            return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw

    def _format_for(self, first_line: bytes) -> RecordFormat:
        if self._fmt != "auto":
            return self._fmt
        suffixes = Path(self.name).suffixes
        if suffixes and suffixes[-1] == ".gz":
            suffixes = suffixes[:-1]
        if suffixes and suffixes[-1].lower() in _JSONL_SUFFIXES:
            return "jsonl"
        if suffixes and suffixes[-1].lower() in _TEXT_SUFFIXES:
            return "text"
        return _sniff(first_line)

    def records(self) -> Iterator[RawRecord | DeadLetter]:
        try:
            stream = self._open()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            yield DeadLetter(
                Reason.UNREADABLE_INPUT,
                f"input {self.name!r}: cannot open ({reason})",
                {"file": self.name, "line": None},
            )
            return
        try:
            yield from self._lines(stream)
        finally:
            self.close()

    def _lines(self, stream: BinaryIO) -> Iterator[RawRecord | DeadLetter]:
        fmt: RecordFormat | None = None
        number = 0
        while True:
            try:
                chunk = stream.readline(self._limit + 1)
            except (OSError, EOFError, zlib.error) as exc:
                # Truncated or corrupt gzip, I/O error: what was read is kept; the rest is
                # reported once, at the line where reading stopped.
                yield DeadLetter(
                    Reason.UNREADABLE_INPUT,
                    f"input {self.name!r}: reading stopped at line {number + 1} "
                    f"({type(exc).__name__})",
                    {"file": self.name, "line": number + 1},
                )
                return
            if not chunk:
                return
            number += 1
            if len(chunk) > self._limit and not chunk.endswith(b"\n"):
                yield self._too_large(stream, chunk, number)
                continue
            line = chunk.rstrip(b"\r\n")
            if not line.strip():
                continue  # blank lines are not records
            if fmt is None:
                fmt = self._format_for(line)
            yield RawRecord(line, self.name, number, fmt)

    def _too_large(self, stream: BinaryIO, head: bytes, number: int) -> DeadLetter:
        # Skip the rest of the line in bounded steps; keep only the head as evidence.
        rest = head
        while rest and not rest.endswith(b"\n"):
            rest = stream.readline(self._limit)
        return DeadLetter(
            Reason.TOO_LARGE,
            f"line {number}: record longer than {self._limit} bytes (raw truncated)",
            {"file": self.name, "line": number},
            head[: self._limit],
        )


def open_sources(
    paths: list[str], *, fmt: InputFormat = "auto", max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> list[Source]:
    """Build one source per input path (``-`` is stdin), in the order given."""
    return [FileSource(p, fmt=fmt, max_record_bytes=max_record_bytes) for p in paths]
