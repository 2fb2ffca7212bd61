"""Access log lines that carry no personal data.

One line per request: method, path without query values (``/upload?user=&id=``), status,
bytes in and out, duration. Never the client address (an IP address is personal data), header
values, bodies or query values.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from pipeline.sidecar.keys import IN_BYTES_KEY

MAX_LOGGED_PATH = 200


def safe_target(path: str, query_string: str) -> str:
    """Return ``path`` with only the query's key names kept (values emptied), bounded."""
    if len(path) > MAX_LOGGED_PATH:
        path = path[:MAX_LOGGED_PATH] + "..."
    if not query_string:
        return path
    keys = [key for key, _ in parse_qsl(query_string, keep_blank_values=True)][:20]
    return path + "?" + "&".join(f"{key[:40]}=" for key in keys)


class SafeAccessLogger(AbstractAccessLogger):
    """aiohttp access logger writing ``key=value`` lines without PII."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Emit one line for a finished request."""
        in_bytes = request.get(IN_BYTES_KEY, 0)
        # content_length is the body alone; body_length (streamed bodies) includes headers.
        out_bytes = response.content_length
        if out_bytes is None:
            out_bytes = response.body_length
        self.logger.info(
            "method=%s path=%s status=%d in_bytes=%d out_bytes=%d duration_ms=%.1f",
            request.method,
            safe_target(request.rel_url.raw_path, request.rel_url.raw_query_string),
            response.status,
            in_bytes,
            out_bytes,
            time * 1000.0,
        )
