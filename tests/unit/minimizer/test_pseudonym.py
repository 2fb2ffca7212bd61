"""Pseudonyms: keyed HMAC-SHA-256 per purpose (P12), keys from env or file, only key ids out."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.pseudonym import PseudonymKeys, key_id

K1 = "first-key-0123456789abcdef"
K2 = "second-key-0123456789abcdef"


def test_pseudonym_is_hmac_sha256_domain_separated_by_purpose() -> None:
    keys = PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": K1})
    expected = hmac.new(K1.encode(), b"veil/v1\x00analytics\x00u-42", hashlib.sha256).hexdigest()
    assert keys.pseudonym("u-42", "analytics") == "ps_" + expected[:24]


def test_p12_without_cross_service_pseudonyms_differ_per_purpose() -> None:
    keys = PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": K1})
    assert keys.pseudonym("u-42", "analytics") != keys.pseudonym("u-42", "advertising")
    assert keys.pseudonym("u-42", "analytics") == keys.pseudonym("u-42", "analytics")
    assert keys.pseudonym("u-42", "analytics") != keys.pseudonym("u-43", "analytics")


def test_p12_with_cross_service_pseudonyms_join_across_purposes() -> None:
    keys = PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": K1, "VEIL_PSEUDONYM_KEY_ANALYTICS": K2})
    a = keys.pseudonym("u-42", "analytics", cross_service=True)
    b = keys.pseudonym("u-42", "advertising", cross_service=True)
    assert a == b
    assert a != keys.pseudonym("u-42", "analytics")


def test_per_purpose_key_from_env_and_key_ids() -> None:
    keys = PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": K1, "VEIL_PSEUDONYM_KEY_ANALYTICS": K2})
    assert keys.key_id_for("analytics") == key_id(K2.encode())
    assert keys.key_id_for("security") == key_id(K1.encode())
    assert K1 not in repr(keys) and K2 not in repr(keys)
    assert key_id(K1.encode()) not in K1 and len(key_id(K1.encode())) == 12


@pytest.mark.parametrize(
    ("content", "purpose", "expected"),
    [
        (f"{K1}\n", "analytics", K1),
        ("bm90LWEtcmVhbC1rZXktYnV0LWxvbmc=\n", "analytics", "bm90LWEtcmVhbC1rZXktYnV0LWxvbmc="),
        (f"# keys\n*={K1}\nanalytics={K2}\n", "analytics", K2),
        (f"# keys\n*={K1}\nanalytics={K2}\n", "security", K1),
    ],
)
def test_key_file(tmp_path: Path, content: str, purpose: str, expected: str) -> None:
    path = tmp_path / "keys"
    path.write_text(content)
    keys = PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY_FILE": str(path)})
    assert keys.key_id_for(purpose) == key_id(expected.encode())


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"VEIL_PSEUDONYM_KEY": "short"},
        {"VEIL_PSEUDONYM_KEY_FILE": "/nonexistent/veil-keys"},
    ],
)
def test_missing_short_or_unreadable_keys_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        PseudonymKeys.from_env(env)
    assert "VEIL_PSEUDONYM_KEY" in str(info.value) or "16 bytes" in str(info.value)


def test_malformed_key_file_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text(f"*={K1}\nno equals sign here\n")
    with pytest.raises(ConfigError, match="line 2"):
        PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY_FILE": str(path)})


def test_keys_survive_pickling_for_worker_processes() -> None:
    import pickle

    keys = PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": K1, "VEIL_PSEUDONYM_KEY_ANALYTICS": K2})
    copy = pickle.loads(pickle.dumps(keys))  # noqa: S301  # our own bytes
    assert copy.pseudonym("u", "analytics") == keys.pseudonym("u", "analytics")
    assert copy.pseudonym("u", "security") == keys.pseudonym("u", "security")


def test_random_for_run_is_ephemeral_and_differs_per_run() -> None:
    a, b = PseudonymKeys.random_for_run(), PseudonymKeys.random_for_run()
    assert a.ephemeral and b.ephemeral
    assert a.pseudonym("u-42", "analytics") != b.pseudonym("u-42", "analytics")
