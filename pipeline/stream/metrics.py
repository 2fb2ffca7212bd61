"""Prometheus metrics of the streaming worker (served on ``/metrics``).

A registry of its own (not the process-global one) so that tests and several apps in one
process do not collide. Labels are purposes, reasons, kinds and entity types: never values.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

# Processing time of one record: tens of microseconds to tens of milliseconds (scanning).
_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5)
# Kafka timestamp of the input to the moment the worker picks it up.
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class StreamMetrics:
    """The worker's counters and histograms.

    Attributes:
        registry: the registry ``/metrics`` renders.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.records_in = Counter(
            "veil_stream_records_in", "Raw records read, per event kind topic", ["kind"], registry=r
        )
        self.records_out = Counter(
            "veil_stream_records_out",
            "Minimized records produced, per purpose",
            ["purpose"],
            registry=r,
        )
        self.withheld = Counter(
            "veil_stream_records_withheld",
            "Records a purpose may not receive (consent, retention), per purpose and reason",
            ["purpose", "reason"],
            registry=r,
        )
        self.deadlettered = Counter(
            "veil_stream_deadlettered",
            "Records refused to the dead-letter topic, per reason",
            ["reason"],
            registry=r,
        )
        self.entities = Counter(
            "veil_stream_entities",
            "PII entities acted on in free text, per entity type",
            ["entity_type"],
            registry=r,
        )
        self.consent_updates = Counter(
            "veil_stream_consent_updates",
            "Consent records applied to the table, per result",
            ["result"],
            registry=r,
        )
        self.processing_seconds = Histogram(
            "veil_stream_processing_seconds",
            "Time to minimize one record for every purpose",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.input_lag_seconds = Histogram(
            "veil_stream_input_lag_seconds",
            "From the input record's Kafka timestamp to the worker picking it up",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.up = Gauge("veil_stream_up", "1 while the worker runs its agents", registry=r)
        # Where a worker's CPU goes: the minimizer core, the rest of the per-record work,
        # handing records to the producer; with process_cpu_seconds_total the remainder is
        # Faust and the Kafka client (see benchmarks/stream.py). CPU, not wall time, so that
        # a loaded machine does not inflate the sections.
        self.section_seconds = Counter(
            "veil_stream_section_seconds",
            "CPU time (process_time) per section of the worker: minimize (the core, all "
            "purposes), process (parse, minimize, encode), produce (handing outputs to the "
            "producer)",
            ["section"],
            registry=r,
        )
        self.minimize_seconds = self.section_seconds.labels(section="minimize")
        self.process_seconds = self.section_seconds.labels(section="process")
        self.produce_seconds = self.section_seconds.labels(section="produce")
        ProcessCollector(registry=r)  # process_cpu_seconds_total and friends

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


__all__ = ["StreamMetrics"]
