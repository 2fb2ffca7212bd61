"""Deployment settings of the sidecar, validated once at start-up.

Every setting is declared once here with its type, default and environment variable
(``VEIL_SIDECAR_<NAME>``); the CLI flags only override them. The object is frozen: handlers
read it, nothing changes it while the server runs.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import ByteSize, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORT = 8787
MiB = 1024 * 1024


def split_listen(listen: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` (``[::1]:PORT`` for IPv6) into host and port.

    Raises:
        ValueError: the address has no port, or the port is not 0..65535.
    """
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host:
        msg = "listen must be HOST:PORT (e.g. 127.0.0.1:8787)"
        raise ValueError(msg)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        msg = "listen port must be a number from 0 to 65535"
        raise ValueError(msg)
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """Return True when ``host`` names only the local machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SidecarSettings(BaseSettings):
    """Settings of ``veil sidecar`` (env prefix ``VEIL_SIDECAR_``).

    Attributes:
        listen: ``HOST:PORT`` to bind; loopback by default so that nothing outside the
            machine reaches the sidecar unless the operator says so. Port 0 picks a free port
            (printed at start-up).
        upstream: base URL of the upload service; when set, every request that is not for the
            sidecar's own ``/_veil/`` endpoints is forwarded there (reverse-proxy mode).
        token: optional bearer token. Required on the sidecar's own endpoints (except health)
            as ``Authorization: Bearer``, and on proxied requests as
            ``Proxy-Authorization: Bearer`` so the upstream's own ``Authorization`` is untouched.
        max_body: largest request body accepted, in bytes (``64MiB`` style accepted).
        consent_file: optional consent snapshot (JSONL, one user per line, as in the replay).
        user_header: request header naming the user whose consent applies.
        purpose: the policy purpose the upload service serves; its consent conditions decide
            what a granted ``location`` keeps in media.
        policy: policy file; None means ``VEIL_POLICY`` or ``config/policy.yaml``.
        request_timeout: seconds a client has to send its whole request body (then 408).
        upstream_timeout: seconds the upstream has to answer (then 504).
        max_parts: most parts accepted in one ``multipart/form-data`` body.
        workers: processes accepting on the one listening socket (stripping is CPU-bound;
            one event loop uses one core). Each worker has its own metrics registry.
        event_loop: ``auto`` runs on uvloop when it is installed (it is a pinned dependency;
            it cuts the sidecar's own CPU per proxied request by about a quarter) and on
            asyncio's loop otherwise; ``uvloop`` requires it; ``asyncio`` never uses it.
    """

    model_config = SettingsConfigDict(
        env_prefix="VEIL_SIDECAR_", frozen=True, extra="forbid", validate_default=True
    )

    listen: str = f"127.0.0.1:{DEFAULT_PORT}"
    upstream: str | None = None
    token: SecretStr | None = None
    max_body: ByteSize = ByteSize(64 * MiB)
    consent_file: Path | None = None
    user_header: str = "X-Veil-User"
    purpose: str = "service"
    policy: Path | None = None
    request_timeout: Annotated[float, Field(gt=0)] = 30.0
    upstream_timeout: Annotated[float, Field(gt=0)] = 60.0
    max_parts: Annotated[int, Field(gt=0)] = 100
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        split_listen(value)
        return value

    @field_validator("upstream")
    @classmethod
    def _check_upstream(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            msg = "upstream must be an http:// or https:// URL with a host"
            raise ValueError(msg)
        if parts.query or parts.fragment:
            msg = "upstream must not carry a query or fragment"
            raise ValueError(msg)
        if parts.username is not None or parts.password is not None:
            # Credentials would have to be sent on every request; the upstream's own auth
            # header passes through from the client instead.
            msg = "upstream must not carry credentials (user:password@)"
            raise ValueError(msg)
        return value.rstrip("/")

    @field_validator("max_body")
    @classmethod
    def _check_max_body(cls, value: ByteSize) -> ByteSize:
        if value <= 0:
            msg = "max_body must be positive"
            raise ValueError(msg)
        return value

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value():
            return None
        return value

    @property
    def host(self) -> str:
        """The host part of :attr:`listen`."""
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """The port part of :attr:`listen`."""
        return split_listen(self.listen)[1]
