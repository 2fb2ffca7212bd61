"""The sidecar's own endpoints: ``/v1/strip``, ``/v1/minimize``, ``/healthz``, ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from pipeline.consent import Consent
from pipeline.deadletter import DeadLetter
from pipeline.errors import RecordError
from pipeline.events import parse_event
from pipeline.minimizer import MinimizeContext, minimize
from pipeline.sidecar.body import BodyReader
from pipeline.sidecar.consent import parse_header, resolve
from pipeline.sidecar.engine import Engine
from pipeline.sidecar.exceptions import BadRequest, SidecarError, Unsupported
from pipeline.sidecar.forwarding import REMOVED_HEADER
from pipeline.sidecar.keys import DEADLINE_KEY, ENGINE_KEY
from pipeline.sidecar.sniff import SNIFF_BYTES, MediaKind, sniff

NDJSON = "application/x-ndjson"
# Batches above this many bytes are minimized on a worker thread (keeps /healthz answering).
THREAD_BATCH_BYTES = 64 * 1024


def _reader(request: web.Request, engine: Engine) -> BodyReader:
    return BodyReader(request, limit=int(engine.settings.max_body), deadline=request[DEADLINE_KEY])


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process serves requests and its policy is loaded."""
    engine = request.app[ENGINE_KEY]
    return web.json_response(
        {
            "status": "ok",
            "policy_version": engine.policy.version,
            "mode": "proxy" if engine.settings.upstream else "service",
        }
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the sidecar's own registry."""
    engine = request.app[ENGINE_KEY]
    return web.Response(
        body=engine.metrics.render(),
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )


async def strip(request: web.Request) -> web.Response:
    """``POST /v1/strip``: media bytes in, stripped bytes out.

    The response carries the stripped file with its detected type and ``X-Veil-Removed``:
    the comma-separated categories that had metadata removed (``none`` when nothing was).
    Refuses with 415 anything that is not a supported image or video, 422 corrupt media,
    413 over the size limit.
    """
    engine = request.app[ENGINE_KEY]
    reader = _reader(request, engine)
    data = await reader.read_all()
    if sniff(data[:SNIFF_BYTES]) is MediaKind.OTHER:
        msg = "body is not an image or video"
        raise Unsupported(msg)
    consent = resolve(
        request.headers.get("X-Veil-Consent"),
        request.headers.get(engine.settings.user_header),
        engine.snapshot,
    )
    stripped = await engine.strip(
        data, consent, where="body", content_type=request.headers.get("Content-Type")
    )
    return web.Response(
        body=stripped.result.data,
        headers={
            "Content-Type": stripped.result.media_type,
            REMOVED_HEADER: ",".join(stripped.categories) or "none",
        },
    )


def _records(body: bytes, single: bool) -> list[tuple[int, bytes]]:
    if single:
        return [(1, body)]
    return [
        (number, line.rstrip(b"\r"))
        for number, line in enumerate(body.split(b"\n"), start=1)
        if line.strip()
    ]


def _minimize_all(
    engine: Engine,
    records: list[tuple[int, bytes]],
    purpose: str,
    header: dict[str, bool] | None,
    request_id: str,
) -> list[dict[str, Any]]:
    assert engine.keys is not None  # noqa: S101  # checked by the handler
    context = MinimizeContext(keys=engine.keys, now=datetime.now(UTC))
    results: list[dict[str, Any]] = []
    for number, raw in records:
        try:
            event = parse_event(raw)
            consent = _event_consent(engine, event, header)
            out = minimize(
                event, policy=engine.policy, consent=consent, purpose=purpose, context=context
            )
        except RecordError as exc:
            letter = DeadLetter.from_error(
                exc, source={"request": request_id, "line": number}, raw=raw
            )
            engine.metrics.dead_lettered.labels(str(letter.reason)).inc()
            engine.metrics.records.labels(purpose, "dead_lettered").inc()
            # Reported by reason and position only: the raw record is never echoed back.
            results.append(
                {
                    "line": number,
                    "dead_letter": {"reason": str(letter.reason), "message": letter.message},
                }
            )
            continue
        outcome = "forwarded" if out.event is not None else "withheld"
        engine.metrics.records.labels(purpose, outcome).inc()
        results.append({"line": number, "event": out.event, "audit": out.audit.to_dict()})
    return results


def _event_consent(
    engine: Engine, event: dict[str, Any], header: dict[str, bool] | None
) -> Consent:
    user = event.get("user_id")
    if engine.snapshot is not None:
        base = engine.snapshot.get(user if isinstance(user, str) else None)
        consent = base if header is None else base.narrow(header)
    else:
        consent = Consent.from_mapping(header) if header is not None else Consent.none()
    inline = event.get("consent")
    return consent.narrow(inline) if inline is not None else consent


async def minimize_events(request: web.Request) -> web.Response:
    """``POST /v1/minimize?purpose=P``: one JSON event, or a JSONL batch, minimized for P.

    ``application/json`` is one event (any layout); any other type is JSONL, one event per
    line. Consent: the snapshot by the event's ``user_id`` (when configured), narrowed by the
    ``X-Veil-Consent`` header and by the event's own ``consent`` object.

    Each result is ``{"line", "event", "audit"}`` (``event`` null when the purpose may not
    receive it) or ``{"line", "dead_letter": {"reason", "message"}}``; dead-lettered records
    are never echoed. A single event answers one JSON object (422 when dead-lettered); a
    batch answers NDJSON with ``X-Veil-Dead-Lettered`` counting the refused lines.
    """
    engine = request.app[ENGINE_KEY]
    purpose = request.query.get("purpose", "")
    if purpose not in engine.policy.purposes:
        names = ", ".join(sorted(engine.policy.purposes))
        msg = f"query parameter 'purpose' must be one of: {names}"
        raise BadRequest(msg, code="unknown_purpose")
    if engine.keys is None:
        err = SidecarError("pseudonym keys are not configured", code="not_configured")
        err.status = 503
        raise err
    data = await _reader(request, engine).read_all()
    single = request.content_type == "application/json"
    records = _records(data, single)
    header = parse_header(request.headers.get("X-Veil-Consent"))
    request_id = uuid.uuid4().hex
    if len(data) > THREAD_BATCH_BYTES:
        results = await asyncio.to_thread(
            _minimize_all, engine, records, purpose, header, request_id
        )
    else:
        results = _minimize_all(engine, records, purpose, header, request_id)
    dead = sum(1 for r in results if "dead_letter" in r)
    if single:
        status = 422 if dead else 200
        return web.json_response(results[0], status=status, dumps=_dumps)
    lines = "".join(_dumps(r) + "\n" for r in results)
    return web.Response(
        text=lines,
        content_type=NDJSON,
        headers={"X-Veil-Dead-Lettered": str(dead), "X-Veil-Request-Id": request_id},
    )


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
