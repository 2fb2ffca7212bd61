"""The Faust application: raw topics in, one minimized topic per purpose out.

Two agents:

- ``consent``: reads the compacted consent topic and materializes it as the Faust table
  ``consent`` (user_id -> granted keys), whose changelog lets a restarted or rebalanced
  worker recover it. Bad consent records are dead-lettered.
- ``minimize``: reads the raw ``log``, ``communication`` and ``media_upload`` topics, looks up
  the user's consent in the table (local: the topics are co-partitioned with ``consent``),
  runs :class:`~pipeline.stream.processor.EventProcessor` and produces its output records.

Guarantees (DESIGN.md): at-least-once by default: outputs are handed to the producer before
the input is acknowledged, and Faust flushes the producer before it commits offsets, so a
killed worker's uncommitted inputs are processed again by the next owner. Exactly-once:
outputs are produced with the transactional producer of the input's partition, and Faust
commits the input offsets in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import faust
from faust.exceptions import ProducerSendError
from faust.types import StreamT
from prometheus_client import CONTENT_TYPE_LATEST

from pipeline.deadletter import DeadLetter
from pipeline.errors import RecordError
from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from pipeline.settings import StreamSettings
from pipeline.stream import codecs
from pipeline.stream.metrics import StreamMetrics
from pipeline.stream.processor import EventProcessor, OutRecord, Source
from pipeline.stream.topics import TopicNames

log = logging.getLogger(__name__)

TABLE_NAME = "consent"


@dataclass(frozen=True, slots=True)
class StreamApp:
    """A configured worker application.

    Attributes:
        app: the Faust app (run it with :func:`pipeline.stream.worker.run_worker`).
        names: the topics it reads and writes.
        processor: the per-record logic.
        metrics: what ``/metrics`` serves.
        table: the consent table.
    """

    app: faust.App
    names: TopicNames
    processor: EventProcessor
    metrics: StreamMetrics
    table: Any


def _broker_credentials(settings: StreamSettings) -> Any:
    if settings.sasl_mechanism is None:
        if settings.security_protocol == "SSL":
            import ssl

            return faust.SSLCredentials(ssl.create_default_context())
        return None
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    return faust.SASLCredentials(
        username=settings.sasl_username or "",
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=None
        if settings.security_protocol == "SASL_PLAINTEXT"
        else __import__("ssl").create_default_context(),
    )


def faust_options(settings: StreamSettings) -> dict[str, Any]:
    """The Faust settings of the worker that are not about Veil's own topics and tables.

    Shared with the benchmark's pass-through agent, so that both run the same consumer,
    producer and commit configuration.
    """
    return {
        "processing_guarantee": settings.processing_guarantee,
        "broker_commit_interval": settings.commit_interval,
        "broker_session_timeout": settings.session_timeout,
        "stream_buffer_maxsize": settings.stream_buffer_maxsize,
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "producer_linger": settings.producer_linger,
        "producer_max_batch_size": settings.producer_max_batch_size,
        "worker_redirect_stdouts": False,
    }


def create_app(
    settings: StreamSettings,
    policy: Policy,
    keys: PseudonymKeys,
    *,
    partitions: int,
    metrics: StreamMetrics | None = None,
) -> StreamApp:
    """Build the worker's Faust app.

    Args:
        settings: deployment settings.
        policy: the validated policy (its purposes decide the output topics).
        keys: pseudonym keys; every worker of one ``app_id`` must use the same keys.
        partitions: the partition count of the raw and consent topics, as checked by
            :func:`pipeline.stream.check.check_topics`; the consent table gets the same.
        metrics: the metrics to update (a fresh set by default).
    """
    metrics = metrics or StreamMetrics()
    names = TopicNames.build(settings, policy)
    processor = EventProcessor(
        policy=policy,
        names=names,
        keys=keys,
        metrics=metrics,
        max_message_bytes=settings.max_message_bytes,
    )
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{s}" for s in settings.bootstrap_servers],
        broker_credentials=_broker_credentials(settings),
        store="memory://",
        autodiscover=False,
        table_standby_replicas=settings.standby_replicas,
        topic_partitions=partitions,
        topic_replication_factor=settings.replication,
        web_enabled=True,
        web_host=settings.web_host,
        web_port=settings.web_port,
        datadir=str(settings.data_dir / settings.app_id),
        **faust_options(settings),
    )
    # Bytes in, bytes out: parsing is ours (parse_event), so a bad record becomes a dead
    # letter with a reason instead of a Faust decode error.
    raw_topics = app.topic(
        *names.inputs,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    consent_topic = app.topic(
        names.consent,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    table = app.Table(
        TABLE_NAME,
        partitions=partitions,
        key_type=str,  # keys and values go through the app's default JSON codec
    )

    def lookup(user_id: str) -> Any:
        return codecs.consent_from_table(table.get(user_id))

    async def produce(records: list[OutRecord], tp: Any) -> None:
        producer: Any = app.producer  # the aiokafka driver (private parts used below)
        if not app.in_transaction:
            # The aiokafka producer under Faust's wrapper (the one Faust flushes before it
            # commits offsets): the wrapper's per-record sensor and argument handling cost
            # about a fifth of handing a record over, and the worker hands over 4-8 per input.
            aio = producer._ensure_producer()
            for rec in records:
                fut: asyncio.Future[Any] = await aio.send(
                    rec.topic, rec.value, key=rec.key, headers=list(rec.headers)
                )
                fut.add_done_callback(_crash_on_failure)
            return
        # Exactly-once: the transactional producer Faust opened for the input's partition, so
        # the outputs and the input offset commit (or abort) together. All of one input's
        # outputs are sent under the transaction's lock: Faust's commit timer takes the same
        # lock, so it can never commit a transaction holding only part of an input's outputs
        # (that input, not yet acknowledged, would be processed again: duplicates). Faust
        # exposes no public API for this, hence the private attributes.
        group = app.assignor.group_for_topic(tp.topic)
        tid = f"{app.conf.id}-{group}-{tp.partition}"
        txn = producer._transaction_producers.get(tid)
        if txn is None:
            msg = f"no transactional producer for {tp.topic}:{tp.partition}"
            raise ProducerSendError(msg)
        async with producer._trn_locks[tid]:
            for rec in records:
                fut = await txn.send(rec.topic, rec.value, key=rec.key, headers=list(rec.headers))
                fut.add_done_callback(_crash_on_failure)

    _background: set[asyncio.Future[Any]] = set()

    def _crash_on_failure(fut: asyncio.Future[Any]) -> None:
        # A record the broker refused after all retries: stop before its input's offset is
        # committed, so the next owner of the partition produces it again (no loss).
        if not fut.cancelled() and fut.exception() is not None:
            exc = fut.exception()
            log.error("produce failed (%s); stopping the worker", type(exc).__name__)
            task = asyncio.ensure_future(app.crash(exc))  # type: ignore[arg-type]
            _background.add(task)
            task.add_done_callback(_background.discard)

    @app.agent(consent_topic, name="veil.consent")
    async def consent_agent(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            try:
                update = codecs.parse_consent_record(msg.key, msg.value, policy.consent_keys)
            except RecordError as exc:
                metrics.consent_updates.labels(result="refused").inc()
                source = Source(msg.topic, msg.partition, msg.offset)
                dl = DeadLetter.from_error(exc, source=source.as_dict(), raw=msg.value or b"")
                await produce([processor.deadletter(dl, msg.key)], msg.tp)
                continue
            if update.consent is None:
                if update.user_id in table:
                    del table[update.user_id]
                metrics.consent_updates.labels(result="removed").inc()
            else:
                table[update.user_id] = codecs.consent_to_table(update.consent)
                metrics.consent_updates.labels(result="applied").inc()

    @app.agent(raw_topics, name="veil.minimize")
    async def minimize_agent(stream: StreamT[bytes]) -> None:
        gate = _commit_gate(app) if app.in_transaction else None
        async for event in stream.events():
            msg = event.message
            if msg.timestamp:
                metrics.input_lag_seconds.observe(max(0.0, _now() - msg.timestamp))
            records = processor.process(
                msg.value, msg.key, Source(msg.topic, msg.partition, msg.offset), lookup
            )
            cpu = time.process_time()
            if gate is None:
                await produce(records, msg.tp)
            else:
                async with gate:
                    await produce(records, msg.tp)
            metrics.produce_seconds.inc(time.process_time() - cpu)
            # Faust acknowledges the event synchronously when the loop comes back here, before
            # anything else can run: a commit waiting on the gate sees it acknowledged.

    @app.page("/metrics")
    async def metrics_view(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health")
    async def health_view(web: Any, request: Any) -> Any:
        consumer = app.consumer if app.started else None
        assigned = len(consumer.assignment()) if consumer is not None else 0
        crashed = app._crash_reason is not None  # Faust has no public accessor
        ok = app.started and not crashed
        body = {
            "status": "ok" if ok else "failing",
            "app_id": app.conf.id,
            "assigned_partitions": assigned,
            "rebalancing": bool(app.rebalancing),
            "processing_guarantee": str(settings.processing_guarantee),
            "policy_version": policy.version,
        }
        return web.json(body, status=200 if ok else 503)

    @app.task  # type: ignore[untyped-decorator]  # faust's task decorator is untyped
    async def mark_up() -> None:
        metrics.up.set(1)

    return StreamApp(app=app, names=names, processor=processor, metrics=metrics, table=table)


def _commit_gate(app: faust.App) -> asyncio.Lock:
    """Make Faust's offset commits wait while an input's outputs are being produced.

    Faust computes the offsets to commit *before* it commits the transaction; outputs sent in
    between belong to that transaction although their input is not in the offsets, so after
    a crash that input is processed again and its outputs appear twice (observed with
    SIGKILL in the exactly-once integration test). With this gate a commit starts only
    between two inputs, when every input whose outputs were sent has been acknowledged.
    """
    consumer: Any = app.consumer
    gate: asyncio.Lock | None = getattr(consumer, "_veil_commit_gate", None)
    if gate is not None:
        return gate
    gate = asyncio.Lock()
    original = consumer.force_commit

    async def gated_force_commit(*args: Any, **kwargs: Any) -> bool:
        async with gate:
            return bool(await original(*args, **kwargs))

    consumer.force_commit = gated_force_commit
    consumer._veil_commit_gate = gate
    return gate


def _now() -> float:
    return time.time()


__all__ = ["TABLE_NAME", "StreamApp", "create_app", "faust_options"]
