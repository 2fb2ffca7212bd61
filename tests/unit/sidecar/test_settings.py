"""Settings: validated once, frozen, env fallback, safe defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.sidecar.settings import SidecarSettings, is_loopback, split_listen


def test_defaults_are_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LISTEN", "UPSTREAM", "TOKEN", "MAX_BODY"):
        monkeypatch.delenv(f"VEIL_SIDECAR_{name}", raising=False)
    settings = SidecarSettings()
    assert is_loopback(settings.host)
    assert settings.upstream is None and settings.token is None
    assert settings.max_body == 64 * 1024 * 1024


def test_env_fallback_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_SIDECAR_MAX_BODY", "2MiB")
    monkeypatch.setenv("VEIL_SIDECAR_TOKEN", "s3cret-token")
    monkeypatch.setenv("VEIL_SIDECAR_UPSTREAM", "http://127.0.0.1:9000/")
    settings = SidecarSettings(listen="127.0.0.1:0")
    assert settings.max_body == 2 * 1024 * 1024
    assert settings.token is not None and settings.token.get_secret_value() == "s3cret-token"
    assert "s3cret" not in repr(settings)
    assert settings.upstream == "http://127.0.0.1:9000"
    assert SidecarSettings(max_body="1KiB").max_body == 1024


def test_frozen() -> None:
    settings = SidecarSettings()
    with pytest.raises(ValidationError):
        settings.listen = "0.0.0.0:80"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("listen", "8787"),
        ("listen", "127.0.0.1:99999"),
        ("listen", "127.0.0.1:port"),
        ("upstream", "ftp://example.org"),
        ("upstream", "http:///nohost"),
        ("upstream", "http://host/?q=1"),
        ("upstream", "http://user:secret@host"),
        ("max_body", "0"),
        ("request_timeout", 0),
        ("max_parts", 0),
        ("unknown_setting", 1),
    ],
)
def test_invalid(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        SidecarSettings(**{field: value})
    assert field in str(info.value)


@pytest.mark.parametrize(
    ("listen", "host", "port", "loopback"),
    [
        ("127.0.0.1:8787", "127.0.0.1", 8787, True),
        ("localhost:0", "localhost", 0, True),
        ("[::1]:80", "::1", 80, True),
        ("0.0.0.0:80", "0.0.0.0", 80, False),  # noqa: S104
        ("10.1.2.3:80", "10.1.2.3", 80, False),
        ("example.org:80", "example.org", 80, False),
    ],
)
def test_listen(listen: str, host: str, port: int, loopback: bool) -> None:
    assert split_listen(listen) == (host, port)
    assert is_loopback(host) is loopback
