"""The consent snapshot replay uses in place of the Kafka ``consent`` table.

A JSONL file, one record per line: ``{"user_id": "u-42", "consent": {"location": true, ...},
"updated_at": "2026-11-01T12:00:00Z"}``. When a user appears more than once the record with
the latest ``updated_at`` wins (as the compacted topic would keep the last one); a user absent
from the snapshot has granted nothing. The snapshot is configuration: a bad line stops the
run before any output is written (exit code 2), naming the line, never its content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from pipeline.consent import Consent
from pipeline.errors import ConfigError


def _when(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        msg = f"{where}: 'updated_at' must be an ISO-8601 string"
        raise ConfigError(msg)
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = f"{where}: 'updated_at' is not an ISO-8601 time"
        raise ConfigError(msg) from exc
    if ts.tzinfo is None:
        msg = f"{where}: 'updated_at' needs a time zone (e.g. Z)"
        raise ConfigError(msg)
    return ts


def load_consent_snapshot(path: str | Path) -> Mapping[str, Consent]:
    """Read a consent snapshot into ``user_id -> Consent`` (version = ``updated_at``).

    Raises:
        ConfigError: the file cannot be read, or a line is not a valid snapshot record
            (the message names the file and line number).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"consent snapshot {path}: cannot read ({type(exc).__name__})"
        raise ConfigError(msg) from exc
    latest: dict[str, tuple[datetime, Consent]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"consent snapshot {path} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            msg = f"{where}: not JSON"
            raise ConfigError(msg) from exc
        if not isinstance(record, dict):
            msg = f"{where}: expected an object"
            raise ConfigError(msg)
        user, consent = record.get("user_id"), record.get("consent")
        if not isinstance(user, str) or not user:
            msg = f"{where}: 'user_id' must be a non-empty string"
            raise ConfigError(msg)
        if not isinstance(consent, dict):
            msg = f"{where}: 'consent' must be an object"
            raise ConfigError(msg)
        when = _when(record.get("updated_at"), where)
        if user not in latest or when >= latest[user][0]:
            latest[user] = (when, Consent.from_mapping(consent, version=record["updated_at"]))
    return MappingProxyType({user: c for user, (_, c) in latest.items()})
