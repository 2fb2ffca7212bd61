"""Topic naming, topic specs and the VEIL_* settings."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.policy import load_policy
from pipeline.settings import StreamSettings, load_settings
from pipeline.stream.topics import TopicNames, topic_specs


@pytest.fixture(scope="module")
def policy():  # type: ignore[no-untyped-def]
    return load_policy()


def test_names_follow_settings_prefix_and_policy(policy) -> None:  # type: ignore[no-untyped-def]
    settings = StreamSettings(topic_prefix="dev.", topic_log="logs")
    names = TopicNames.build(settings, policy)
    assert names.raw["log"] == "dev.logs"
    assert names.consent == "dev.consent"
    assert names.deadletter == "dev.veil.restricted.deadletter"
    assert "restricted" in names.deadletter
    assert set(names.purposes) == set(policy.purposes)
    assert all(t == f"dev.{policy.purposes[p].topic}" for p, t in names.purposes.items())
    assert names.kind_of("dev.logs") == "log"
    assert names.kind_of("dev.veil.audit") is None


def test_specs_copartition_compact_consent_and_retention(policy) -> None:  # type: ignore[no-untyped-def]
    settings = StreamSettings(partitions=6, replication=1)
    specs = {s.name: s for s in topic_specs(settings, policy)}
    names = TopicNames.build(settings, policy)
    assert {specs[t].partitions for t in [*names.inputs, names.consent]} == {6}
    assert specs[names.consent].config["cleanup.policy"] == "compact"
    assert "cleanup.policy" not in specs[names.raw["log"]].config
    for purpose, topic in names.purposes.items():
        days = policy.purposes[purpose].retention.days
        assert specs[topic].config["retention.ms"] == str(days * 24 * 3600 * 1000)


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEIL_KAFKA_BOOTSTRAP", "a:1, b:2")
    monkeypatch.setenv("VEIL_PROCESSING_GUARANTEE", "exactly_once")
    monkeypatch.setenv("VEIL_SASL_PASSWORD", "hunter2")
    s = load_settings(app_id="x")
    assert s.bootstrap_servers == ["a:1", "b:2"]
    assert s.processing_guarantee == "exactly_once"
    assert s.app_id == "x"
    assert "hunter2" not in repr(s)
    with pytest.raises(Exception):  # noqa: B017  # frozen
        s.app_id = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("VEIL_KAFKA_BOOTSTRAP", "no-port"),
        ("VEIL_PROCESSING_GUARANTEE", "maybe_once"),
        ("VEIL_PARTITIONS", "0"),
        ("VEIL_TOPIC_LOG", "bad topic!"),
        ("VEIL_WEB_PORT", "70000"),
        ("VEIL_PRODUCER_LINGER", "-0.5"),
        ("VEIL_PRODUCER_LINGER", "2.5"),
        ("VEIL_PRODUCER_MAX_BATCH_SIZE", "512"),
    ],
)
def test_bad_settings_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert env in str(info.value)
    assert value not in str(info.value)


def test_producer_settings_reach_faust(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.stream.app import faust_options

    assert faust_options(load_settings())["producer_linger"] == 0.005  # the default
    monkeypatch.setenv("VEIL_PRODUCER_LINGER", "0.02")
    monkeypatch.setenv("VEIL_PRODUCER_MAX_BATCH_SIZE", "65536")
    opts = faust_options(load_settings())
    assert (opts["producer_linger"], opts["producer_max_batch_size"]) == (0.02, 65536)
