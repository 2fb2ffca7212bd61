"""Typed keys for what the app and each request carry (aiohttp ``AppKey``/request keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from pipeline.sidecar.engine import Engine
    from pipeline.sidecar.upstream import UpstreamPool

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("veil_engine")
# Proxy mode: the keep-alive connection pool to the upstream (with its timeouts).
UPSTREAM_KEY: web.AppKey[UpstreamPool] = web.AppKey("veil_upstream")
# Request-scoped: absolute loop time by which the whole body must have arrived.
DEADLINE_KEY: web.RequestKey[float] = web.RequestKey("veil_deadline", float)
# Request-scoped: the metrics endpoint label of the route that served the request.
ENDPOINT_KEY: web.RequestKey[str] = web.RequestKey("veil_endpoint", str)
# Request-scoped: body bytes read so far (for the access log).
IN_BYTES_KEY: web.RequestKey[int] = web.RequestKey("veil_in_bytes", int)
