"""The log format: the cached timestamp reads exactly as logging's own."""

from __future__ import annotations

import logging

import pytest

from pipeline.logformat import FORMAT, SecondCachedFormatter


@pytest.mark.parametrize(
    "created",
    [1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.0005, 1_700_000_059.5, 1_764_547_200.25],
)
def test_cached_time_matches_logging(created: float) -> None:
    plain = logging.Formatter(FORMAT)
    cached = SecondCachedFormatter(FORMAT)
    for at in (created, created + 0.0001, created + 1.0, created):  # hits, misses, going back
        record = logging.makeLogRecord({"msg": "m", "name": "n", "levelname": "INFO"})
        record.created = at
        record.msecs = int((at - int(at)) * 1000) + 0.0
        assert cached.format(record) == plain.format(record)


def test_explicit_datefmt_is_honoured() -> None:
    record = logging.makeLogRecord({"msg": "m"})
    record.created = 1_700_000_000.0
    fmt = SecondCachedFormatter(FORMAT)
    assert fmt.formatTime(record, "%Y") == logging.Formatter(FORMAT).formatTime(record, "%Y")
