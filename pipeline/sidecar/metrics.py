"""Prometheus metrics of one sidecar, in its own registry (no global state between apps).

Labels are closed sets chosen by the sidecar (endpoint names, status codes, error codes,
media types, removal categories), never paths, user ids or anything taken from a request.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# Buckets in seconds: the proxy's own overhead is sub-millisecond to tens of milliseconds.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class SidecarMetrics:
    """The sidecar's counters and histograms.

    Attributes:
        registry: the registry ``/metrics`` renders.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "veil_sidecar_requests",
            "Requests answered, by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "veil_sidecar_request_seconds",
            "Time from request start to response, by endpoint.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "veil_sidecar_refused",
            "Requests refused and never forwarded, by error code.",
            ["code"],
            registry=self.registry,
        )
        self.media_stripped = Counter(
            "veil_sidecar_media_stripped",
            "Media bodies or parts stripped, by detected media type.",
            ["media_type"],
            registry=self.registry,
        )
        self.removed = Counter(
            "veil_sidecar_removed",
            "Stripped media that had metadata of a category removed.",
            ["category"],
            registry=self.registry,
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

        self.proxy_path = Counter(
            "veil_sidecar_proxy_path",
            "Proxy mode: requests served on the upload fast path ('fast'), and connections "
            "handed to aiohttp's server ('aiohttp': admin, multipart, non-media, unusual), "
            "which then serves every later request on them.",
            ["path"],
            registry=self.registry,
        )

        # Labelled children by label values: ``labels()`` validates and hashes its
        # arguments under a lock on every call; the label sets are small and closed, so the
        # children are looked up once and kept (at most a few hundred: endpoints x status).
        self._request_children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._stripped_children: dict[str, Counter] = {}
        self._removed_children: dict[str, Counter] = {}
        self._path_children: dict[str, Counter] = {}

    def request_done(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered request and observe its latency."""
        children = self._request_children.get((endpoint, status))
        if children is None:
            children = (self.requests.labels(endpoint, str(status)), self.latency.labels(endpoint))
            self._request_children[(endpoint, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def stripped(self, media_type: str, categories: Iterable[str]) -> None:
        """Count one stripped body or part and the categories it had removed."""
        child = self._stripped_children.get(media_type)
        if child is None:
            child = self._stripped_children[media_type] = self.media_stripped.labels(media_type)
        child.inc()
        for category in categories:
            removed = self._removed_children.get(category)
            if removed is None:
                removed = self._removed_children[category] = self.removed.labels(category)
            removed.inc()

    def front_path(self, path: str) -> None:
        """Count a request served on the fast path (``fast``) or a connection handed to
        aiohttp (``aiohttp``)."""
        child = self._path_children.get(path)
        if child is None:
            child = self._path_children[path] = self.proxy_path.labels(path)
        child.inc()

    def render(self) -> bytes:
        """Return the text exposition of every metric."""
        return generate_latest(self.registry)
