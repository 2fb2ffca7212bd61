"""The sidecar's aiohttp application: routes, auth, error answers, metrics.

Routes:

* always under ``/_veil/``: ``healthz``, ``metrics``, ``v1/strip``, ``v1/minimize``;
* without an upstream (service mode) also at ``/healthz``, ``/metrics``, ``/v1/strip``,
  ``/v1/minimize``;
* with an upstream (proxy mode) every other path goes to :mod:`pipeline.sidecar.proxy`, so
  the upload service's own ``/healthz`` still reaches it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from pipeline.sidecar import api, proxy
from pipeline.sidecar.engine import Engine
from pipeline.sidecar.exceptions import SidecarError, Unauthorized
from pipeline.sidecar.keys import (
    DEADLINE_KEY,
    ENDPOINT_KEY,
    ENGINE_KEY,
    UPSTREAM_KEY,
)
from pipeline.sidecar.settings import SidecarSettings
from pipeline.sidecar.upstream import UpstreamPool

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/_veil"
PROXY_ENDPOINT = "proxy"  # the route (and metrics endpoint label) of forwarded requests
# Endpoints that need the bearer token when one is configured (health stays open for probes).
_PROTECTED = frozenset({"strip", "minimize", "metrics"})
# Refusals counted in veil_sidecar_refused (the request never reached the upstream).
REFUSAL_STATUSES = frozenset({400, 407, 408, 413, 415, 422, 401})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _check_bearer(request: web.Request, token: str) -> None:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    # Constant-time compare: the time taken says nothing about how much of the token matched.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode("utf-8"), token.encode("utf-8")
    ):
        msg = "a valid bearer token is required"
        raise Unauthorized(msg)


def _error_response(request: web.Request, status: int, code: str, message: str) -> web.Response:
    response = web.json_response({"error": code, "message": message}, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    if status == 407:
        response.headers["Proxy-Authenticate"] = "Bearer"
    if not request.content.at_eof():
        # The body was not (fully) read: do not read megabytes only to keep the connection.
        response.force_close()
    return response


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    now = asyncio.get_running_loop().time()
    request[DEADLINE_KEY] = now + engine.settings.request_timeout
    route_name = request.match_info.route.name or "unknown"
    endpoint = route_name.removeprefix("admin_")
    request[ENDPOINT_KEY] = endpoint
    status = 500
    try:
        token = engine.settings.token
        if token is not None and endpoint in _PROTECTED:
            _check_bearer(request, token.get_secret_value())
        response = await handler(request)
        status = response.status
        return response
    except SidecarError as exc:
        status = exc.status
        if status in REFUSAL_STATUSES:
            engine.metrics.refused.labels(exc.code).inc()
        return _error_response(request, exc.status, exc.code, str(exc))
    except web.HTTPException as exc:
        status = exc.status
        return _error_response(request, exc.status, "http_error", exc.reason)
    except Exception as exc:
        # Type only: an exception's text could quote request content.
        log.error("unexpected error on %s: %s", endpoint, type(exc).__name__)
        return _error_response(request, 500, "internal_error", "internal error")
    finally:
        engine.metrics.request_done(endpoint, status, asyncio.get_running_loop().time() - now)


async def _upstream_pool(app: web.Application) -> AsyncIterator[None]:
    settings = app[ENGINE_KEY].settings
    assert settings.upstream is not None  # noqa: S101  # only added in proxy mode
    # Bytes pass through as they are: no decompression, no cookies, no redirects followed,
    # no headers the client did not send but Host and the framing, no proxy from the
    # environment (see pipeline.sidecar.upstream).
    pool = UpstreamPool(
        settings.upstream,
        connect_timeout=min(settings.upstream_timeout, 10.0),
        read_timeout=settings.upstream_timeout,
    )
    app[UPSTREAM_KEY] = pool
    yield
    await pool.close()


def create_app(settings: SidecarSettings, *, engine: Engine | None = None) -> web.Application:
    """Build the sidecar application.

    Args:
        settings: validated settings.
        engine: the core bridge; built from ``settings`` when None (loads the policy, the
            consent snapshot and the pseudonym keys).

    Raises:
        PolicyError: invalid policy.
        ConfigError: unreadable consent file or a purpose the policy does not have.
    """
    engine = engine if engine is not None else Engine(settings)
    app = web.Application(middlewares=[_middleware], client_max_size=int(settings.max_body))
    app[ENGINE_KEY] = engine
    own: list[tuple[str, str, Handler, str]] = [
        ("GET", "/healthz", api.healthz, "healthz"),
        ("GET", "/metrics", api.metrics, "metrics"),
        ("POST", "/v1/strip", api.strip, "strip"),
        ("POST", "/v1/minimize", api.minimize_events, "minimize"),
    ]
    for method, path, handler, name in own:
        app.router.add_route(method, ADMIN_PREFIX + path, handler, name=f"admin_{name}")
        if settings.upstream is None:
            app.router.add_route(method, path, handler, name=name)
    if settings.upstream is not None:
        app.cleanup_ctx.append(_upstream_pool)
        app.router.add_route("*", "/{tail:.*}", proxy.handle, name=PROXY_ENDPOINT)
    return app
