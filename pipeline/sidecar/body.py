"""Reading request bodies under a size limit and a deadline.

aiohttp's own ``client_max_size`` only guards ``request.read()``; the sidecar streams, so it
counts bytes itself. The deadline is absolute (set when the request arrived): a client that
trickles its body one byte at a time is cut off at the same moment as one that stalls.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import ClientError, web
from aiohttp.http_exceptions import HttpProcessingError

from pipeline.sidecar.exceptions import BadRequest, BodyTooLarge, RequestTimeout
from pipeline.sidecar.keys import IN_BYTES_KEY

CHUNK = 64 * 1024


class BodyReader:
    """Reads one request's body, enforcing ``limit`` bytes and an absolute ``deadline``.

    Every method raises :class:`BodyTooLarge` (413) past the limit, :class:`RequestTimeout`
    (408) past the deadline and :class:`BadRequest` (400) when the client's body ends early
    or breaks. The declared ``Content-Length`` is checked before anything is read.
    """

    def __init__(self, request: web.Request, *, limit: int, deadline: float) -> None:
        self._request = request
        self._content = request.content
        self._limit = limit
        self._deadline = deadline
        self._read = 0
        declared = request.content_length
        if declared is not None and declared > limit:
            msg = f"request body of {declared} bytes exceeds the limit of {limit} bytes"
            raise BodyTooLarge(msg)

    @property
    def bytes_read(self) -> int:
        """Body bytes read so far."""
        return self._read

    async def _next(self, n: int) -> bytes:
        if n >= 0:
            return await self._content.read(n)
        # n < 0: the next chunk as the socket delivered it, without copying it (readany and
        # read(n) join buffered pieces; joining once at the end is enough). An empty chunk
        # with end_of_http_chunk set only marks a chunked-encoding boundary.
        while True:
            data, end_of_http_chunk = await self._content.readchunk()
            if data or not end_of_http_chunk:
                return data

    async def _chunk(self, n: int) -> bytes:
        content = self._content
        try:
            # What has already arrived is taken without a timer (most of an upload usually
            # has); only a read that has to wait for the client runs under the deadline.
            if n >= 0:
                data = content.read_nowait(n)
                waits = not data and n != 0 and not content.at_eof()
            elif content.total_bytes > self._read or content.at_eof():
                # Bytes are buffered (received minus taken): the next piece as it came off
                # the socket. read_nowait(-1) would join every buffered piece into one more
                # copy of the body, which read_all then copies again.
                data = await self._next(-1)
                waits = False
            else:
                waits = True
            if waits:
                async with asyncio.timeout_at(self._deadline):
                    data = await self._next(n)
        except TimeoutError as exc:
            msg = "request body not received within the request timeout"
            raise RequestTimeout(msg) from exc
        except (OSError, ValueError, EOFError, HttpProcessingError, ClientError) as exc:
            # The client went away or its framing broke (length or chunk encoding short).
            msg = "request body ended early or could not be read"
            raise BadRequest(msg) from exc
        self._read += len(data)
        self._request[IN_BYTES_KEY] = self._read
        if self._read > self._limit:
            msg = f"request body exceeds the limit of {self._limit} bytes"
            raise BodyTooLarge(msg)
        return data

    async def head(self, n: int) -> bytes:
        """Read up to ``n`` bytes, fewer only at the end of the body."""
        parts: list[bytes] = []
        got = 0
        while got < n:
            data = await self._chunk(n - got)
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    async def rest(self) -> AsyncIterator[bytes]:
        """Yield the remaining body in chunks as they arrive."""
        while True:
            data = await self._chunk(-1)
            if not data:
                return
            yield data

    async def read_all(self, prefix: bytes = b"") -> bytes:
        """Return ``prefix`` plus the whole remaining body."""
        parts = [prefix]
        async for data in self.rest():
            parts.append(data)
        return b"".join(parts)
