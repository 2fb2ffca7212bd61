"""Topic administration with kafka-python's admin client: create topics, check the layout.

:func:`check_topics` is the worker's start-up check: every topic it reads or writes exists,
and the raw topics have as many partitions as the consent topic (co-partitioning: the consent
of the user an event is keyed by must live on the worker that gets the event). A mismatch is
a :class:`~pipeline.errors.ConfigError` naming the topics and their counts; the worker exits
before it consumes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline.errors import ConfigError
from pipeline.settings import StreamSettings
from pipeline.stream.topics import TopicNames, TopicSpec

log = logging.getLogger(__name__)

UNKNOWN_TOPIC = 3  # Kafka error code UNKNOWN_TOPIC_OR_PART
ADMIN_TIMEOUT_MS = 15_000


@contextmanager
def admin_client(settings: StreamSettings) -> Iterator[KafkaAdminClient]:
    """An admin client for the configured cluster, closed on exit.

    Raises:
        ConfigError: the cluster cannot be reached (names the bootstrap setting).
    """
    try:
        client = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{settings.app_id}-admin",
            request_timeout_ms=ADMIN_TIMEOUT_MS,
            bootstrap_timeout_ms=ADMIN_TIMEOUT_MS,
            **settings.kafka_python_security(),
        )
    except KafkaError as exc:
        msg = (
            f"cannot reach Kafka at VEIL_KAFKA_BOOTSTRAP={settings.kafka_bootstrap} "
            f"({type(exc).__name__})"
        )
        raise ConfigError(msg) from exc
    try:
        yield client
    finally:
        client.close()


def partition_counts(client: KafkaAdminClient, topics: Iterable[str]) -> dict[str, int | None]:
    """Topic -> partition count, None for a topic that does not exist."""
    out: dict[str, int | None] = {}
    for meta in client.describe_topics(sorted(set(topics))):
        if meta["error_code"] == UNKNOWN_TOPIC:
            out[meta["name"]] = None
        else:
            out[meta["name"]] = len(meta["partitions"])
    return out


def check_topics(settings: StreamSettings, names: TopicNames) -> int:
    """Check the topic layout before the worker starts; return the partition count.

    Raises:
        ConfigError: a topic is missing (``veil topics create`` makes them) or a raw topic's
            partition count differs from the consent topic's.
    """
    wanted = [*names.inputs, names.consent, *names.purposes.values(), names.audit]
    wanted.append(names.deadletter)
    with admin_client(settings) as client:
        counts = partition_counts(client, wanted)
    missing = sorted(t for t, n in counts.items() if n is None)
    if missing:
        msg = f"topics missing: {', '.join(missing)}; create them with `veil topics create`"
        raise ConfigError(msg)
    consent_n = counts[names.consent]
    assert consent_n is not None  # noqa: S101  # checked above
    wrong = [f"{t} has {counts[t]}" for t in names.inputs if counts[t] != consent_n]
    if wrong:
        msg = (
            f"raw topics are not co-partitioned with the consent topic {names.consent} "
            f"({consent_n} partitions): {'; '.join(wrong)}. Events keyed by user_id must land "
            "on the partition holding that user's consent; give every raw topic the consent "
            "topic's partition count"
        )
        raise ConfigError(msg)
    return consent_n


@dataclass(frozen=True, slots=True)
class CreateResult:
    """What ``create_topics`` did: topics created and topics that already existed."""

    created: tuple[str, ...]
    existing: tuple[str, ...]


def create_topics(settings: StreamSettings, specs: Iterable[TopicSpec]) -> CreateResult:
    """Create each topic of ``specs`` that does not exist yet (idempotent).

    Existing topics are left as they are (not altered): changing partition counts of a live
    topic moves keys between partitions, which is an operator's decision.

    Raises:
        ConfigError: the cluster cannot be reached or refuses a topic (names it).
    """
    specs = list(specs)
    with admin_client(settings) as client:
        counts = partition_counts(client, [s.name for s in specs])
        todo = [s for s in specs if counts.get(s.name) is None]
        existing = tuple(s.name for s in specs if counts.get(s.name) is not None)
        created: list[str] = []
        for spec in todo:
            request = {
                spec.name: {
                    "num_partitions": spec.partitions,
                    "replication_factor": spec.replication,
                    "configs": dict(spec.config),
                }
            }
            try:
                client.create_topics(request, timeout_ms=ADMIN_TIMEOUT_MS, wait_for_metadata=True)
            except TopicAlreadyExistsError:  # created concurrently by another process
                continue
            except KafkaError as exc:
                msg = f"cannot create topic {spec.name}: {type(exc).__name__}"
                raise ConfigError(msg) from exc
            created.append(spec.name)
    return CreateResult(tuple(created), existing)


__all__ = ["CreateResult", "admin_client", "check_topics", "create_topics", "partition_counts"]
