"""Replay from Kafka: re-minimize a topic from its first offset into a new topic.

The source is read from offset 0 up to the end offsets taken when the replay starts (so a
live topic still has an end), without a consumer group (nothing is committed; the workers'
offsets are untouched). Each record is minimized for one purpose under the *current* policy
and consent (the consent topic read in full, or a snapshot) with retention evaluated against
the event time, exactly like file replay. Records the purpose may not receive are skipped;
records that cannot be parsed or minimized go to the restricted dead-letter topic with a
reason header, never to the sink.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kafka.consumer import KafkaConsumer
from kafka.producer import KafkaProducer
from kafka.structs import TopicPartition

from pipeline.consent import Consent
from pipeline.deadletter import DeadLetter
from pipeline.errors import ConfigError, MalformedEvent, Reason, RecordError
from pipeline.events import parse_event
from pipeline.minimizer import MinimizeContext, minimize
from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.settings import StreamSettings
from pipeline.stream import codecs
from pipeline.stream.metrics import StreamMetrics
from pipeline.stream.processor import EventProcessor, Source
from pipeline.stream.topics import TopicNames

log = logging.getLogger(__name__)

SCHEME = "kafka://"
POLL_MS = 500


def topic_of(url: str) -> str | None:
    """``kafka://TOPIC`` -> ``TOPIC``; None for anything else (a file path)."""
    if not url.startswith(SCHEME):
        return None
    topic = url[len(SCHEME) :]
    if not topic or "/" in topic:
        msg = f"expected {SCHEME}TOPIC; got a URL without a single topic name"
        raise ConfigError(msg)
    return topic


@dataclass
class KafkaReplayStats:
    """Counts of one Kafka replay (no values)."""

    read: int = 0
    written: int = 0
    withheld: int = 0
    dead_lettered: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def _end_offsets(consumer: KafkaConsumer, topic: str) -> dict[TopicPartition, int]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        msg = f"topic {topic} does not exist or has no partitions"
        raise ConfigError(msg)
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    return dict(consumer.end_offsets(tps))


def _read_all(settings: StreamSettings, topic: str) -> Any:
    """Yield every record of ``topic`` from offset 0 to the end offsets taken now."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=max(settings.max_message_bytes * 2, 1 << 20),
        **settings.kafka_python_security(),
    )
    try:
        ends = _end_offsets(consumer, topic)
        todo = {tp for tp, end in ends.items() if end > 0}
        consumer.assign(list(ends))
        consumer.seek_to_beginning(*ends)
        while todo:
            for tp, batch in consumer.poll(timeout_ms=POLL_MS).items():
                for rec in batch:
                    if rec.offset < ends[tp]:
                        yield rec
                if consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
            for tp in list(todo):  # transaction markers can end a partition without records
                if consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
    finally:
        consumer.close()


def read_consent_topic(
    settings: StreamSettings, topic: str, consent_keys: frozenset[str]
) -> dict[str, Consent]:
    """The consent topic as ``user_id -> Consent`` (latest record wins; tombstones remove).

    Records the worker would refuse are skipped here too (and logged by position only).
    """
    table: dict[str, Consent] = {}
    for rec in _read_all(settings, topic):
        try:
            update = codecs.parse_consent_record(rec.key, rec.value, consent_keys)
        except RecordError as exc:
            log.warning(
                "consent %s:%s@%s skipped: %s", topic, rec.partition, rec.offset, exc.reason
            )
            continue
        if update.consent is None:
            table.pop(update.user_id, None)
        else:
            table[update.user_id] = update.consent
    return table


def replay_topic(
    settings: StreamSettings,
    policy: Policy,
    keys: PseudonymKeys,
    *,
    source: str,
    sink: str,
    purpose: str,
    consents: Mapping[str, Consent],
    now: datetime,
) -> KafkaReplayStats:
    """Minimize every record of ``source`` for ``purpose`` into ``sink``.

    Args:
        settings: cluster settings (bootstrap, security, size limit, dead-letter topic name).
        policy: the current policy.
        keys: pseudonym keys (the workers' keys, for pseudonyms that join with live data).
        source: the raw topic to read from its first offset.
        sink: the topic to write (created by the broker or beforehand; never ``source``).
        purpose: the purpose to minimize for.
        consents: the consent to apply per user id (absent: nothing granted).
        now: the reference time for retention.

    Raises:
        ConfigError: the source is the sink, the source does not exist, or the purpose is not
            in the policy. Per-record problems are dead-lettered, never raised.
    """
    if source == sink:
        msg = "the Kafka replay sink must be a new topic, not the source"
        raise ConfigError(msg)
    if purpose not in policy.purposes:
        msg = (
            f"unknown purpose '{purpose}'; the policy defines: {', '.join(sorted(policy.purposes))}"
        )
        raise ConfigError(msg)
    names = TopicNames.build(settings, policy)
    deadletters = EventProcessor(
        policy=policy, names=names, keys=keys, metrics=StreamMetrics(), max_message_bytes=1
    )
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        **settings.kafka_python_security(),
    )
    stats = KafkaReplayStats()
    context = MinimizeContext(keys=keys, now=now)
    version = (codecs.H_POLICY_VERSION, policy.version.encode())
    try:
        for rec in _read_all(settings, source):
            stats.read += 1
            src = Source(rec.topic, rec.partition, rec.offset)
            try:
                if rec.value is None:
                    raise MalformedEvent(Reason.MISSING_FIELD, "record value is empty (tombstone)")
                if len(rec.value) > settings.max_message_bytes:
                    limit = settings.max_message_bytes
                    msg = f"record is {len(rec.value)} bytes; the limit is {limit}"
                    raise MalformedEvent(Reason.TOO_LARGE, msg)
                event = parse_event(rec.value)
                user = event.get("user_id")
                consent = consents.get(user, Consent.none()) if user else Consent.none()
                result = minimize(
                    event, policy=policy, consent=consent, purpose=purpose, context=context
                )
            except RecordError as exc:
                dl = DeadLetter.from_error(exc, source=src.as_dict(), raw=rec.value or b"")
                out = deadletters.deadletter(dl, rec.key)
                producer.send(out.topic, key=out.key, value=out.value, headers=list(out.headers))
                stats.dead_lettered += 1
                stats.reasons[str(exc.reason)] = stats.reasons.get(str(exc.reason), 0) + 1
                continue
            if result.event is None:
                stats.withheld += 1
                continue
            user_out = result.event.get("user_id")
            producer.send(
                sink,
                key=user_out.encode() if isinstance(user_out, str) else None,
                value=codecs.dumps(result.event),
                headers=[version],
            )
            stats.written += 1
        producer.flush()
    finally:
        producer.close()
    return stats


__all__ = ["KafkaReplayStats", "read_consent_topic", "replay_topic", "topic_of"]
