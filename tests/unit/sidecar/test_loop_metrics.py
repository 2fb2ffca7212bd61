"""The event loop choice (uvloop optional) and the cached metric children."""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType

import pytest
from prometheus_client import generate_latest
from pydantic import ValidationError

from pipeline.errors import ConfigError
from pipeline.sidecar.metrics import SidecarMetrics
from pipeline.sidecar.server import loop_factory
from pipeline.sidecar.settings import SidecarSettings


def _without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> ModuleType:
        if name == "uvloop":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)


def test_asyncio_never_uses_uvloop() -> None:
    assert loop_factory("asyncio") is None


def test_auto_uses_uvloop_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    factory = loop_factory("auto")
    assert factory is uvloop.new_event_loop
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
        assert loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
    finally:
        loop.close()


@pytest.mark.parametrize(("choice", "falls_back"), [("auto", True), ("uvloop", False)])
def test_without_uvloop(monkeypatch: pytest.MonkeyPatch, choice: str, falls_back: bool) -> None:
    _without_uvloop(monkeypatch)
    if falls_back:
        assert loop_factory(choice) is None
    else:
        with pytest.raises(ConfigError, match="uvloop package is not installed"):
            loop_factory(choice)


@pytest.mark.parametrize(
    ("value", "ok"), [("auto", True), ("uvloop", True), ("asyncio", True), ("trio", False)]
)
def test_event_loop_setting(monkeypatch: pytest.MonkeyPatch, value: str, ok: bool) -> None:
    monkeypatch.setenv("VEIL_SIDECAR_EVENT_LOOP", value)
    if ok:
        assert SidecarSettings().event_loop == value
    else:
        with pytest.raises(ValidationError):
            SidecarSettings()


def _sample(metrics: SidecarMetrics, name: str, labels: dict[str, str]) -> float | None:
    value = metrics.registry.get_sample_value(name, labels)
    return None if value is None else float(value)


def test_request_done_counts_per_label_set() -> None:
    metrics = SidecarMetrics()
    for endpoint, status, seconds in [
        ("proxy", 200, 0.002),
        ("proxy", 200, 0.004),
        ("proxy", 415, 0.001),
        ("strip", 200, 0.03),
    ]:
        metrics.request_done(endpoint, status, seconds)
    requests = "veil_sidecar_requests_total"
    assert _sample(metrics, requests, {"endpoint": "proxy", "status": "200"}) == 2
    assert _sample(metrics, requests, {"endpoint": "proxy", "status": "415"}) == 1
    assert _sample(metrics, requests, {"endpoint": "strip", "status": "200"}) == 1
    assert _sample(metrics, requests, {"endpoint": "strip", "status": "415"}) is None
    latency = "veil_sidecar_request_seconds_count"
    assert _sample(metrics, latency, {"endpoint": "proxy"}) == 3
    total = _sample(metrics, "veil_sidecar_request_seconds_sum", {"endpoint": "proxy"})
    assert total == pytest.approx(0.007)


def test_stripped_counts_type_and_categories() -> None:
    metrics = SidecarMetrics()
    metrics.stripped("image/jpeg", ("location", "serial"))
    metrics.stripped("image/jpeg", ("location",))
    metrics.stripped("image/png", ())
    media = "veil_sidecar_media_stripped_total"
    assert _sample(metrics, media, {"media_type": "image/jpeg"}) == 2
    assert _sample(metrics, media, {"media_type": "image/png"}) == 1
    removed = "veil_sidecar_removed_total"
    assert _sample(metrics, removed, {"category": "location"}) == 2
    assert _sample(metrics, removed, {"category": "serial"}) == 1
    assert _sample(metrics, removed, {"category": "owner"}) is None
    assert b"veil_sidecar_removed_total" in generate_latest(metrics.registry)


def test_plain_metrics_expose_what_prometheus_client_would() -> None:
    # The per-request metrics are plain numbers read at scrape time; their text must be
    # the library's, bucket edges included (le is inclusive).
    import random
    import re

    from prometheus_client import CollectorRegistry, Counter, Histogram

    from pipeline.sidecar.metrics import _LATENCY_BUCKETS

    ours = SidecarMetrics()
    registry = CollectorRegistry(auto_describe=True)
    requests = Counter("veil_sidecar_requests", "r", ["endpoint", "status"], registry=registry)
    latency = Histogram(
        "veil_sidecar_request_seconds", "l", ["endpoint"], buckets=_LATENCY_BUCKETS,
        registry=registry,
    )  # fmt: skip
    rng = random.Random(7)
    edges = [*_LATENCY_BUCKETS, 0.0, 31.0, 1e-9]
    for _ in range(500):
        endpoint = rng.choice(["proxy", "strip", "minimize"])
        status = rng.choice([200, 413, 415, 502])
        seconds = rng.choice(edges) if rng.random() < 0.3 else rng.uniform(0, 40)
        ours.request_done(endpoint, status, seconds)
        requests.labels(endpoint, str(status)).inc()
        latency.labels(endpoint).observe(seconds)

    def samples(text: bytes, names: tuple[str, ...]) -> list[str]:
        lines = text.decode().splitlines()
        kept = [line for line in lines if line.startswith(names)]
        # Creation times differ; sums are compared as numbers (same additions, same order).
        return sorted(re.sub(r"_created(\{.*\}) .*", r"_created\1", line) for line in kept)

    names = ("veil_sidecar_requests_", "veil_sidecar_request_seconds_")
    assert samples(ours.render(), names) == samples(generate_latest(registry), names)
