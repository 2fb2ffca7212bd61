"""Pseudonymization keys and the keyed HMAC-SHA-256 pseudonym.

Keys come from the environment or a secret file, never from the policy:

- ``VEIL_PSEUDONYM_KEY``: the base key, used for every purpose without a key of its own;
- ``VEIL_PSEUDONYM_KEY_<PURPOSE>`` (e.g. ``VEIL_PSEUDONYM_KEY_ANALYTICS``): a purpose's key;
- ``VEIL_PSEUDONYM_KEY_FILE``: a file whose lines are either one bare key (the base key) or
  ``purpose=key`` lines (``*=key`` is the base key); ``#`` starts a comment.

Pseudonyms are domain-separated by purpose, so without the ``cross_service`` consent (P12)
the same value gives unrelated pseudonyms in two purposes even under one key. With it, the
base key and a shared domain are used, so the purposes can join on the pseudonym.

Only a key *id* (a fingerprint: the first 12 hex digits of a SHA-256 over a fixed label and
the key) ever leaves this module; it is what audit records name.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.errors import ConfigError

KEY_ENV = "VEIL_PSEUDONYM_KEY"
KEY_FILE_ENV = "VEIL_PSEUDONYM_KEY_FILE"
MIN_KEY_BYTES = 16  # 128 bits: shorter keys make pseudonyms guessable
TOKEN_PREFIX = "ps_"  # noqa: S105  # a label, not a secret
TOKEN_HEX_CHARS = 24  # 96 bits of the HMAC: collisions negligible at any realistic volume
_SHARED_DOMAIN = "*"  # the domain of cross-service pseudonyms
_BASE = "*"
_ASSIGN = re.compile(r"^\s*(\*|[A-Za-z_][A-Za-z0-9_]*)\s*=\s*\S")


@functools.lru_cache(maxsize=64)  # a run has a handful of keys; one sha256 per record saved
def key_id(key: bytes) -> str:
    """A stable, non-reversible fingerprint of ``key`` for audit records."""
    return hashlib.sha256(b"veil-pseudonym-key-id\x00" + key).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class PseudonymKeys:
    """The pseudonymization keys of a run.

    Attributes:
        base: the key for purposes without their own (None: only per-purpose keys).
        per_purpose: purpose name -> key.
        ephemeral: True for :meth:`random_for_run`; pseudonyms are not stable across runs.
    """

    base: bytes | None = None
    per_purpose: Mapping[str, bytes] = field(default_factory=lambda: MappingProxyType({}))
    ephemeral: bool = False

    def __post_init__(self) -> None:
        keys = [self.base] if self.base is not None else []
        keys.extend(self.per_purpose.values())
        if not keys:
            msg = "pseudonym keys: none configured"
            raise ConfigError(msg)
        if any(len(k) < MIN_KEY_BYTES for k in keys):
            msg = f"pseudonym keys: every key must be at least {MIN_KEY_BYTES} bytes"
            raise ConfigError(msg)

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable for worker processes (spawn): a mappingproxy is not, a dict is.
        return (_restore, (self.base, dict(self.per_purpose), self.ephemeral))

    def __repr__(self) -> str:  # never print keys
        return f"PseudonymKeys(ids={self.key_ids()}, ephemeral={self.ephemeral})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PseudonymKeys:
        """Read keys from ``VEIL_PSEUDONYM_KEY[_<PURPOSE>]`` and ``VEIL_PSEUDONYM_KEY_FILE``.

        Environment keys override file keys of the same purpose.

        Raises:
            ConfigError: no key is configured, a key is too short, or the key file cannot be
                read or has a malformed line (named by number).
        """
        env = os.environ if environ is None else environ
        keys: dict[str, bytes] = {}
        file_name = env.get(KEY_FILE_ENV)
        if file_name:
            keys.update(_read_key_file(Path(file_name)))
        for name, value in env.items():
            if name == KEY_ENV and value:
                keys[_BASE] = value.encode("utf-8")
            elif name.startswith(KEY_ENV + "_") and name != KEY_FILE_ENV and value:
                keys[name.removeprefix(KEY_ENV + "_").lower()] = value.encode("utf-8")
        if not keys:
            msg = f"no pseudonym key: set {KEY_ENV}, {KEY_ENV}_<PURPOSE> or {KEY_FILE_ENV}"
            raise ConfigError(msg)
        base = keys.pop(_BASE, None)
        return cls(base=base, per_purpose=MappingProxyType(keys))

    @classmethod
    def random_for_run(cls) -> PseudonymKeys:
        """A random base key for this run only; pseudonyms will differ from run to run."""
        return cls(base=secrets.token_bytes(32), ephemeral=True)

    def key_ids(self) -> dict[str, str]:
        """Purpose (``*`` for the base key) -> key id."""
        ids = {p: key_id(k) for p, k in self.per_purpose.items()}
        if self.base is not None:
            ids[_BASE] = key_id(self.base)
        return ids

    def _key_for(self, purpose: str, cross_service: bool) -> tuple[bytes, str]:
        if cross_service and self.base is not None:
            return self.base, _SHARED_DOMAIN
        key = self.per_purpose.get(purpose, self.base)
        if key is None:
            msg = f"no pseudonym key for purpose '{purpose}' and no base key"
            raise ConfigError(msg)
        return key, purpose

    def key_id_for(self, purpose: str, *, cross_service: bool = False) -> str:
        """The id of the key :meth:`pseudonym` uses for ``purpose``."""
        return key_id(self._key_for(purpose, cross_service)[0])

    def pseudonym(self, value: str, purpose: str, *, cross_service: bool = False) -> str:
        """The pseudonym of ``value`` for ``purpose``: ``ps_`` + 24 hex digits.

        Deterministic for a (key, domain, value); the domain is the purpose unless
        ``cross_service`` is granted and a base key exists.

        Raises:
            ConfigError: no key applies to ``purpose``.
        """
        key, domain = self._key_for(purpose, cross_service)
        mac = _keyed_prefix(key, domain).copy()
        mac.update(value.encode("utf-8", "surrogatepass"))
        return TOKEN_PREFIX + mac.hexdigest()[:TOKEN_HEX_CHARS]


@functools.lru_cache(maxsize=64)
def _keyed_prefix(key: bytes, domain: str) -> hmac.HMAC:
    """HMAC state after ``veil/v1``, NUL, the domain, NUL: each pseudonym copies it and adds
    the value.

    The same bytes through the same HMAC as hashing the whole message at once, without
    deriving the key pads again for every value.
    """
    prefix = f"veil/v1\x00{domain}\x00".encode("utf-8", "surrogatepass")
    return hmac.new(key, prefix, hashlib.sha256)


def _restore(base: bytes | None, per_purpose: dict[str, bytes], ephemeral: bool) -> PseudonymKeys:
    return PseudonymKeys(base, MappingProxyType(per_purpose), ephemeral)


def _read_key_file(path: Path) -> dict[str, bytes]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"{KEY_FILE_ENV}: cannot read {path} ({type(exc).__name__})"
        raise ConfigError(msg) from exc
    content = [(n, ln.strip()) for n, ln in enumerate(lines, 1)]
    content = [(n, ln) for n, ln in content if ln and not ln.startswith("#")]
    # A lone line that is not "name=key" is a bare base key (base64 keys may end in '=').
    if len(content) == 1 and not _ASSIGN.match(content[0][1]):
        return {_BASE: content[0][1].encode("utf-8")}
    keys: dict[str, bytes] = {}
    for number, line in content:
        purpose, sep, key = line.partition("=")
        if not sep or not purpose.strip() or not key.strip():
            msg = f"{KEY_FILE_ENV}: {path} line {number}: expected 'purpose=key'"
            raise ConfigError(msg)
        keys[purpose.strip().lower()] = key.strip().encode("utf-8")
    return keys


__all__ = ["KEY_ENV", "KEY_FILE_ENV", "PseudonymKeys", "key_id"]
