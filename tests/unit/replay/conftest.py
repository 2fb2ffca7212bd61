"""Replay test kit: the real policy, fixed keys, and a one-call replay over lines."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.consent import Consent
from pipeline.deadletter import DeadLetter
from pipeline.policy import Policy, load_policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.replay.readers import FileSource, InputFormat
from pipeline.replay.runner import ReplayJob, Sinks, run
from pipeline.replay.sinks import FileSink
from pipeline.replay.summary import Stats
from tests.conftest import REPO

NOW = datetime(2026, 11, 1, tzinfo=UTC)
KEYS = PseudonymKeys(base=b"replay-unit-test-key-0123456789")


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(REPO / "config" / "policy.yaml")


@dataclass
class Replayed:
    """What one replay produced, read back."""

    out: list[dict[str, Any]]
    out_text: str
    dead: list[DeadLetter]
    audit: list[dict[str, Any]]
    stats: Stats


def replay_files(
    paths: Iterable[Path | str],
    policy: Policy,
    tmp: Path,
    *,
    purpose: str = "analytics",
    consents: Mapping[str, Consent] | None = None,
    now: datetime = NOW,
    workers: int = 1,
    fmt: InputFormat = "auto",
    chunk_size: int = 64,
    max_record_bytes: int | None = None,
) -> Replayed:
    """Replay ``paths`` through the library (no subprocess) and read every output back."""
    job = ReplayJob(policy=policy, purpose=purpose, consents=consents or {}, keys=KEYS, now=now)
    out, dlq, audit = tmp / "out.jsonl", tmp / "dlq.jsonl", tmp / "audit.jsonl"
    sinks = Sinks(out=FileSink(str(out)), dlq=FileSink(str(dlq)), audit=FileSink(str(audit)))
    kw: dict[str, Any] = {"fmt": fmt}
    if max_record_bytes is not None:
        kw["max_record_bytes"] = max_record_bytes
    sources = [FileSource(str(p), **kw) for p in paths]
    stats = run(sources, job, sinks, workers=workers, chunk_size=chunk_size)
    text = out.read_text(encoding="utf-8")
    return Replayed(
        out=[json.loads(line) for line in text.splitlines()],
        out_text=text,
        dead=[DeadLetter.from_json_line(line) for line in dlq.read_text().splitlines()],
        audit=[json.loads(line) for line in audit.read_text().splitlines()],
        stats=stats,
    )


def write_lines(path: Path, lines: Iterable[str | bytes]) -> Path:
    """Write lines (str as UTF-8, bytes as they are), one per line."""
    with path.open("wb") as fh:
        for line in lines:
            fh.write((line.encode("utf-8") if isinstance(line, str) else line) + b"\n")
    return path


def event(n: int = 1, kind: str = "log", **payload: Any) -> dict[str, Any]:
    """A minimal valid event."""
    return {
        "event_id": f"e-{n}",
        "kind": kind,
        "user_id": f"u-{n}",
        "occurred_at": "2026-10-31T10:15:00Z",
        "payload": payload,
    }


def survivors(text: str, needles: Iterable[str]) -> list[str]:
    """Every needle that occurs in ``text`` (literal, case-sensitive), sorted.

    One Hyperscan pass over the text for thousands of needles: ``needle in text`` per value
    would rescan the output once per planted value.
    """
    import re

    import hyperscan

    items = sorted(set(needles))
    if not items:
        return []
    db = hyperscan.Database()
    db.compile(
        expressions=[re.escape(n).encode() for n in items],
        ids=list(range(len(items))),
        elements=len(items),
        flags=[hyperscan.HS_FLAG_SINGLEMATCH] * len(items),
    )
    found: set[int] = set()

    def on_match(id_: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
        found.add(id_)

    db.scan(text.encode("utf-8"), match_event_handler=on_match)
    return sorted(items[i] for i in found)
