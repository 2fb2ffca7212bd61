"""The replay loop: raw records in, minimized events, dead letters and audit entries out.

Per record: decode and parse (JSONL event or raw text log line), look up the user's consent
in the snapshot (narrowed by the event's own ``consent``), and call the pure minimizer core
for the one purpose. The outcome is exactly one of: an output line, a drop (consent or
retention: the purpose may not receive it), or a dead letter. Anything unexpected while
handling a record dead-letters that record (fail closed) and the run continues.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from pipeline.consent import Consent
from pipeline.deadletter import DeadLetter
from pipeline.errors import Reason, RecordError
from pipeline.events import MAX_STRING_CHARS, parse_event
from pipeline.minimizer import MinimizeContext, minimize
from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.replay.logformats import LineOrigin, line_to_event
from pipeline.replay.progress import Progress
from pipeline.replay.readers import RawRecord, Source
from pipeline.replay.sinks import Sink
from pipeline.replay.summary import Stats

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 256  # records per task: amortizes inter-process overhead, keeps latency low
Item = RawRecord | DeadLetter


@dataclass(frozen=True, slots=True)
class ReplayJob:
    """Everything needed to minimize records, shipped once to each worker process.

    Attributes:
        policy: the validated policy.
        purpose: the one purpose this replay produces (a key of ``policy.purposes``).
        consents: consent snapshot by ``user_id``; a user not in it has granted nothing.
        keys: pseudonymization keys (per purpose).
        now: the reference time for retention (``--now``), timezone-aware.
        audit: whether to serialize audit entries (skipped when no audit sink is wanted).
    """

    policy: Policy
    purpose: str
    consents: Mapping[str, Consent]
    keys: PseudonymKeys
    now: datetime
    audit: bool = True

    def context(self) -> MinimizeContext:
        """The minimizer context for this job (no media resolver: replay has no store)."""
        return MinimizeContext(keys=self.keys, now=self.now)


@dataclass(slots=True)
class ChunkResult:
    """What one chunk of records produced, in input order within each list."""

    outputs: list[str] = field(default_factory=list)
    audits: list[str] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _decode(rec: RawRecord, job: ReplayJob) -> dict[str, Any]:
    """Parse one raw record into a validated event.

    Raises:
        RecordError: the record is not a valid event (reason says why).
    """
    if rec.format == "jsonl":
        return parse_event(rec.raw)
    try:
        text = rec.raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"not valid UTF-8 at byte {exc.start}"
        raise RecordError(Reason.INVALID_UTF8, msg) from exc
    if len(text) > MAX_STRING_CHARS:
        msg = f"a string is over {MAX_STRING_CHARS} characters"
        raise RecordError(Reason.TOO_LARGE, msg)
    # No validate_envelope() here: the event is built by line_to_event (envelope fields of the
    # right types, depth 4, strings no longer than the line, no surrogates after a strict
    # UTF-8 decode), so the one limit a line can break is the string size checked above.
    return line_to_event(text, LineOrigin(rec.file, rec.line), now=job.now)


def _consent_for(event: Mapping[str, Any], job: ReplayJob) -> Consent:
    user = event.get("user_id")
    base = job.consents.get(user, Consent.none()) if isinstance(user, str) else Consent.none()
    narrowing = event.get("consent")
    if narrowing is not None and not isinstance(narrowing, Mapping):
        return Consent.none()  # a malformed narrowing withdraws everything (fail closed)
    return base.narrow(narrowing)


def _drop_cause(withheld: str | None) -> str:
    # "consent:<key>" -> "consent"; "retention" and "undated" (no event time, so retention
    # cannot be checked) stay as they are.
    return (withheld or "consent").partition(":")[0]


def _one(rec: RawRecord, job: ReplayJob, ctx: MinimizeContext, result: ChunkResult) -> None:
    stats = result.stats
    try:
        event = _decode(rec, job)
        minimized = minimize(
            event,
            policy=job.policy,
            consent=_consent_for(event, job),
            purpose=job.purpose,
            context=ctx,
        )
        # Serialized inside the try: a value that cannot be written is a dead letter too.
        audit_line = _dumps(minimized.audit.to_dict()) if job.audit else None
        out_line = None if minimized.event is None else _dumps(minimized.event)
    except RecordError as exc:
        reason, msg = exc.reason, f"line {rec.line}: {exc}"
    except RecursionError:
        reason, msg = Reason.TOO_DEEP, f"line {rec.line}: nested too deeply"
    except Exception as exc:  # fail closed: one bad record never stops the run
        # Only the type name: a third-party message may quote the value.
        reason, msg = (
            Reason.INTERNAL_ERROR,
            f"line {rec.line}: internal error ({type(exc).__name__})",
        )
        log.warning("replay: %s in %s", msg, rec.file)
    else:
        if audit_line is not None:
            result.audits.append(audit_line)
        if out_line is None:
            stats.dropped[_drop_cause(minimized.audit.withheld)] += 1
        else:
            result.outputs.append(out_line)
            stats.out += 1
            stats.entities.update(minimized.audit.entity_counts())
        return
    result.dead.append(DeadLetter(reason, msg, rec.source(), rec.raw))
    stats.dead[str(reason)] += 1


def process_chunk(items: Sequence[Item], job: ReplayJob) -> ChunkResult:
    """Minimize a chunk of records; reader dead letters pass through unchanged.

    Never raises for a bad record. Pure apart from logging: safe to run in a worker process.
    """
    result = ChunkResult()
    ctx = job.context()
    for item in items:
        result.stats.records_in += 1
        if isinstance(item, DeadLetter):
            result.dead.append(item)
            result.stats.dead[str(item.reason)] += 1
        else:
            _one(item, job, ctx, result)
    return result


def _chunks(sources: Sequence[Source], size: int, progress: Progress) -> Iterator[list[Item]]:
    for source in sources:
        it = iter(source.records())
        read = 0
        while chunk := list(islice(it, size)):
            read += len(chunk)
            progress.update(
                records=read,
                name=source.name,
                done_bytes=source.bytes_read(),
                total_bytes=source.size_hint(),
            )
            yield chunk


@dataclass(slots=True)
class Sinks:
    """The three destinations of a replay."""

    out: Sink
    dlq: Sink
    audit: Sink

    def write(self, result: ChunkResult) -> None:
        """Write one chunk's results, each stream in input order."""
        for line in result.outputs:
            self.out.write(line)
        for dl in result.dead:
            self.dlq.write(dl.to_json_line())
        for line in result.audits:
            self.audit.write(line)

    def close(self) -> None:
        """Close all three, output last so a reader of it sees a complete run."""
        self.dlq.close()
        self.audit.close()
        self.out.close()


def run(
    sources: Sequence[Source],
    job: ReplayJob,
    sinks: Sinks,
    *,
    workers: int = 1,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress | None = None,
) -> Stats:
    """Replay every source in order into the sinks and return the counters.

    With ``workers > 1`` chunks are minimized in worker processes; the output order is the
    input order either way. The sinks are closed on return.
    """
    from pipeline.replay.workers import map_chunks  # multiprocessing only when run

    progress = progress or Progress(enabled=False)
    total = Stats(workers=max(workers, 1))
    start = time.perf_counter()
    try:
        results: Iterable[ChunkResult] = map_chunks(
            _chunks(sources, chunk_size, progress), job, workers=workers
        )
        for result in results:
            sinks.write(result)
            total.merge(result.stats)
    finally:
        progress.close()
        sinks.close()
        for source in sources:
            source.close()
    total.seconds = time.perf_counter() - start
    log.info(
        "replay done: purpose=%s in=%d out=%d dropped=%d dead=%d",
        job.purpose,
        total.records_in,
        total.out,
        total.dropped_total,
        total.dead_lettered,
    )
    return total
