"""``veil sidecar``: the HTTP sidecar for upload services (service or reverse-proxy mode).

Flags override the ``VEIL_SIDECAR_*`` environment variables, which override the defaults
(:class:`pipeline.sidecar.settings.SidecarSettings`). The command only parses, validates and
starts the server.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline.errors import ConfigError, PolicyError

log = logging.getLogger(__name__)

# flag dest -> settings field. Flags left unset fall back to the environment.
_FIELDS = (
    "listen",
    "upstream",
    "token",
    "max_body",
    "consent_file",
    "user_header",
    "purpose",
    "policy",
    "request_timeout",
    "upstream_timeout",
    "workers",
    "event_loop",
)


def add_parser(subparsers: Any) -> None:
    """Register ``veil sidecar``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sidecar",
        help="HTTP sidecar: strip media and minimize events for an upload service",
        description=(
            "Serve POST /v1/strip, POST /v1/minimize?purpose=P, GET /healthz and GET /metrics; "
            "with --upstream, act as a reverse proxy that strips media from uploads in flight "
            "(own endpoints then live under /_veil/)."
        ),
    )
    p.add_argument(
        "--listen", help="HOST:PORT to bind (env VEIL_SIDECAR_LISTEN; default 127.0.0.1:8787)"
    )
    p.add_argument("--upstream", help="upload service base URL (env VEIL_SIDECAR_UPSTREAM)")
    p.add_argument(
        "--token",
        help="bearer token required by the sidecar (env VEIL_SIDECAR_TOKEN; prefer the env)",
    )
    p.add_argument(
        "--max-body", help="largest body accepted, e.g. 64MiB (env VEIL_SIDECAR_MAX_BODY)"
    )
    p.add_argument(
        "--consent-file",
        type=Path,
        help="consent snapshot JSONL (env VEIL_SIDECAR_CONSENT_FILE)",
    )
    p.add_argument("--user-header", help="header naming the user (env VEIL_SIDECAR_USER_HEADER)")
    p.add_argument(
        "--purpose",
        help="policy purpose of the upload service (env VEIL_SIDECAR_PURPOSE; default service)",
    )
    p.add_argument("--policy", type=Path, help="policy file (env VEIL_POLICY)")
    p.add_argument(
        "--request-timeout",
        type=float,
        help="seconds to receive a request body (env VEIL_SIDECAR_REQUEST_TIMEOUT; default 30)",
    )
    p.add_argument(
        "--upstream-timeout",
        type=float,
        help="seconds for the upstream to answer (env VEIL_SIDECAR_UPSTREAM_TIMEOUT; default 60)",
    )
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes sharing the socket (env VEIL_SIDECAR_WORKERS; default 1)",
    )
    p.add_argument(
        "--event-loop",
        choices=("auto", "uvloop", "asyncio"),
        help="event loop: auto uses uvloop when installed (env VEIL_SIDECAR_EVENT_LOOP)",
    )
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Validate settings, load the policy and serve until interrupted."""
    from pipeline.sidecar.accesslog import AccessLineHandler
    from pipeline.sidecar.server import ACCESS_LOGGER, run
    from pipeline.sidecar.settings import SidecarSettings

    given = {name: getattr(args, name) for name in _FIELDS if getattr(args, name) is not None}
    # Access lines go to stderr in the log format, whatever the log level, through their
    # own batching handler (pipeline.sidecar.accesslog); the server flushes it every second.
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO)
    for earlier in [h for h in access.handlers if isinstance(h, AccessLineHandler)]:
        access.removeHandler(earlier)  # a second run in one process (tests) replaces it
    access.addHandler(AccessLineHandler(sys.stderr, ACCESS_LOGGER))
    access.propagate = False
    try:
        settings = SidecarSettings(**given)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            print(f"veil sidecar: {where}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        return run(settings)
    except (PolicyError, ConfigError) as exc:
        print(f"veil sidecar: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"veil sidecar: cannot listen on {settings.listen}: {exc.strerror}", file=sys.stderr)
        return 2
