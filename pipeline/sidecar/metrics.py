"""Prometheus metrics of one sidecar, in its own registry (no global state between apps).

Labels are closed sets chosen by the sidecar (endpoint names, status codes, error codes,
media types, removal categories), never paths, user ids or anything taken from a request.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.metrics_core import Metric

# Buckets in seconds: the proxy's own overhead is sub-millisecond to tens of milliseconds.
_LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)


class PlainCounter:
    """A labelled counter family kept as plain integers and read when ``/metrics`` is scraped.

    prometheus_client's children take a lock on every increment; the sidecar counts several
    things per upload from its event loop thread, which is the only thread that updates
    these (workers are processes, each with its own registry). The exposition is the same as
    a prometheus_client ``Counter``'s: ``<name>_total`` and ``<name>_created`` per label set.
    """

    def __init__(
        self, name: str, documentation: str, labels: tuple[str, ...], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = labels
        self._values: dict[tuple[str, ...], int] = {}
        self._created: dict[tuple[str, ...], float] = {}
        registry.register(self)

    def inc(self, key: tuple[str, ...]) -> None:
        """Add one to the series of label values ``key`` (in the order of ``labels``)."""
        value = self._values.get(key)
        if value is None:
            self._created[key] = time.time()
            value = 0
        self._values[key] = value + 1

    def describe(self) -> list[Metric]:
        """The family without samples (the registry checks names with it)."""
        return [Metric(self.name, self.documentation, "counter")]

    def collect(self) -> list[Metric]:
        """The family with one ``_total`` and one ``_created`` sample per label set."""
        family = Metric(self.name, self.documentation, "counter")
        for key, value in list(self._values.items()):
            labels = dict(zip(self.labels, key, strict=True))
            family.add_sample(self.name + "_total", labels, float(value))
            family.add_sample(self.name + "_created", labels, self._created[key])
        return [family]


class PlainHistogram:
    """A histogram family with one label, kept as plain numbers (see :class:`PlainCounter`).

    The exposition is a prometheus_client ``Histogram``'s: cumulative ``_bucket`` samples
    with ``le``, ``_count``, ``_sum`` and ``_created``.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        label: str,
        buckets: tuple[float, ...],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.label = label
        self.buckets = buckets
        # The le values as prometheus_client writes them (its floatToGoString: repr of the
        # float for bounds like these, "1.0", "2.5", "30.0").
        self._bounds = [repr(float(b)) for b in buckets] + ["+Inf"]
        # Per label value: observations per bucket (not cumulative; the last is +Inf).
        self._counts: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}
        self._created: dict[str, float] = {}
        registry.register(self)

    def observe(self, value: str, amount: float) -> None:
        """Record ``amount`` for the series whose label is ``value``."""
        counts = self._counts.get(value)
        if counts is None:
            counts = self._counts[value] = [0] * (len(self.buckets) + 1)
            self._sums[value] = 0.0
            self._created[value] = time.time()
        # The first bucket whose upper bound is >= amount (le is inclusive).
        counts[bisect.bisect_left(self.buckets, amount)] += 1
        self._sums[value] += amount

    def describe(self) -> list[Metric]:
        """The family without samples (the registry checks names with it)."""
        return [Metric(self.name, self.documentation, "histogram")]

    def collect(self) -> list[Metric]:
        """The family with its bucket, count, sum and created samples per label value."""
        family = Metric(self.name, self.documentation, "histogram")
        for value, counts in list(self._counts.items()):
            total = 0
            for bound, count in zip(self._bounds, counts, strict=True):
                total += count
                family.add_sample(
                    self.name + "_bucket", {self.label: value, "le": bound}, float(total)
                )
            family.add_sample(self.name + "_count", {self.label: value}, float(total))
            family.add_sample(self.name + "_sum", {self.label: value}, self._sums[value])
            family.add_sample(self.name + "_created", {self.label: value}, self._created[value])
        return [family]


class SidecarMetrics:
    """The sidecar's counters and histograms.

    The ones counted for every request (requests, latency, media stripped, removals, proxy
    path) are :class:`PlainCounter` and :class:`PlainHistogram`; the rest are
    prometheus_client counters.

    Attributes:
        registry: the registry ``/metrics`` renders.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = PlainCounter(
            "veil_sidecar_requests",
            "Requests answered, by endpoint and status code.",
            ("endpoint", "status"),
            self.registry,
        )
        self.latency = PlainHistogram(
            "veil_sidecar_request_seconds",
            "Time from request start to response, by endpoint.",
            "endpoint",
            _LATENCY_BUCKETS,
            self.registry,
        )
        self.refused = Counter(
            "veil_sidecar_refused",
            "Requests refused and never forwarded, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.media_stripped = PlainCounter(
            "veil_sidecar_media_stripped",
            "Media bodies or parts stripped, by detected media type.",
            ("media_type",),
            self.registry,
        )
        self.removed = PlainCounter(
            "veil_sidecar_removed",
            "Stripped media that had metadata of a category removed.",
            ("category",),
            self.registry,
        )
        self.records = Counter(
            "veil_sidecar_records",
            "Events handled by /v1/minimize, by purpose and outcome.",
            ["purpose", "outcome"],
            registry=self.registry,
        )
        self.dead_lettered = Counter(
            "veil_sidecar_dead_lettered",
            "Events refused by /v1/minimize, by reason code.",
            ["reason"],
            registry=self.registry,
        )
        self.proxy_path = PlainCounter(
            "veil_sidecar_proxy_path",
            "Proxy mode: requests served on the upload fast path ('fast'), and connections "
            "handed to aiohttp's server ('aiohttp': admin, multipart, non-media, unusual), "
            "which then serves every later request on them.",
            ("path",),
            self.registry,
        )
        # Label tuples by value, so that the per-request calls build none.
        self._request_keys: dict[tuple[str, int], tuple[str, str]] = {}

    def request_done(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        key = self._request_keys.get((endpoint, status))
        if key is None:
            key = self._request_keys[(endpoint, status)] = (endpoint, str(status))
        self.requests.inc(key)
        self.latency.observe(endpoint, seconds)

    def stripped(self, media_type: str, categories: Iterable[str]) -> None:
        """Count one stripped body or part and the categories it had removed."""
        self.media_stripped.inc((media_type,))
        for category in categories:
            self.removed.inc((category,))

    def front_path(self, path: str) -> None:
        """Count a request served on the fast path (``fast``) or a connection handed to
        aiohttp (``aiohttp``)."""
        self.proxy_path.inc((path,))

    def render(self) -> bytes:
        """Return the text exposition of every metric."""
        return generate_latest(self.registry)
