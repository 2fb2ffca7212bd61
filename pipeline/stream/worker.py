"""Run the streaming worker: check the topic layout, build the app, run it until stopped."""

from __future__ import annotations

import logging

import faust

from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.settings import StreamSettings
from pipeline.stream.admin import check_topics
from pipeline.stream.app import StreamApp, create_app
from pipeline.stream.topics import TopicNames

log = logging.getLogger(__name__)


def prepare(settings: StreamSettings, policy: Policy, keys: PseudonymKeys) -> StreamApp:
    """Check the topics (co-partitioning) and build the app.

    Raises:
        ConfigError: topics missing or not co-partitioned, or Kafka unreachable.
    """
    names = TopicNames.build(settings, policy)
    # Faust keeps its table state here and does not create parent directories itself.
    (settings.data_dir / settings.app_id).mkdir(parents=True, exist_ok=True)
    partitions = check_topics(settings, names)
    log.info(
        "worker %s: %d partitions, inputs %s, %d purpose topics, guarantee %s",
        settings.app_id,
        partitions,
        ", ".join(names.inputs),
        len(names.purposes),
        settings.processing_guarantee,
    )
    return create_app(settings, policy, keys, partitions=partitions)


def run_worker(stream_app: StreamApp, *, loglevel: str = "WARNING") -> int:
    """Run the app's Faust worker until SIGTERM/SIGINT; return the process exit code."""
    worker = faust.Worker(
        stream_app.app,
        loglevel=loglevel,
        quiet=True,
        redirect_stdouts=False,
        override_logging=False,  # keep the CLI's log format (no PII in it)
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else 1
    return 0


__all__ = ["prepare", "run_worker"]
