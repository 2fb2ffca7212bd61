"""Per-record logic of the worker, without Kafka: raw record in, records to produce out.

:class:`EventProcessor` turns one raw input record into the records to produce: one
minimized record per purpose that may receive it, one audit record, or (instead of all of
them) one dead-letter record. It never raises for a bad record: every failure becomes a dead
letter with a reason (fail closed). The Faust agents only move bytes between Kafka and this
class, so everything here is unit-tested without a broker, and Kafka replay reuses it.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detectors.findings import Finding
from pipeline.consent import Consent
from pipeline.deadletter import DeadLetter
from pipeline.errors import MalformedEvent, Reason, RecordError, VeilError
from pipeline.events import parse_event
from pipeline.minimizer import MinimizeContext, Minimized, minimize_all
from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.stream import codecs
from pipeline.stream.metrics import StreamMetrics
from pipeline.stream.topics import TopicNames

log = logging.getLogger(__name__)

ConsentLookup = Callable[[str], Consent]
ScanFn = Callable[[str], list[Finding]]


@dataclass(frozen=True, slots=True)
class Source:
    """Where a record was read: named in dead letters, audit records and logs."""

    topic: str
    partition: int
    offset: int

    def as_dict(self) -> dict[str, str | int | None]:
        """The ``source`` mapping of dead letters and audit records."""
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(frozen=True, slots=True)
class OutRecord:
    """One record to produce.

    Attributes:
        topic: destination topic.
        key: record key (pseudonymous on purpose topics, never the raw user id).
        value: record value.
        headers: record headers (codes and positions only).
    """

    topic: str
    key: bytes | None
    value: bytes
    headers: codecs.Headers = ()


class EventProcessor:
    """Minimize raw event records for every purpose of the policy.

    Thread-compatible, not thread-safe (one per worker process). Never raises for a record.
    """

    def __init__(
        self,
        *,
        policy: Policy,
        names: TopicNames,
        keys: PseudonymKeys,
        metrics: StreamMetrics,
        max_message_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scan: ScanFn | None = None,
    ) -> None:
        self.policy = policy
        self.names = names
        self.keys = keys
        self.metrics = metrics
        self.max_message_bytes = max_message_bytes
        self.clock = clock
        self._scan = scan
        self._version_header = (codecs.H_POLICY_VERSION, policy.version.encode("utf-8"))
        # Labelled metric children, resolved once: labels() costs a lock and a dict lookup.
        self._out = {p: metrics.records_out.labels(purpose=p) for p in names.purposes}
        self._in = {k: metrics.records_in.labels(kind=k) for k in names.raw}
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def process(
        self, raw: bytes | None, key: bytes | None, source: Source, consent_for: ConsentLookup
    ) -> list[OutRecord]:
        """Turn one raw record into the records to produce.

        Args:
            raw: the record value as read from Kafka (None for a tombstone).
            key: the record key; must be the event's ``user_id`` when it has one, because the
                consent lookup is local to the partition that key hashes to.
            source: where the record was read.
            consent_for: the consent table lookup for a user id.

        Returns:
            Either the purpose records (one per purpose that may receive the event) followed
            by one audit record, or exactly one dead-letter record.
        """
        started = time.perf_counter()
        cpu = time.process_time()
        kind = self.names.kind_of(source.topic)
        if kind is not None:
            self._in[kind].inc()
        try:
            results, event = self._minimize(raw, key, kind, consent_for)
        except RecordError as exc:
            return [
                self.deadletter(
                    DeadLetter.from_error(exc, source=source.as_dict(), raw=raw or b""), key
                )
            ]
        except VeilError as exc:  # e.g. a pseudonym key missing for a purpose: still per record
            log.error("record %s refused: %s", source.as_dict(), type(exc).__name__)
            dl = DeadLetter(Reason.INTERNAL_ERROR, type(exc).__name__, source.as_dict(), raw or b"")
            return [self.deadletter(dl, key)]
        except Exception as exc:  # fail closed: a bug must not forward or crash the worker
            # Type and frames only: an exception's message may quote the value it choked on.
            log.error(
                "unexpected %s minimizing %s at %s",
                type(exc).__name__,
                source.as_dict(),
                " <- ".join(
                    f"{f.name}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__)
                ),
            )
            msg = f"unexpected {type(exc).__name__} while minimizing"
            dl = DeadLetter(Reason.INTERNAL_ERROR, msg, source.as_dict(), raw or b"")
            return [self.deadletter(dl, key)]
        out = self._outputs(results, event, source)
        self.metrics.processing_seconds.observe(time.perf_counter() - started)
        self.metrics.process_seconds.inc(time.process_time() - cpu)
        return out

    def _minimize(
        self, raw: bytes | None, key: bytes | None, kind: str | None, consent_for: ConsentLookup
    ) -> tuple[Mapping[str, Minimized], dict[str, Any]]:
        if raw is None:
            raise MalformedEvent(Reason.MISSING_FIELD, "record value is empty (tombstone)")
        if len(raw) > self.max_message_bytes:
            msg = f"record is {len(raw)} bytes; the worker limit is {self.max_message_bytes}"
            raise MalformedEvent(Reason.TOO_LARGE, msg)
        event = parse_event(raw)
        if kind is not None and event["kind"] != kind:
            msg = f"kind: a '{event['kind']}' event on the '{kind}' topic"
            raise RecordError(Reason.KIND_MISMATCH, msg)
        user_id = event.get("user_id")
        consent = Consent.none()
        if user_id is not None:
            if key is None or key != user_id.encode("utf-8"):
                msg = "record key is not the event's user_id; consent lookup would not be local"
                raise RecordError(Reason.KEY_MISMATCH, msg)
            consent = consent_for(user_id)
        context = MinimizeContext(
            keys=self.keys,
            now=self.clock(),
            # None: the core's default scanner, which scans each text once per record and
            # remembers short texts' findings across records (as in replay).
            scan=self._scan,
        )
        cpu = time.process_time()
        results = minimize_all(event, policy=self.policy, consent=consent, context=context)
        self.metrics.minimize_seconds.inc(time.process_time() - cpu)
        return results, event

    def _outputs(
        self, results: Mapping[str, Minimized], event: Mapping[str, Any], source: Source
    ) -> list[OutRecord]:
        out: list[OutRecord] = []
        entries = []
        for purpose, result in results.items():
            audit = result.audit
            entries.append(audit.to_dict())
            for entity, n in audit.entity_counts().items():
                self._child(self.metrics.entities, entity).inc(n)
            if result.event is None:
                self._child(self.metrics.withheld, purpose, audit.withheld or "").inc()
                continue
            user = result.event.get("user_id")
            out.append(
                OutRecord(
                    topic=self.names.purposes[purpose],
                    key=user.encode("utf-8") if isinstance(user, str) else None,
                    value=codecs.dumps(result.event),
                    headers=(self._version_header,),
                )
            )
            self._out[purpose].inc()
        audit_record = {
            "event_id": event.get("event_id"),
            "kind": event.get("kind"),
            "source": source.as_dict(),
            "policy_version": self.policy.version,
            "entries": entries,
        }
        out.append(
            OutRecord(self.names.audit, None, codecs.dumps(audit_record), (self._version_header,))
        )
        return out

    def _child(self, metric: Any, *labels: str) -> Any:
        # labels() takes a lock and builds a key on every call; the label sets are few
        # (entity types, purpose x reason), so resolve each once.
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def deadletter(self, dl: DeadLetter, key: bytes | None) -> OutRecord:
        """The dead-letter record for ``dl`` (raw bytes inside; restricted topic)."""
        self.metrics.deadlettered.labels(reason=str(dl.reason)).inc()
        src = dl.source
        log.warning(
            "dead-lettered %s:%s@%s reason=%s",
            src.get("topic"),
            src.get("partition"),
            src.get("offset"),
            dl.reason,
        )
        headers = (
            (codecs.H_REASON, str(dl.reason).encode("ascii")),
            (codecs.H_SOURCE_TOPIC, str(src.get("topic")).encode("utf-8")),
            (codecs.H_SOURCE_PARTITION, str(src.get("partition")).encode("ascii")),
            (codecs.H_SOURCE_OFFSET, str(src.get("offset")).encode("ascii")),
        )
        return OutRecord(self.names.deadletter, key, dl.to_json_line().encode("utf-8"), headers)


__all__ = ["ConsentLookup", "EventProcessor", "OutRecord", "Source"]
