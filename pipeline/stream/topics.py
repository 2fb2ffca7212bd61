"""Topic naming and the topic layout the worker expects.

One place decides every topic name (settings + the policy's purpose topics, with the
deployment's prefix), and what each topic needs when it is created: partitions, replication,
compaction for ``consent``, retention for purpose topics (the purpose's retention, P16).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.events import KINDS
from pipeline.policy import Policy
from pipeline.settings import StreamSettings

MS_PER_S = 1000


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Every topic a worker reads or writes.

    Attributes:
        raw: event kind -> raw input topic.
        consent: the compacted consent topic.
        purposes: purpose -> its minimized output topic.
        audit: the audit topic.
        deadletter: the restricted dead-letter topic.
    """

    raw: Mapping[str, str]
    consent: str
    purposes: Mapping[str, str]
    audit: str
    deadletter: str

    @classmethod
    def build(cls, settings: StreamSettings, policy: Policy) -> TopicNames:
        """Derive the names from the settings and the policy's purpose topics."""
        raw = {
            "log": settings.topic(settings.topic_log),
            "communication": settings.topic(settings.topic_communication),
            "media_upload": settings.topic(settings.topic_media_upload),
        }
        assert set(raw) == set(KINDS)  # a new kind must get a topic here  # noqa: S101
        purposes = {name: settings.topic(p.topic) for name, p in policy.purposes.items()}
        return cls(
            raw=MappingProxyType(raw),
            consent=settings.topic(settings.topic_consent),
            purposes=MappingProxyType(purposes),
            audit=settings.topic(settings.topic_audit),
            deadletter=settings.topic(settings.topic_deadletter),
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        """The raw topics, which must be co-partitioned with :attr:`consent`."""
        return tuple(self.raw.values())

    def kind_of(self, topic: str) -> str | None:
        """The event kind a raw topic carries, or None for another topic."""
        for kind, name in self.raw.items():
            if name == topic:
                return kind
        return None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How one topic is created.

    Attributes:
        name: the topic name.
        partitions: partition count.
        replication: replication factor.
        config: topic-level configuration (``cleanup.policy``, ``retention.ms``...).
    """

    name: str
    partitions: int
    replication: int
    config: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


def topic_specs(settings: StreamSettings, policy: Policy) -> list[TopicSpec]:
    """The topics ``veil topics create`` makes, in a stable order.

    Raw and consent topics get ``settings.partitions`` (co-partitioned, DESIGN.md Consent);
    ``consent`` is compacted (the latest record per user is the truth); each purpose topic
    keeps records as long as its purpose's retention; the dead-letter topic keeps raw data for
    7 days only, long enough to inspect and replay, no longer.
    """
    names = TopicNames.build(settings, policy)
    n, rf = settings.partitions, settings.replication
    specs = [TopicSpec(t, n, rf) for t in names.inputs]
    specs.append(
        TopicSpec(
            names.consent,
            n,
            rf,
            MappingProxyType({"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        )
    )
    for purpose, topic in names.purposes.items():
        retention_ms = int(policy.purposes[purpose].retention.total_seconds() * MS_PER_S)
        specs.append(TopicSpec(topic, n, rf, MappingProxyType({"retention.ms": str(retention_ms)})))
    specs.append(TopicSpec(names.audit, n, rf))
    week_ms = 7 * 24 * 3600 * MS_PER_S
    specs.append(
        TopicSpec(names.deadletter, n, rf, MappingProxyType({"retention.ms": str(week_ms)}))
    )
    return specs


__all__ = ["TopicNames", "TopicSpec", "topic_specs"]
