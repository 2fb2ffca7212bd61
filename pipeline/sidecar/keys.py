"""Typed keys for what the app and each request carry (aiohttp ``AppKey``/request keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from pipeline.sidecar.engine import Engine

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("veil_engine")
SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("veil_upstream_session")
# Request-scoped (web.Request is a mapping): absolute loop time by which the body must be in.
DEADLINE_KEY = "veil_deadline"
# Request-scoped: the metrics endpoint label of the route that served the request.
ENDPOINT_KEY = "veil_endpoint"
