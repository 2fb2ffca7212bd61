"""Property (P1, P3, P4, P5, P7, P9, P10): planted PII never survives ``analytics`` without consent.

Every PII type the issue names (e-mail, phone, card, IBAN, SSN, IPv4/IPv6, MAC, Wi-Fi BSSID,
IMEI, device/advertising id, account number, precise coordinates) is planted in every
string field of every event kind, in free text, in URLs (path segments and query values),
raw, URL-encoded and double-encoded. The serialized output must not contain the value in
any of those forms. A record the minimizer refuses (dead letter) is also safe.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.consent import Consent
from pipeline.errors import RecordError
from pipeline.minimizer import MinimizeContext, core, minimize
from pipeline.policy import FieldType, Policy, load_policy
from pipeline.pseudonym import PseudonymKeys
from tests.unit.minimizer.conftest import KEY, NOW
from tests.unit.minimizer.pii_gen import PLANTS

POLICY: Policy = load_policy()
CTX = MinimizeContext(keys=PseudonymKeys.from_env({"VEIL_PSEUDONYM_KEY": KEY}), now=NOW)
_STRING_TYPES = {
    FieldType.STRING,
    FieldType.TEXT,
    FieldType.URL,
    FieldType.IDENTIFIER,
    FieldType.IP,
}
# The envelope's own id fields are planted too (event_id, user_id); media fields carry bytes.
STRING_FIELDS: dict[str, list[str]] = {
    kind: [
        p
        for p, spec in POLICY.kind_fields(kind).items()
        if spec.type in _STRING_TYPES or p == "event_id"
    ]
    for kind in ("log", "communication", "media_upload")
}

EMBEDDINGS = {
    "bare": "{v}",
    "text": "note: {v}, thanks",
    "query": "https://shop.example/p?ref=abc&q={q}",
    "query_plus": "https://shop.example/p?q={qp}&page=2",
    "double": "/r?next=https%3A%2F%2Fx.example%2F%3Fu%3D{qq}",
    "path": "https://shop.example/u/{q}/orders",
    "bare_encoded": "user={q}",
}


def _render(embedding: str, value: str) -> str:
    return EMBEDDINGS[embedding].format(
        v=value,
        q=quote(value, safe=""),
        qp=quote_plus(value),
        qq=quote(quote(value, safe=""), safe=""),
    )


def _set(event: dict[str, Any], path: str, value: str) -> None:
    node: Any = event
    parts = path.split(".")
    for part in parts[:-1]:
        name = part.removesuffix("[]")
        if part.endswith("[]"):
            node = node.setdefault(name, [{}])[0]
        else:
            node = node.setdefault(name, {})
    last = parts[-1]
    node[last.removesuffix("[]")] = [value] if last.endswith("[]") else value


def _forms(secret: str) -> set[str]:
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        quote(secret),
        quote(quote(secret, safe=""), safe=""),
    }


@st.composite
def planted_events(draw: st.DrawFn) -> tuple[dict[str, Any], list[str], str]:
    kind = draw(st.sampled_from(sorted(STRING_FIELDS)))
    event: dict[str, Any] = {
        "event_id": "e-1",
        "kind": kind,
        "user_id": "u-1",
        "occurred_at": "2026-11-02T10:00:00Z",
        "payload": {"location": {"lat": 48.858370, "lon": 2.294481}}
        if kind != "communication"
        else {},
    }
    secrets: list[str] = []
    plants = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(PLANTS)),
                st.sampled_from(STRING_FIELDS[kind]),
                st.sampled_from(sorted(EMBEDDINGS)),
            ),
            min_size=1,
            max_size=4,
        )
    )
    desc = []
    for entity, path, embedding in plants:
        text, must_go = draw(PLANTS[entity])
        value = _render(embedding, text)
        _set(event, "payload" if path == "payload" else path, value)
        secrets.extend(must_go)
        desc.append(f"{entity}->{path}/{embedding}")
    return event, secrets, "; ".join(desc)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_events(), st.sampled_from([None, {"location": True}, {"location": False}]))
def test_planted_pii_never_reaches_analytics_without_consent(
    planted: tuple[dict[str, Any], list[str], str], event_consent: dict[str, bool] | None
) -> None:
    event, secrets, desc = planted
    if event_consent is not None:  # an event may *claim* consent: it can only narrow
        event["consent"] = event_consent
    try:
        result = minimize(
            event, policy=POLICY, consent=Consent.none(), purpose="analytics", context=CTX
        )
    except RecordError:
        return  # dead-lettered: never forwarded
    out = json.dumps(result.event, ensure_ascii=False)
    for secret in secrets:
        for form in _forms(secret):
            assert form not in out, f"{desc}: a planted value survived"
    assert "48.858370" not in out and "2.294481" not in out  # P10: no location consent


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(planted_events(), st.sampled_from(["analytics", "security", "service"]))
def test_prescan_shortcut_never_changes_a_result(
    planted: tuple[dict[str, Any], list[str], str], purpose: str
) -> None:
    """The one-scan-per-record shortcut only skips values with no finding: same output."""
    event = planted[0]
    results = []
    for prescan in (True, False):
        core.PRESCAN = prescan
        try:
            results.append(
                minimize(event, policy=POLICY, consent=Consent.none(), purpose=purpose, context=CTX)
            )
        except RecordError as exc:
            results.append(exc.reason)  # type: ignore[arg-type]
        finally:
            core.PRESCAN = True
    assert results[0] == results[1]
