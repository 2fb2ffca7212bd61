"""Access log targets carry no query values and no PII in paths or query key names; the
sidecar's access line handler batches whole lines and writes what logging would."""

from __future__ import annotations

import io
import logging

import pytest

from pipeline.sidecar import accessline, accesslog
from pipeline.sidecar.accesslog import (
    MAX_LOGGED_PATH,
    AccessLineHandler,
    direct_handler,
    log_request,
    safe_target,
)


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/v1/strip", "", "/v1/strip"),
        ("/v1/minimize", "purpose=analytics", "/v1/minimize?purpose="),
        ("/upload", "email=jo%40example.com&token=abc&flag", "/upload?email=&token=&flag="),
        ("/u", "a=1&a=2", "/u?a=&a="),
        ("/users/jo@example.com/avatar", "", "/users/<EMAIL_ADDRESS>/avatar"),
        ("/users/jo%40example.com/avatar", "", "/users/<EMAIL_ADDRESS>/avatar"),
        ("/cards/4111%201111%201111%201111", "", "/cards/<CREDIT_CARD>"),
        ("/orders/12345", "", "/orders/12345"),
        ("/x", "jo%40example.com=1&ok=2", "/x?<EMAIL_ADDRESS>=&ok="),
        ("/x", "a%0Ab=1", "/x?a%0Ab="),
    ],
)
def test_safe_target(path: str, query: str, expected: str) -> None:
    assert safe_target(path, query) == expected


def test_long_paths_are_cut() -> None:
    out = safe_target("/" + "x" * 1000, "")
    assert len(out) == MAX_LOGGED_PATH + 3


def test_long_paths_are_redacted_before_they_are_cut() -> None:
    out = safe_target("/" + "x" * (MAX_LOGGED_PATH - 8) + "/jo@example.com", "")
    assert "jo@" not in out and "example" not in out


class _Stream(io.StringIO):
    """A text stream that records each write (to check batch sizes) and each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)

    def flush(self) -> None:
        self.flushes += 1


def _access_logger(stream: _Stream, name: str = "test.access") -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    logger.addHandler(AccessLineHandler(stream, name))
    logger.propagate = False
    return logger


def test_direct_lines_read_as_formatted_records(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Stream()
    logger = _access_logger(stream)
    monkeypatch.setattr(accessline.time, "time", lambda: 1_764_547_205.4567)
    log_request(logger, "POST", "/u/jo%40example.com", "a=1", 200, 10, 2, 0.00125)
    logger.handlers[0].flush()
    (direct,) = stream.getvalue().splitlines()
    message = direct.split(": ", 1)[1]
    assert message == (
        "method=POST path=/u/<EMAIL_ADDRESS>?a= status=200 in_bytes=10 out_bytes=2 duration_ms=1.2"
    )
    # The same message as a record (aiohttp's access logger's path), formatted by logging:
    record = logging.LogRecord("test.access", logging.INFO, "", 0, "%s", (message,), None)
    record.created, record.msecs = 1_764_547_205.4567, 456.0
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    assert direct == plain.format(record)
    logger.handlers[0].handle(record)
    logger.handlers[0].flush()
    assert stream.getvalue().splitlines() == [direct, direct]


def test_lines_are_batched_whole_and_flushed() -> None:
    stream = _Stream()
    handler = AccessLineHandler(stream, "a")
    handler.write_message("x" * 100)
    assert stream.writes == []  # queued
    handler.flush()
    assert len(stream.writes) == 1 and stream.flushes == 1
    stream.writes.clear()
    for i in range(200):  # ~24 KB: written in batches as they fill, whole lines each
        handler.write_message(f"{i:03d} " + "y" * 80)
    handler.write_message("z" * (accesslog.BATCH_CHARS + 10))  # longer than a batch: alone
    handler.flush()
    assert all(text.endswith("\n") for text in stream.writes)
    assert all(len(text) <= accesslog.BATCH_CHARS for text in stream.writes[:-1])
    lines = "".join(stream.writes).splitlines()
    assert len(lines) == 201
    assert [line.split(": ", 1)[1][:3] for line in lines[:200]] == [f"{i:03d}" for i in range(200)]
    assert len(stream.writes) >= 24000 // accesslog.BATCH_CHARS


def test_records_go_through_logging_unless_the_handler_is_the_only_destination() -> None:
    stream = _Stream()
    logger = _access_logger(stream, "test.access2")
    handler = logger.handlers[0]
    assert direct_handler(logger) is handler
    logger.propagate = True  # root handlers would see records: keep them records
    assert direct_handler(logger) is None
    logger.propagate = False
    logger.addFilter(lambda record: True)
    assert direct_handler(logger) is None
    logger.filters.clear()
    logger.addHandler(logging.NullHandler())
    assert direct_handler(logger) is None
    logger.handlers.remove(logger.handlers[1])
    assert direct_handler(logging.LoggerAdapter(logger)) is None
    assert direct_handler(logger) is handler
