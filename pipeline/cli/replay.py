"""``veil replay``: minimize historical logs and event files for one purpose.

The CLI only parses arguments, loads the configuration (policy, consent snapshot, keys) and
calls :func:`pipeline.replay.runner.run`. Everything that can be wrong with the configuration
is checked before any output file is created, so a policy error leaves nothing behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ConfigError, PolicyError, Reason

if TYPE_CHECKING:
    from pipeline.pseudonym import PseudonymKeys

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STDIN = STDOUT = "-"
DEFAULT_STDOUT_DLQ = "veil-deadletter.jsonl"
_TRUE = {"1", "true", "yes", "on"}


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def add_parser(subparsers: Any) -> None:  # argparse's _SubParsersAction is private
    """Register ``veil replay``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="minimize log/event files for one purpose (offline, no broker)",
        description=(
            "Replay JSONL events or raw text logs (Apache/Nginx access logs, syslog, anything "
            "else as a message; gzip detected; '-' is stdin) through the policy for one "
            "purpose. Records the purpose may not receive are dropped; records that cannot "
            "be parsed or minimized go to the dead-letter file, never to the output."
        ),
    )
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="files, or - for stdin")
    p.add_argument(
        "--purpose",
        default=_env("VEIL_REPLAY_PURPOSE"),
        help="purpose to minimize for (env VEIL_REPLAY_PURPOSE; required)",
    )
    p.add_argument(
        "--out",
        default=_env("VEIL_REPLAY_OUT", STDOUT),
        help="output JSONL path, .gz to compress, - for stdout (env VEIL_REPLAY_OUT; default -)",
    )
    p.add_argument(
        "--consent",
        default=_env("VEIL_REPLAY_CONSENT"),
        help="consent snapshot JSONL (env VEIL_REPLAY_CONSENT; default: nobody consented)",
    )
    p.add_argument(
        "--dlq",
        default=_env("VEIL_REPLAY_DLQ"),
        help=(
            "dead-letter JSONL, created only if needed; holds raw input, keep it restricted "
            f"(env VEIL_REPLAY_DLQ; default OUT.deadletter.jsonl, or {DEFAULT_STDOUT_DLQ} "
            "when OUT is stdout)"
        ),
    )
    p.add_argument(
        "--audit",
        default=_env("VEIL_REPLAY_AUDIT"),
        help="audit JSONL, one entry per record (env VEIL_REPLAY_AUDIT; default: not written)",
    )
    p.add_argument(
        "--policy",
        default=_env("VEIL_POLICY"),
        help="policy YAML (env VEIL_POLICY; default config/policy.yaml)",
    )
    p.add_argument(
        "--now",
        default=_env("VEIL_REPLAY_NOW"),
        help="reference time for retention, ISO-8601 (env VEIL_REPLAY_NOW; default: now)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=int(_env("VEIL_REPLAY_WORKERS", "1") or 1),
        help="worker processes, 0 = one per core; output order is kept (env VEIL_REPLAY_WORKERS)",
    )
    p.add_argument(
        "--format",
        choices=("auto", "jsonl", "text"),
        default=_env("VEIL_REPLAY_FORMAT", "auto"),
        help="input format (env VEIL_REPLAY_FORMAT; default auto: by suffix, else sniffed)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        default=(_env("VEIL_REPLAY_STRICT", "") or "").lower() in _TRUE,
        help="exit 1 if any record was dead-lettered (env VEIL_REPLAY_STRICT)",
    )
    p.add_argument(
        "--max-record-bytes",
        type=int,
        default=int(_env("VEIL_REPLAY_MAX_RECORD_BYTES", "0") or 0) or None,
        help=(
            "longer lines are dead-lettered as too_large (env VEIL_REPLAY_MAX_RECORD_BYTES; "
            "default: the event size limit, 16 MiB)"
        ),
    )
    p.add_argument(
        "--summary-json",
        default=_env("VEIL_REPLAY_SUMMARY_JSON"),
        help="also write the summary as JSON to this path (env VEIL_REPLAY_SUMMARY_JSON)",
    )
    p.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default=_env("VEIL_REPLAY_PROGRESS", "auto"),
        help="progress line on stderr; auto = only when stderr is a terminal",
    )
    p.set_defaults(func=handler)


def _fail(message: str) -> int:
    print(f"veil replay: {message}", file=sys.stderr)
    return EXIT_USAGE


def _parse_now(value: str | None) -> datetime:
    if not value or value == "now":
        return datetime.now(UTC)
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        msg = "--now: expected an ISO-8601 time such as 2026-01-31T12:00:00Z"
        raise ConfigError(msg) from exc
    # A bare date or time without a zone is read as UTC, like the event times.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _keys() -> PseudonymKeys:
    from pipeline.pseudonym import KEY_ENV, KEY_FILE_ENV, PseudonymKeys

    if any(k == KEY_ENV or k.startswith(KEY_ENV + "_") for k in os.environ if os.environ[k]):
        return PseudonymKeys.from_env()  # configured: a bad key is a config error
    print(
        f"veil replay: warning: no pseudonym key configured ({KEY_ENV} or {KEY_FILE_ENV}); "
        "using a random key for this run, so pseudonyms will not be stable across runs",
        file=sys.stderr,
    )
    return PseudonymKeys.random_for_run()


def _default_dlq(out: str) -> str:
    if out == STDOUT:
        return DEFAULT_STDOUT_DLQ
    name = out.removesuffix(".gz")
    for suffix in (".jsonl", ".ndjson", ".json"):
        name = name.removesuffix(suffix)
    return f"{name}.deadletter.jsonl"


def handler(args: argparse.Namespace) -> int:
    """Run ``veil replay``; returns the exit code (0 ok, 1 input failures, 2 config)."""
    # Imported here so that `veil --help` stays fast.
    from pipeline.policy import load_policy
    from pipeline.replay.consent_snapshot import load_consent_snapshot
    from pipeline.replay.progress import Progress
    from pipeline.replay.readers import DEFAULT_MAX_RECORD_BYTES, open_sources
    from pipeline.replay.runner import ReplayJob, Sinks, run
    from pipeline.replay.sinks import FileSink, NullSink, Sink
    from pipeline.replay.summary import render

    if not args.inputs:
        return _fail("no INPUT given (use - for stdin)")
    if not args.purpose:
        return _fail("--purpose is required (or set VEIL_REPLAY_PURPOSE)")
    if any(str(p).startswith("kafka://") for p in (*args.inputs, args.out)):
        return _kafka_replay(args)  # kafka://TOPIC source and sink (issue 5)
    if args.workers < 0 or (args.max_record_bytes is not None and args.max_record_bytes < 1):
        return _fail("--workers must be >= 0 and --max-record-bytes >= 1")
    dlq_path = args.dlq or _default_dlq(args.out)
    outputs = [p for p in (args.out, dlq_path, args.audit) if p and p != STDOUT]
    if any(
        Path(o).resolve() == Path(i).resolve() for o in outputs for i in args.inputs if i != STDIN
    ):
        return _fail("an output path is also an input")
    try:
        policy = load_policy(args.policy)
        if args.purpose not in policy.purposes:
            valid = ", ".join(sorted(policy.purposes))
            return _fail(f"unknown purpose '{args.purpose}'; the policy defines: {valid}")
        consents = load_consent_snapshot(args.consent) if args.consent else {}
        job = ReplayJob(
            policy=policy,
            purpose=args.purpose,
            consents=consents,
            keys=_keys(),
            now=_parse_now(args.now),
            audit=bool(args.audit),
        )
    except PolicyError as exc:
        return _fail(f"policy error: {exc}")
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")

    # Configuration is valid: only now are output files created.
    workers = args.workers or os.cpu_count() or 1
    try:
        out = FileSink(args.out)
    except OSError as exc:
        return _fail(f"cannot create --out {args.out} ({exc.strerror or type(exc).__name__})")
    audit: Sink = FileSink(args.audit, lazy=True) if args.audit else NullSink()
    sinks = Sinks(out=out, dlq=FileSink(dlq_path, lazy=True), audit=audit)
    limit = args.max_record_bytes or DEFAULT_MAX_RECORD_BYTES
    sources = open_sources(args.inputs, fmt=args.format, max_record_bytes=limit)
    progress = Progress(enabled=None if args.progress == "auto" else args.progress == "always")
    try:
        stats = run(sources, job, sinks, workers=workers, progress=progress)
    except BrokenPipeError:
        # The reader of stdout went away (`veil replay ... --out - | head`): not an input
        # error. Point stdout at devnull so the interpreter's final flush does not raise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # disk full, output removed...: stop, say where, not what
        print(
            f"veil replay: cannot write output ({exc.strerror or type(exc).__name__})",
            file=sys.stderr,
        )
        return EXIT_FAILED

    print(render(stats, purpose=args.purpose, dlq=dlq_path), file=sys.stderr)
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps(stats.to_dict(), indent=2) + "\n")
    if stats.dead[Reason.UNREADABLE_INPUT] or (args.strict and stats.dead_lettered):
        return EXIT_FAILED
    return EXIT_OK


def _kafka_replay(args: argparse.Namespace) -> int:
    """``veil replay kafka://RAW --out kafka://NEW --purpose P``: re-minimize a topic."""
    from pipeline.policy import load_policy
    from pipeline.replay.consent_snapshot import load_consent_snapshot
    from pipeline.settings import load_settings
    from pipeline.stream.kafka_replay import read_consent_topic, replay_topic, topic_of

    try:
        if len(args.inputs) != 1:
            return _fail("a Kafka replay reads exactly one kafka://TOPIC")
        source, sink = topic_of(args.inputs[0]), topic_of(str(args.out))
        if source is None or sink is None:
            return _fail("a Kafka replay needs kafka://TOPIC as both INPUT and --out")
        settings = load_settings(policy=args.policy)
        policy = load_policy(settings.policy)
        if args.consent:  # a snapshot file, or the live consent topic by default
            consents = dict(load_consent_snapshot(args.consent))
        else:
            consent_topic = settings.topic(settings.topic_consent)
            consents = read_consent_topic(settings, consent_topic, policy.consent_keys)
        stats = replay_topic(
            settings,
            policy,
            _keys(),
            source=source,
            sink=sink,
            purpose=args.purpose,
            consents=consents,
            now=_parse_now(args.now),
        )
    except PolicyError as exc:
        return _fail(f"policy error: {exc}")
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}")
    print(
        f"veil replay: {stats.read} read, {stats.written} written to {sink}, "
        f"{stats.withheld} withheld, {stats.dead_lettered} dead-lettered",
        file=sys.stderr,
    )
    return EXIT_FAILED if stats.dead_lettered and args.strict else EXIT_OK
