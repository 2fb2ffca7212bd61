"""Typed keys for what the app and each request carry (aiohttp ``AppKey``/request keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from pipeline.sidecar.engine import Engine

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("veil_engine")
SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("veil_upstream_session")
# Built once with the session: the same limits apply to every upstream request.
UPSTREAM_TIMEOUT_KEY: web.AppKey[aiohttp.ClientTimeout] = web.AppKey("veil_upstream_timeout")
# Request-scoped: absolute loop time by which the whole body must have arrived.
DEADLINE_KEY: web.RequestKey[float] = web.RequestKey("veil_deadline", float)
# Request-scoped: the metrics endpoint label of the route that served the request.
ENDPOINT_KEY: web.RequestKey[str] = web.RequestKey("veil_endpoint", str)
# Request-scoped: body bytes read so far (for the access log).
IN_BYTES_KEY: web.RequestKey[int] = web.RequestKey("veil_in_bytes", int)
