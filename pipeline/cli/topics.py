"""``veil topics``: create the topics Veil reads and writes (kafka-python admin client).

``veil topics create`` makes the raw topics and the compacted consent topic with the same
partition count (co-partitioning), one topic per policy purpose with the purpose's retention,
the audit topic and the restricted dead-letter topic. Existing topics are left alone.
``veil topics check`` runs the worker's start-up check without starting a worker.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipeline.errors import ConfigError, PolicyError

EXIT_OK, EXIT_USAGE = 0, 2


def add_parser(subparsers: Any) -> None:
    """Register ``veil topics``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "topics", help="create or check the Kafka topics of the streaming pipeline"
    )
    sub = p.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    for name, text in (
        ("create", "create every missing topic (idempotent)"),
        ("check", "check that every topic exists and raw topics are co-partitioned"),
    ):
        q = sub.add_parser(name, help=text, description=text)
        q.add_argument("--bootstrap", help="Kafka brokers (env VEIL_KAFKA_BOOTSTRAP)")
        q.add_argument("--topic-prefix", help="prefix of every topic (env VEIL_TOPIC_PREFIX)")
        q.add_argument("--policy", help="policy YAML (env VEIL_POLICY)")
        if name == "create":
            q.add_argument(
                "--partitions", type=int, help="raw/consent partitions (env VEIL_PARTITIONS; 4)"
            )
            q.add_argument(
                "--replication", type=int, help="replication factor (env VEIL_REPLICATION; 1)"
            )
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Create or check topics; 2 on a configuration or cluster error."""
    from pipeline.policy import load_policy
    from pipeline.settings import load_settings
    from pipeline.stream.admin import check_topics, create_topics
    from pipeline.stream.topics import TopicNames, topic_specs

    try:
        settings = load_settings(
            kafka_bootstrap=args.bootstrap,
            topic_prefix=args.topic_prefix,
            policy=args.policy,
            partitions=getattr(args, "partitions", None),
            replication=getattr(args, "replication", None),
        )
        policy = load_policy(settings.policy)
        if args.topics_command == "create":
            result = create_topics(settings, topic_specs(settings, policy))
            for name in result.created:
                print(f"created  {name}")
            for name in result.existing:
                print(f"exists   {name}")
            print(f"topics: {len(result.created)} created, {len(result.existing)} existed")
        partitions = check_topics(settings, TopicNames.build(settings, policy))
        print(f"topics: ok ({partitions} partitions, raw topics co-partitioned with consent)")
    except (ConfigError, PolicyError) as exc:
        print(f"veil topics: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
