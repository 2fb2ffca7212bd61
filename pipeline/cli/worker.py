"""``veil worker``: run one streaming worker (a member of the ``VEIL_APP_ID`` consumer group).

Flags override the ``VEIL_*`` environment (:class:`pipeline.settings.StreamSettings`). The
command loads the policy and pseudonym keys, checks the topic layout (co-partitioning) and
runs the Faust worker until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pipeline.errors import ConfigError, PolicyError

log = logging.getLogger(__name__)
EXIT_USAGE = 2


def add_parser(subparsers: Any) -> None:
    """Register ``veil worker``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="streaming worker: raw Kafka topics in, one minimized topic per purpose out",
        description=(
            "Consume the raw log/communication/media_upload topics and the consent topic, "
            "and produce one minimized topic per policy purpose, an audit topic and a "
            "restricted dead-letter topic. Serves /metrics and /health on the web port. "
            "Pseudonym keys come from VEIL_PSEUDONYM_KEY[_<PURPOSE>] or VEIL_PSEUDONYM_KEY_FILE."
        ),
    )
    p.add_argument("--bootstrap", help="Kafka brokers host:port,... (env VEIL_KAFKA_BOOTSTRAP)")
    p.add_argument("--app-id", help="consumer group / app id (env VEIL_APP_ID; default veil)")
    p.add_argument("--topic-prefix", help="prefix of every topic name (env VEIL_TOPIC_PREFIX)")
    p.add_argument(
        "--processing-guarantee",
        choices=("at_least_once", "exactly_once"),
        help="env VEIL_PROCESSING_GUARANTEE; default at_least_once",
    )
    p.add_argument("--web-port", type=int, help="/metrics and /health port (env VEIL_WEB_PORT)")
    p.add_argument("--web-host", help="bind address of the web port (env VEIL_WEB_HOST)")
    p.add_argument("--policy", help="policy YAML (env VEIL_POLICY; default config/policy.yaml)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Run the worker; 2 on a configuration, policy or topic-layout error."""
    from pipeline.policy import load_policy
    from pipeline.pseudonym import PseudonymKeys
    from pipeline.settings import load_settings
    from pipeline.stream.worker import prepare, run_worker

    try:
        settings = load_settings(
            kafka_bootstrap=args.bootstrap,
            app_id=args.app_id,
            topic_prefix=args.topic_prefix,
            processing_guarantee=args.processing_guarantee,
            web_port=args.web_port,
            web_host=args.web_host,
            policy=args.policy,
        )
        policy = load_policy(settings.policy)
        keys = PseudonymKeys.from_env()
        stream_app = prepare(settings, policy, keys)
    except (ConfigError, PolicyError) as exc:
        print(f"veil worker: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_worker(stream_app, loglevel=logging.getLevelName(logging.getLogger().level))
