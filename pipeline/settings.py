"""Deployment settings of the streaming worker and the topic tools (``VEIL_*`` environment).

Every setting is declared once here with its type, default and environment variable
(``VEIL_<NAME>``, e.g. ``VEIL_KAFKA_BOOTSTRAP``); CLI flags only override them. The object is
frozen and validated once at start-up: a bad value is a :class:`~pipeline.errors.ConfigError`
naming the variable, never its value (a password could be in it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError

ENV_PREFIX = "VEIL_"
MiB = 1024 * 1024


class StreamSettings(BaseSettings):
    """Settings of ``veil worker``, ``veil topics`` and the Kafka replay.

    Attributes:
        kafka_bootstrap: comma-separated ``host:port`` list of Kafka brokers.
        app_id: Faust application id; also the consumer group id and the prefix of the
            worker's internal topics (table changelog). Workers with the same id share work.
        topic_prefix: prepended to every topic name below and to the policy's purpose topics
            (environments sharing one cluster; tests give each test its own prefix).
        topic_log, topic_communication, topic_media_upload: the raw input topics.
        topic_consent: the compacted consent topic (key ``user_id``).
        topic_audit: audit entries (never values).
        topic_deadletter: refused records with their raw bytes. Restricted: named as such so
            that ACLs and humans can tell it apart from purpose topics.
        partitions: partitions of the raw and consent topics (they must be equal:
            co-partitioning, checked at start-up).
        replication: replication factor for ``veil topics create``.
        processing_guarantee: ``at_least_once`` (offsets committed after outputs are
            acknowledged) or ``exactly_once`` (Kafka transactions).
        commit_interval: seconds between offset commits.
        session_timeout: seconds without heartbeat after which the group gives a dead
            worker's partitions to the others (failover time after a crash).
        standby_replicas: Faust standby replicas of the consent table.
        web_host, web_port: where ``/metrics`` and ``/health`` are served.
        max_message_bytes: raw records larger than this are dead-lettered as ``too_large``
            before they are parsed.
        policy: policy file; None means ``VEIL_POLICY`` or ``config/policy.yaml``.
        data_dir: the worker's local state directory (Faust's datadir).
        security_protocol, sasl_mechanism, sasl_username, sasl_password: Kafka client
            security; the password is a secret and never printed.
        stream_buffer_maxsize: Faust's per-stream prefetch (back pressure).
        producer_linger: seconds the producer waits to fill a batch. Every input becomes up
            to one record per purpose plus an audit record, so batching the produce
            requests matters more than the few milliseconds it adds to latency.
        producer_max_batch_size: bytes per producer batch (per partition).
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", validate_default=True
    )

    kafka_bootstrap: str = "127.0.0.1:9092"
    app_id: str = "veil"
    topic_prefix: str = ""
    topic_log: str = "raw.log"
    topic_communication: str = "raw.communication"
    topic_media_upload: str = "raw.media_upload"
    topic_consent: str = "consent"
    topic_audit: str = "veil.audit"
    topic_deadletter: str = "veil.restricted.deadletter"
    partitions: int = Field(default=4, ge=1, le=10_000)
    replication: int = Field(default=1, ge=1, le=32)
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    commit_interval: float = Field(default=1.0, gt=0, le=600)
    session_timeout: float = Field(default=30.0, ge=6, le=3600)
    standby_replicas: int = Field(default=0, ge=0, le=8)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=0, le=65535)
    max_message_bytes: int = Field(default=1 * MiB, ge=1024, le=64 * MiB)
    policy: Path | None = None
    data_dir: Path = Path(".veil")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    stream_buffer_maxsize: int = Field(default=4096, ge=1, le=1_000_000)
    producer_linger: float = Field(default=0.005, ge=0, le=1.0)
    producer_max_batch_size: int = Field(default=256 * 1024, ge=1024, le=16 * MiB)

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or any(":" not in s for s in servers):
            msg = "expected a comma-separated list of host:port"
            raise ValueError(msg)
        return ",".join(servers)

    @field_validator(
        "app_id",
        "topic_log",
        "topic_communication",
        "topic_media_upload",
        "topic_consent",
        "topic_audit",
        "topic_deadletter",
    )
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or len(value) > 200 or not all(c.isalnum() or c in "._-" for c in value):
            msg = "expected 1 to 200 characters of letters, digits, '.', '_' or '-'"
            raise ValueError(msg)
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not all(c.isalnum() or c in "._-" for c in value):
            msg = "expected letters, digits, '.', '_' or '-'"
            raise ValueError(msg)
        return value

    @property
    def bootstrap_servers(self) -> list[str]:
        """The bootstrap servers as a list."""
        return self.kafka_bootstrap.split(",")

    def topic(self, name: str) -> str:
        """``name`` with :attr:`topic_prefix` applied."""
        return f"{self.topic_prefix}{name}"

    def kafka_python_security(self) -> dict[str, Any]:
        """Security options in kafka-python's (and aiokafka's) keyword names."""
        opts: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism is not None:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return opts


def load_settings(**overrides: Any) -> StreamSettings:
    """Read :class:`StreamSettings` from the environment, with ``overrides`` from the CLI.

    ``None`` overrides are ignored, so an unset CLI flag keeps the environment's value.

    Raises:
        ConfigError: a setting is invalid; the message names the variable, not the value.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return StreamSettings(**given)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        )
        msg = f"invalid settings: {problems}"
        raise ConfigError(msg) from None


__all__ = ["ENV_PREFIX", "StreamSettings", "load_settings"]
