"""HTTP/1.1 wire pieces of the upstream client: the connection protocol and the response
head parser (see :mod:`pipeline.sidecar.upstream` for the client built on them).

Strict on purpose: the proxy relays what it parses to its own client, so anything ambiguous
(folded header lines, control characters, conflicting lengths) is an error, never a guess.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any, Final, cast

from multidict import CIMultiDict

from detectors.native import native_helper

# Limits of an upstream response head (aiohttp's server defaults are of the same order).
MAX_HEAD_BYTES: Final = 64 * 1024
# Received but unread bytes above which the connection stops reading (flow control).
MAX_BUFFERED: Final = 256 * 1024
_STATUS_LINE: Final = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([^\r\n]*))?")
TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_VALUE_BYTES: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# Every header line at once, each as the line-by-line checks of parse_head accept it (a
# token, a colon, a value without those control characters), then the empty line.
_HEADER_BLOCK: Final = re.compile(
    rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*\r\n"
)


# http_head(head, response) -> the head split up, or None unless it is strictly well-formed
# ASCII (see detectors/_hsnative.c); None where the extension is not built.
HTTP_HEAD: Final[Any] = native_helper("http_head")


class UpstreamError(Exception):
    """The exchange with the upstream failed; the message never quotes request content."""


class UpstreamConnectError(UpstreamError):
    """The upstream could not be reached (refused, unresolvable, TLS failure)."""


class UpstreamTimeoutError(UpstreamError):
    """The upstream did not accept or answer within its timeout."""


class UpstreamProtocolError(UpstreamError):
    """The upstream answered with something that is not a well-formed HTTP/1.x response."""


class UpstreamClosedError(UpstreamError):
    """The upstream closed the connection before or while answering."""


def content_length(values: list[str]) -> int:
    # Repeated identical values are allowed (RFC 9110 8.6), anything else is a smuggling risk.
    first = values[0].strip()
    if not first.isdigit() or not first.isascii() or len(first) > 18:
        msg = "upstream response has an invalid Content-Length"
        raise UpstreamProtocolError(msg)
    if any(v.strip() != first for v in values[1:]):
        msg = "upstream response has conflicting Content-Length headers"
        raise UpstreamProtocolError(msg)
    return int(first)


def parse_head(head: bytes) -> tuple[int, int, str, CIMultiDict[str]]:
    """Parse a response head (status line and headers, ending with an empty line).

    Returns:
        (minor version, status, reason, headers); header values are decoded as UTF-8 with
        surrogate escapes (as aiohttp does) and stripped of surrounding white space.

    Raises:
        UpstreamProtocolError: a bad status line, a header line without a colon, a name that
            is not a token, folded lines, or control characters in a value.
    """
    if HTTP_HEAD is not None:
        split = HTTP_HEAD(head, True)
        if split is not None:
            # The usual head, split in C with the checks below (a property test compares).
            return split[0], split[1], split[2], CIMultiDict(split[3])
    lines = head.split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        msg = "upstream response has an invalid status line"
        raise UpstreamProtocolError(msg)
    reason = (match.group(3) or b"").decode("latin-1")
    # One regex pass checks every header line of a well-formed head (per-line checks cost
    # several times more); anything else takes the line-by-line checks, which name the line.
    checked = _HEADER_BLOCK.fullmatch(head, len(lines[0]) + 2) is not None
    if checked and head.isascii():
        # The usual head: decoded once (UTF-8 and ASCII agree on it), the multidict built
        # in one call.
        pairs: list[tuple[str, str]] = []
        for text in head[len(lines[0]) + 2 :].decode("ascii").split("\r\n"):
            if text:
                key, _, val = text.partition(":")
                pairs.append((key, val.strip(" \t")))
        return int(match.group(1)), int(match.group(2)), reason, CIMultiDict(pairs)
    headers: CIMultiDict[str] = CIMultiDict()
    for number, line in enumerate(lines[1:], start=1):
        if not line:
            continue  # the empty lines that end the head
        name, sep, value = line.partition(b":")
        value = value.strip(b" \t")
        if not checked:
            if not sep or TOKEN.fullmatch(name) is None:
                # Also catches obs-fold (a line starting with white space) and bare LFs.
                msg = f"upstream response header line {number} is malformed"
                raise UpstreamProtocolError(msg)
            if _FORBIDDEN_VALUE_BYTES.search(value) is not None:
                msg = f"upstream response header line {number} has a control character"
                raise UpstreamProtocolError(msg)
        headers.add(name.decode("ascii"), value.decode("utf-8", "surrogateescape"))
    return int(match.group(1)), int(match.group(2)), reason, headers


class WriteGate:
    """A protocol's write flow control: the transport pauses and resumes it, a writer waits.

    Shared by the upstream connection and the sidecar's front (``fastpath``).
    """

    __slots__ = ("paused", "waiter")

    def __init__(self) -> None:
        self.paused = False
        self.waiter: asyncio.Future[None] | None = None

    def pause(self) -> None:
        """The send buffer is above its high-water mark."""
        self.paused = True

    def resume(self) -> None:
        """The send buffer drained below its low-water mark: release the writer."""
        self.paused = False
        self._release(None)

    def lost(self, message: str) -> None:
        """The connection is gone: the waiting writer gets ConnectionResetError(message)."""
        self._release(ConnectionResetError(message))

    def _release(self, exc: BaseException | None) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)


class MovingTimer:
    """One loop timer for a sequence of timeouts whose deadlines keep moving.

    A connection arms and disarms a timeout for every wait (keep-alive, head, body, an
    upstream read); scheduling and cancelling a loop timer for each cost a few percent of the
    sidecar's CPU per upload. This keeps one timer and moves only the deadline: the timer is
    rescheduled only when the new deadline is earlier than it, and when it fires before the
    deadline now due it schedules itself again for that. Shared by the upstream connection
    and the sidecar's front (``fastpath``).
    """

    __slots__ = ("_callback", "_deadline", "_loop", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when self._timer fires
        self._deadline = 0.0  # when the armed timeout is due
        self._callback: Callable[[], None] | None = None  # None: nothing armed

    def arm_at(self, when: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` at loop time ``when`` unless disarmed or re-armed before."""
        self._deadline = when
        self._callback = callback
        if self._timer is not None:
            if self._timer_at <= when:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fired)
        self._timer_at = when

    def disarm(self) -> None:
        """Nothing armed (the timer may still fire: it then finds nothing to call)."""
        self._callback = None

    def cancel(self) -> None:
        """Disarm and drop the loop timer too (the connection is gone or handed over)."""
        self._callback = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fired(self) -> None:
        self._timer = None
        callback = self._callback
        if callback is None:
            return
        if self._loop.time() < self._deadline:  # moved since it was scheduled
            self._timer = self._loop.call_at(self._deadline, self._fired)
            self._timer_at = self._deadline
            return
        self._callback = None
        callback()


class Connection(asyncio.Protocol):
    """One connection to the upstream: a protocol with a receive buffer and timed waits.

    asyncio's streams and ``asyncio.timeout`` cost several times more per request than the
    whole exchange needs; here a wait is one future, and the connection's one
    :class:`MovingTimer` times every wait.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.reused = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._gate = WriteGate()
        self._read_paused = False
        self._timed: asyncio.Future[None] | None = None  # the wait the timer may expire
        self._timer = MovingTimer(loop)
        # Called instead of waking a waiter when an exchange reads the response by callbacks
        # (upstream.Exchange): on data, end of stream, loss, and room to send.
        self.on_event: Callable[[], None] | None = None

    # -- protocol callbacks -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport (a stream transport for TCP and TLS alike)."""
        # create_connection gives a stream transport; uvloop's do not subclass asyncio's.
        self.transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        """Buffer what arrived; stop reading while the consumer is far behind."""
        self.buffer += data
        on_event = self.on_event
        if on_event is not None:
            # A callback exchange takes at most a bounded head and a small body; it reads
            # on until then (pausing would leave it waiting for bytes it needs).
            on_event()
            return
        if len(self.buffer) > MAX_BUFFERED and not self._read_paused and self.transport:
            self._read_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        """The upstream will send nothing more; close our side too."""
        self.eof = True
        self._notify()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        """Wake every waiter: reads see EOF (or the error), a drain sees the error."""
        self.eof = True
        self.error = exc
        self._notify()
        self._gate.lost("upstream connection lost")
        self._timer.cancel()

    def pause_writing(self) -> None:
        """The send buffer is above its high-water mark."""
        self._gate.pause()

    def resume_writing(self) -> None:
        """The send buffer drained below its low-water mark."""
        self._gate.resume()
        if self.on_event is not None:
            self.on_event()  # progress on the send: the exchange's timeout starts over

    def _notify(self) -> None:
        on_event = self.on_event
        if on_event is not None:
            on_event()
        else:
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- waits ------------------------------------------------------------------------------

    async def _wait(self, timeout: float, *, drain: bool = False) -> None:
        # One future; the timer fails it at the deadline, nothing is cancelled.
        fut = self.loop.create_future()
        if drain:
            self._gate.waiter = fut
        else:
            self._waiter = fut
        self._timed = fut
        self._timer.arm_at(self.loop.time() + timeout, self._expire_wait)
        try:
            await fut
        finally:
            self._timed = None
            self._timer.disarm()

    def _expire_wait(self) -> None:
        fut, self._timed = self._timed, None
        if fut is not None:
            expire(fut)

    async def wait_for_data(self, timeout: float) -> None:
        """Wait until more bytes arrive or the connection ends.

        Raises:
            TimeoutError: nothing arrived within ``timeout`` seconds.
        """
        if self.eof:
            return
        if self._read_paused and self.transport is not None:
            self._read_paused = False
            self.transport.resume_reading()
        await self._wait(timeout)

    async def drain(self, timeout: float) -> None:
        """Wait until the send buffer is below its high-water mark.

        Raises:
            TimeoutError: the upstream did not take the bytes within ``timeout`` seconds.
            ConnectionError: the connection was lost.
        """
        if self.eof and self.error is not None:
            msg = "upstream connection lost"
            raise ConnectionResetError(msg)
        if self._gate.paused:
            await self._wait(timeout, drain=True)

    def arm(self, timeout: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` unless re-armed or disarmed within ``timeout`` seconds (for a
        callback exchange; a coroutine's wait arms its own)."""
        self._timer.arm_at(self.loop.time() + timeout, callback)

    def disarm(self) -> None:
        """Nothing armed any more (see :meth:`arm`)."""
        self._timer.disarm()

    def take(self, n: int) -> bytes:
        """Remove and return the first ``n`` buffered bytes (fewer if fewer are there)."""
        buffer = self.buffer
        if n >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:n])
            del buffer[:n]
        if self._read_paused and len(buffer) <= MAX_BUFFERED // 2 and self.transport:
            self._read_paused = False
            self.transport.resume_reading()
        return data

    def usable(self, now: float, idle_timeout: float) -> bool:
        """True when it can carry another request (open, nothing unread, not too old)."""
        transport = self.transport
        return (
            transport is not None
            and not transport.is_closing()
            and not self.eof
            and not self.buffer
            and now - self.idle_since < idle_timeout
        )

    def close(self) -> None:
        """Drop the connection at once (no graceful close: its state is unknown)."""
        if self.transport is not None:
            self.transport.abort()
        self.eof = True


def expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())
