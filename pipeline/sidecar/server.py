"""Running the sidecar: bind, announce the address, serve until SIGINT/SIGTERM, drain."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TextIO

from aiohttp import web

from pipeline.sidecar.accesslog import SafeAccessLogger
from pipeline.sidecar.app import create_app
from pipeline.sidecar.settings import SidecarSettings, is_loopback

log = logging.getLogger(__name__)
ACCESS_LOGGER = "pipeline.sidecar.access"
# Seconds in-flight requests get to finish after a stop signal.
SHUTDOWN_GRACE = 10.0


async def serve(
    settings: SidecarSettings,
    *,
    announce: TextIO = sys.stdout,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until ``stop`` is set or the process gets SIGINT/SIGTERM.

    Prints one line ``veil sidecar: listening on http://HOST:PORT`` to ``announce`` once the
    socket is bound (the real port when 0 was asked for), so scripts can wait for it.

    Raises:
        PolicyError, ConfigError: from building the app (before anything is bound).
        OSError: the address cannot be bound.
    """
    app = create_app(settings)
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
    site = web.TCPSite(
        runner, settings.host, settings.port, shutdown_timeout=SHUTDOWN_GRACE, backlog=512
    )
    await site.start()
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        host, port = _bound_address(runner, settings)
        shown = f"[{host}]" if ":" in host else host
        if not is_loopback(host):
            log.warning("listening on a non-loopback address: reachable from the network")
        mode = f"proxy to {settings.upstream}" if settings.upstream else "service"
        print(f"veil sidecar: listening on http://{shown}:{port} ({mode})", file=announce)
        announce.flush()
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def _bound_address(runner: web.AppRunner, settings: SidecarSettings) -> tuple[str, int]:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return str(address[0]), int(address[1])
    return settings.host, settings.port
