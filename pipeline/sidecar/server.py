"""Running the sidecar: bind, announce the address, serve until SIGINT/SIGTERM, drain.

With ``workers > 1`` the parent binds one listening socket, validates the configuration, then
forks that many worker processes that accept on the shared socket (one event loop each, so
stripping scales over cores). The parent only forwards stop signals and reaps the workers; if
one dies unexpectedly the others are stopped and the exit status says so, for the supervisor
(systemd, Kubernetes) to restart the whole sidecar.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from aiohttp import web

from pipeline.errors import ConfigError
from pipeline.sidecar.accesslog import FLUSH_INTERVAL, SafeAccessLogger
from pipeline.sidecar.app import create_app
from pipeline.sidecar.engine import Engine
from pipeline.sidecar.fastpath import FrontServer
from pipeline.sidecar.keys import ENGINE_KEY, UPSTREAM_KEY
from pipeline.sidecar.memory import keep_large_buffers
from pipeline.sidecar.settings import SidecarSettings, is_loopback

log = logging.getLogger(__name__)
ACCESS_LOGGER = "pipeline.sidecar.access"
# Seconds in-flight requests get to finish after a stop signal.
SHUTDOWN_GRACE = 10.0
BACKLOG = 512


LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class RequestContentFilter(logging.Filter):
    """Keep request content and client addresses out of aiohttp's server log.

    aiohttp logs a request it cannot parse as ``Error handling request from <client address>``
    with a traceback that quotes the offending header line or request bytes. Both can be
    personal data, so each such record keeps only the exception's type.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` to name only the exception type; never drops it."""
        exc = record.exc_info[1] if record.exc_info else None
        record.msg = "aiohttp server: %s"
        record.args = (type(exc).__name__ if exc is not None else "error",)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_AIOHTTP_SERVER_LOG = logging.getLogger("aiohttp.server")
_CONTENT_FILTER = RequestContentFilter()


def loop_factory(choice: str) -> LoopFactory | None:
    """The event loop factory for ``settings.event_loop`` (None: asyncio's default loop).

    uvloop's C transports and scheduler roughly halve the per-request cost of the event loop
    itself, which is most of what the proxy adds to a small upload; it is optional so that
    the sidecar still runs where it cannot be installed.

    Raises:
        ConfigError: ``uvloop`` was asked for and is not installed.
    """
    if choice == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if choice == "uvloop":
            msg = "sidecar event_loop is 'uvloop' but the uvloop package is not installed"
            raise ConfigError(msg) from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def _run(main: Coroutine[Any, Any, None], factory: LoopFactory | None) -> None:
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def _announce(settings: SidecarSettings, sock: socket.socket, announce: TextIO) -> None:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    if not is_loopback(host):
        log.warning("listening on a non-loopback address: reachable from the network")
    mode = f"proxy to {settings.upstream}" if settings.upstream else "service"
    workers = f", {settings.workers} workers" if settings.workers > 1 else ""
    print(f"veil sidecar: listening on http://{shown}:{port} ({mode}{workers})", file=announce)
    announce.flush()


def bind(settings: SidecarSettings) -> socket.socket:
    """Create the listening socket for ``settings.listen``.

    Raises:
        OSError: the address cannot be bound.
    """
    host = settings.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, settings.port), family=family, backlog=BACKLOG)


async def serve(
    settings: SidecarSettings,
    *,
    sock: socket.socket | None = None,
    announce: TextIO | None = sys.stdout,
    stop: asyncio.Event | None = None,
    engine: Engine | None = None,
) -> None:
    """Serve on ``sock`` (bound from ``settings`` when None) until stopped.

    Prints one line ``veil sidecar: listening on http://HOST:PORT (...)`` to ``announce``
    (unless None) once listening, with the real port when 0 was asked for, so scripts can
    wait for it.

    Raises:
        PolicyError, ConfigError: from building the app (before anything is bound).
        OSError: the address cannot be bound.
    """
    app = create_app(settings, engine=engine)
    keep_large_buffers(int(settings.max_body))
    if _CONTENT_FILTER not in _AIOHTTP_SERVER_LOG.filters:
        _AIOHTTP_SERVER_LOG.addFilter(_CONTENT_FILTER)
    sock = sock if sock is not None else bind(settings)
    runner = web.AppRunner(
        app,
        access_log_class=SafeAccessLogger,
        access_log=logging.getLogger(ACCESS_LOGGER),
        # Bound header sizes; bodies are bounded by the sidecar itself.
        max_line_size=8190,
        max_field_size=8190,
        # Larger socket reads for uploads; request bodies are never decompressed here (a
        # compressed body is refused before it is read).
        read_bufsize=1024 * 1024,
        auto_decompress=False,
        handle_signals=False,
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    front: FrontServer | None = None
    listener: asyncio.Server | None = None
    if settings.upstream is None:
        site = web.SockSite(runner, sock, shutdown_timeout=SHUTDOWN_GRACE)
        await site.start()
    else:
        # Proxy mode: connections start on the upload fast path, which hands everything
        # else to aiohttp's handler (pipeline.sidecar.fastpath).
        assert runner.server is not None  # noqa: S101  # set by runner.setup()
        front = FrontServer(
            app[ENGINE_KEY], app[UPSTREAM_KEY], runner.server, logging.getLogger(ACCESS_LOGGER)
        )
        listener = await loop.create_server(front, sock=sock, backlog=BACKLOG)
    stop = stop if stop is not None else asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    flusher = loop.create_task(_flush_access_log())
    try:
        if announce is not None:
            _announce(settings, sock, announce)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if listener is not None and front is not None:
            listener.close()  # no new connections
            front.close_idle()
            await front.wait_busy(SHUTDOWN_GRACE)
        await runner.cleanup()
        flusher.cancel()
        _flush_handlers(logging.getLogger(ACCESS_LOGGER))


async def _flush_access_log() -> None:
    """Flush the access log's handlers every FLUSH_INTERVAL (it batches its lines)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    while True:
        await asyncio.sleep(FLUSH_INTERVAL)
        _flush_handlers(logger)


def _flush_handlers(logger: logging.Logger) -> None:
    for handler in logger.handlers:
        handler.flush()


def run(settings: SidecarSettings, *, announce: TextIO = sys.stdout) -> int:
    """Run the sidecar in this process (one worker) or in pre-forked workers.

    Returns:
        0 after a clean stop; 1 when a worker died unexpectedly.

    Raises:
        PolicyError, ConfigError: invalid configuration (before anything is bound), or
            ``event_loop='uvloop'`` without uvloop installed.
        OSError: the address cannot be bound.
    """
    factory = loop_factory(settings.event_loop)
    if settings.workers == 1:
        _run(serve(settings, announce=announce), factory)
        return 0
    # Validate everything once, before binding or forking, so a bad policy is one clear
    # error; each worker then loads its own copy (no state shared across processes).
    Engine(settings)
    sock = bind(settings)
    children: list[int] = []
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # worker: serve, then leave without running the parent's cleanup
            code = 0
            try:
                _run(serve(settings, sock=sock, announce=None), factory)
            except BaseException:  # any failure ends this worker, with status 1
                code = 1
            _flush_handlers(logging.getLogger(ACCESS_LOGGER))  # os._exit skips logging's
            sys.stderr.flush()
            os._exit(code)
        children.append(pid)
    _announce(settings, sock, announce)
    sock.close()
    return _supervise(children)


def _supervise(children: list[int]) -> int:
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            _kill(pid, signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    status = 0
    alive = set(children)
    while alive:
        try:
            pid, code = os.wait()
        except ChildProcessError:
            break
        alive.discard(pid)
        if not stopping and (pid in children):
            # A worker died on its own: stop the rest so the supervisor sees the failure.
            log.error("sidecar worker exited unexpectedly (status %d); stopping", code)
            status = 1
            stopping = True
            for other in alive:
                _kill(other, signal.SIGTERM)
    return status


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
