"""minimize(): per action, consent key, event kind and purpose, with the real detectors.

Test names cite the POLICY-MAP clause they enforce.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from pipeline.consent import Consent
from pipeline.errors import MalformedEvent, PolicyError, Reason, RecordError
from pipeline.minimizer import MinimizeContext, minimize, minimize_all
from pipeline.policy import Policy, policy_from_data
from tests.unit.minimizer.conftest import NOW, Run, log_event

PURPOSES = ["service", "security", "analytics", "personalization", "advertising", "third_party"]
ALL_CONSENT = ["location", "personalization", "advertising", "third_party_sharing", "surveys"]

FULL_LOG = {
    "ip": "203.0.113.45",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    "device_id": "dev-12345",
    "advertising_id": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
    "imei": "490154203237518",
    "device": {"model": "Pixel 7", "os": "Android 14", "config": "lang=en"},
    "url": "https://shop.example/search?q=shoes&email=jo%40example.com",
    "search_terms": "red shoes",
    "app": {"name": "shop", "version": "4.2"},
    "location": {"lat": 48.858370, "lon": 2.294481, "accuracy_m": 5, "source": "gps"},
    "wifi": {"bssid": "00:1a:2b:3c:4d:5e", "ssid": "HomeNet"},
    "message": "login ok for jo@example.com",
    "http": {"method": "GET", "status": 200, "bytes": 512},
}


# --- actions -----------------------------------------------------------------------------


def test_p4_generalize_ip_and_p7_time_to_the_hour(run: Run) -> None:
    out = run(log_event({"ip": "203.0.113.45"})).event
    assert out is not None
    assert out["payload"]["ip"] == "203.0.113.0/24"
    assert out["occurred_at"] == "2026-11-02T10:00:00Z"


def test_p1_pseudonymize_user_id_is_stable_and_keyed(run: Run, ctx: MinimizeContext) -> None:
    a = run(log_event({}, user_id="u-42")).event
    b = run(log_event({}, user_id="u-42")).event
    c = run(log_event({}, user_id="u-43")).event
    assert a and b and c
    assert a["user_id"] == b["user_id"] == ctx.keys.pseudonym("u-42", "analytics")
    assert a["user_id"] != c["user_id"]
    assert "u-42" not in json.dumps(a)


def test_p1_security_keeps_account_raw_and_masks_cards(run: Run) -> None:
    event = log_event({"message": "card 4111 1111 1111 1111 from jo@example.com"})
    out = run(event, "security").event
    assert out is not None
    assert out["user_id"] == "u-42"
    message = out["payload"]["message"]
    assert "**** **** **** 1111" in message
    assert "4111 1111 1111 1111" not in message
    assert "jo@example.com" not in message and "<EMAIL_ADDRESS:ps_" in message


def test_p5_scan_redacts_entities_in_free_text(run: Run) -> None:
    out = run(log_event({"search_terms": "call +1 415 555 0134 or jo@example.com"})).event
    assert out is not None
    assert out["payload"]["search_terms"] == "call <PHONE_NUMBER> or <EMAIL_ADDRESS>"


def test_drop_and_allow_list_unknown_fields_are_dropped(run: Run) -> None:
    event = log_event({"imei": "490154203237518", "shadow": {"email": "jo@example.com"}})
    event["extra_top"] = "jo@example.com"
    result = run(event)
    assert result.event is not None
    assert "imei" not in result.event["payload"]
    assert "shadow" not in result.event["payload"] and "extra_top" not in result.event
    assert result.audit.unknown_dropped == 2
    assert ("payload.imei", "drop") in result.audit.fields


def test_redact_keep_and_mask_field_actions(policy: Policy, ctx: MinimizeContext) -> None:
    data = policy.model_dump(mode="json")
    rules = data["purposes"]["analytics"]["fields"]
    rules["payload.device_id"] = {"action": "mask"}
    rules["payload.imei"] = {"action": "redact"}
    rules["payload.app.name"] = {"action": "keep"}
    custom = policy_from_data(data)
    event = log_event(
        {"device_id": "dev-1234-5678", "imei": "490154203237518", "app": {"name": "x@y"}}
    )
    out = minimize(event, policy=custom, consent=Consent.none(), purpose="analytics", context=ctx)
    assert out.event is not None
    assert out.event["payload"] == {
        "device_id": "***-****-5678",
        "imei": "<REDACTED>",
        "app": {"name": "x@y"},
    }


def test_p5_urls_keep_parsing_after_pii_removal(run: Run) -> None:
    url = "https://shop.example/u/jo%40example.com/orders?q=shoes&email=jo%2540example.com#top"
    out = run(log_event({"url": url, "referrer": "/back?phone=%2B14155550134"})).event
    assert out is not None
    new = out["payload"]["url"]
    parts = urlsplit(new)
    assert (parts.scheme, parts.netloc, parts.fragment) == ("https", "shop.example", "top")
    assert "q=shoes" in parts.query
    assert "jo" not in new and "example.com/" not in parts.path
    assert "4155550134" not in out["payload"]["referrer"]
    urlsplit(out["payload"]["referrer"])


@pytest.mark.parametrize(
    "url",
    [
        "/blog/geekery/www.csh.rit.edu/~robertp",  # a host name as a path segment (corpus line)
        "https://example.org/go/www.example.net",
        "www.example.net",
    ],
)
def test_p5_host_names_in_paths_are_left_as_written(run: Run, url: str) -> None:
    """A bare host name is not taken apart again and again (it once came out triple-encoded)."""
    out = run(log_event({"url": url})).event
    assert out is not None
    assert out["payload"]["url"] == url


@pytest.mark.parametrize(
    ("url", "secret", "expected"),
    [
        # urlsplit reads "a0" as a scheme: no part alone held the MAC (found by hypothesis)
        ("a0:00:00:00:00:00", "a0:00:00:00:00:00", "<MAC_ADDRESS>"),
        ("fe80::1:2", "fe80::1:2", None),  # IPv6 with a scheme-like first group
        ("tel:+14155550123", "+14155550123", None),  # the colon is a real scheme's: path scanned
        ("localhost:8080/status", None, "localhost:8080/status"),  # nothing across the colon
    ],
)
def test_p5_pii_split_by_a_scheme_like_colon_is_removed(
    run: Run, url: str, secret: str | None, expected: str | None
) -> None:
    out = run(log_event({"url": url})).event
    assert out is not None
    shown = out["payload"].get("url", "")
    if secret is not None:
        assert secret not in shown
    if expected is not None:
        assert shown == expected


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("account # 000000012", "000000012"),  # keyword and number in different URL parts
        ("https://m.example/?lat=48.858370&lon=2.294481", "48.858370"),  # one pair each
        ("https://m.example/?lat=48.858370&lon=2.294481", "2.294481"),
    ],
)
def test_p5_p10_pii_split_across_url_parts_is_removed(run: Run, url: str, secret: str) -> None:
    """Found by the property test: each URL part alone held no finding, so both leaked."""
    out = run(log_event({"url": url})).event
    assert out is not None
    assert secret not in json.dumps(out)


def test_p4_ip_host_in_url_is_generalized(run: Run) -> None:
    out = run(log_event({"url": "http://user:pw@198.51.100.7:8080/x"})).event
    assert out is not None
    assert out["payload"]["url"] == "http://198.51.100.0:8080/x"


# --- consent keys ------------------------------------------------------------------------


def test_p10_location_needs_consent_in_fields_wifi_and_text(run: Run) -> None:
    payload = {
        "location": {"lat": 48.858370, "lon": 2.294481, "accuracy_m": 5},
        "wifi": {"bssid": "00:1a:2b:3c:4d:5e"},
        "message": "at 48.858370, 2.294481 now",
    }
    without = run(log_event(payload)).event
    assert without is not None
    assert "location" not in without["payload"] and "wifi" not in without["payload"]
    assert without["payload"]["message"] == "at <GPS_COORDINATES> now"
    with_ = run(log_event(payload), "analytics", "location").event
    assert with_ is not None
    assert with_["payload"]["location"] == {"lat": 48.86, "lon": 2.29, "accuracy_m": 5}
    assert with_["payload"]["message"] == "at 48.86, 2.29 now"
    assert with_["payload"]["wifi"]["bssid"].startswith("ps_")


def test_p10_event_consent_withdraws_location(run: Run) -> None:
    event = log_event({"location": {"lat": 48.8, "lon": 2.2}}, consent={"location": False})
    out = run(event, "analytics", "location").event
    assert out is not None and "location" not in out["payload"]


@pytest.mark.parametrize(
    ("purpose", "key"),
    [
        ("personalization", "personalization"),
        ("advertising", "advertising"),
        ("third_party", "third_party_sharing"),
        ("surveys", "surveys"),
    ],
)
def test_p14_p11_purposes_need_their_consent_to_receive_anything(
    run: Run, purpose: str, key: str
) -> None:
    denied = run(log_event(FULL_LOG), purpose)
    assert denied.event is None
    assert denied.audit.withheld == f"consent:{key}" and not denied.audit.forwarded
    granted = run(log_event(FULL_LOG), purpose, key)
    assert granted.event is not None and granted.audit.forwarded
    narrowed = run(log_event(FULL_LOG, consent={key: False}), purpose, key)
    assert narrowed.event is None


def test_p12_cross_service_consent_makes_pseudonyms_joinable(run: Run) -> None:
    ev = log_event({})
    a = run(ev, "analytics").event
    p = run(ev, "personalization", "personalization").event
    assert a and p and a["user_id"] != p["user_id"]
    a2 = run(ev, "analytics", "cross_service").event
    p2 = run(ev, "personalization", "personalization", "cross_service").event
    assert a2 and p2 and a2["user_id"] == p2["user_id"]


# --- retention (P16) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("purpose", "age", "forwarded"),
    [
        ("service", timedelta(days=29), True),
        ("service", timedelta(days=31), False),
        ("analytics", timedelta(days=394), True),
        ("analytics", timedelta(days=396), False),
        ("security", timedelta(days=366), False),
    ],
)
def test_p16_retention_against_event_time(
    run: Run, purpose: str, age: timedelta, forwarded: bool
) -> None:
    when = (NOW - age).isoformat()
    result = run(log_event({}, occurred_at=when), purpose)
    assert (result.event is not None) is forwarded
    assert result.audit.withheld == (None if forwarded else "retention")


def test_undated_events_follow_the_policy_setting(policy: Policy, ctx: MinimizeContext) -> None:
    event = log_event({"message": "no time"}, occurred_at=None)
    fwd = minimize(event, policy=policy, consent=Consent.none(), purpose="analytics", context=ctx)
    assert fwd.event is not None
    strict = policy_from_data({**policy.model_dump(mode="json"), "undated": "withhold"})
    held = minimize(event, policy=strict, consent=Consent.none(), purpose="analytics", context=ctx)
    assert held.event is None and held.audit.withheld == "undated"


def test_missing_user_dead_letters_when_the_policy_says_so(
    policy: Policy, ctx: MinimizeContext
) -> None:
    event = log_event({}, user_id=None)
    ok = minimize(event, policy=policy, consent=Consent.none(), purpose="analytics", context=ctx)
    assert ok.event is not None and "user_id" not in ok.event
    strict = policy_from_data({**policy.model_dump(mode="json"), "missing_user": "dead_letter"})
    with pytest.raises(RecordError) as info:
        minimize(event, policy=strict, consent=Consent.none(), purpose="analytics", context=ctx)
    assert info.value.reason is Reason.MISSING_USER


# --- kinds ---------------------------------------------------------------------------------


def test_p7_communication_metadata_for_analytics(run: Run, ctx: MinimizeContext) -> None:
    event = {
        "event_id": "c-1",
        "kind": "communication",
        "user_id": "u-1",
        "occurred_at": "2026-11-02T10:00:00Z",
        "payload": {
            "channel": "sms",
            "from_account": "ACC-1001",
            "to_accounts": ["ACC-2002", "ACC-3003"],
            "started_at": "2026-11-02T10:17:03Z",
            "duration_s": 42,
            "body": "hi, my card is 4111111111111111",
        },
    }
    out = run(event).event
    assert out is not None
    pl = out["payload"]
    assert pl["from_account"] == ctx.keys.pseudonym("ACC-1001", "analytics")
    assert pl["to_accounts"] == [
        ctx.keys.pseudonym(a, "analytics") for a in ("ACC-2002", "ACC-3003")
    ]
    assert pl["started_at"] == "2026-11-02T10:00:00Z" and pl["duration_s"] == 42
    assert "body" not in pl  # P2: analytics receives no content
    sec = run(event, "security").event
    assert sec is not None and sec["payload"]["body"] == "hi, my card is ************1111"


def test_p2_media_upload_content_is_not_sent_to_analytics(run: Run) -> None:
    event = {
        "event_id": "m-1",
        "kind": "media_upload",
        "user_id": "u-1",
        "occurred_at": "2026-11-02T10:00:00Z",
        "payload": {"filename": "jo@example.com.jpg", "content_b64": "AAAA", "caption": "me"},
    }
    out = run(event).event
    assert out is not None and set(out["payload"]) == set()


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"ip": 12345}, Reason.WRONG_TYPE),
        ({"location": {"lat": "48.8", "lon": 2.2}}, Reason.WRONG_TYPE),
        ({"device": "Pixel"}, Reason.WRONG_TYPE),
        ({"http": {"status": "200"}}, Reason.WRONG_TYPE),
    ],
)
def test_wrong_field_types_are_dead_lettered(
    run: Run, payload: dict[str, object], reason: Reason
) -> None:
    with pytest.raises(MalformedEvent) as info:
        run(log_event(payload), "analytics", "location")
    assert info.value.reason is reason


def test_unknown_kind_and_purpose(run: Run) -> None:
    with pytest.raises(MalformedEvent) as info:
        run({**log_event({}), "kind": "video"})
    assert info.value.reason is Reason.UNKNOWN_KIND
    with pytest.raises(PolicyError):
        run(log_event({}), "marketing")


# --- purposes and audit ----------------------------------------------------------------------


@pytest.mark.parametrize("purpose", PURPOSES)
def test_p11_every_purpose_forwards_only_named_fields(
    run: Run, purpose: str, policy: Policy
) -> None:
    result = run(log_event({**FULL_LOG, "secret": "x"}), purpose, *ALL_CONSENT)
    assert result.event is not None
    named = set(policy.kind_fields("log"))

    def paths(obj: object, prefix: str = "") -> set[str]:
        if isinstance(obj, dict):
            return set().union(
                *(paths(v, f"{prefix}.{k}" if prefix else k) for k, v in obj.items())
            )
        return {prefix}

    assert paths(result.event) <= named
    assert result.audit.purpose == purpose and result.audit.policy_version == policy.version


def test_minimize_all_returns_every_purpose(policy: Policy, ctx: MinimizeContext) -> None:
    results = minimize_all(log_event(FULL_LOG), policy=policy, consent=Consent.none(), context=ctx)
    assert set(results) == set(policy.purposes)
    assert results["advertising"].event is None and results["analytics"].event is not None


def test_audit_counts_actions_per_field_and_entity_and_holds_no_values(run: Run) -> None:
    event = log_event(
        {"message": "mail jo@example.com and al@example.org", "ip": "203.0.113.45"},
        consent={"location": False},
    )
    result = run(event)
    audit = result.audit
    assert audit.entities[("payload.message", "EMAIL_ADDRESS", "redact")] == 2
    assert audit.fields[("payload.ip", "generalize")] == 1
    assert audit.fields[("user_id", "pseudonymize")] == 1
    assert audit.key_id is not None and audit.event_id == "e-1"
    dumped = json.dumps(audit.to_dict())
    for value in ("jo@example.com", "al@example.org", "203.0.113", "u-42"):
        assert value not in dumped


@pytest.mark.parametrize(
    ("email_action", "ip_action", "expected"),
    [
        ("keep", "keep", "mail jo@example.com from 203.0.113.45"),
        ("drop", "drop", "mail  from "),
        ("redact", "redact", "mail <EMAIL_ADDRESS> from <IP_ADDRESS>"),
        ("mask", "mask", "mail **@******e.com from ***.*.*13.45"),
        ("redact", "generalize", "mail <EMAIL_ADDRESS> from 203.0.113.0/24"),
    ],
)
def test_entity_actions_in_scanned_text(
    policy: Policy, ctx: MinimizeContext, email_action: str, ip_action: str, expected: str
) -> None:
    data = policy.model_dump(mode="json")
    data["purposes"]["analytics"]["entities"] = {
        "EMAIL_ADDRESS": email_action,
        "IP_ADDRESS": ip_action,
    }
    custom = policy_from_data(data)
    event = log_event({"message": "mail jo@example.com from 203.0.113.45"})
    out = minimize(event, policy=custom, consent=Consent.none(), purpose="analytics", context=ctx)
    assert out.event is not None and out.event["payload"]["message"] == expected
    assert out.audit.entities[("payload.message", "EMAIL_ADDRESS", email_action)] == 1


def test_entity_pseudonym_in_text_matches_the_field_pseudonym(
    run: Run, ctx: MinimizeContext
) -> None:
    out = run(log_event({"message": "from jo@example.com"}), "security").event
    assert out is not None
    token = ctx.keys.pseudonym("jo@example.com", "security")
    assert out["payload"]["message"] == f"from <EMAIL_ADDRESS:{token}>"


@pytest.mark.parametrize(
    "payload",
    [
        FULL_LOG,
        {"message": "call +44 20 7946 0530 or mail eva.muller806@example.org"},
        {"url": "https://www.example.com/a?email=jo%40example.com&q=x", "message": "no pii"},
    ],
)
def test_remembered_scans_give_the_results_of_fresh_ones(
    policy: Policy, ctx: MinimizeContext, payload: dict[str, object]
) -> None:
    """The cross-record scan memo only saves work: warm, cold and unmemoized agree."""
    from detectors.scanner import scan
    from pipeline.minimizer.core import forget_scans

    event = log_event(payload)
    forget_scans()
    cold = minimize_all(event, policy=policy, consent=Consent.none(), context=ctx)
    warm = minimize_all(event, policy=policy, consent=Consent.none(), context=ctx)
    fresh_ctx = MinimizeContext(keys=ctx.keys, now=ctx.now, scan=scan)
    fresh = minimize_all(event, policy=policy, consent=Consent.none(), context=fresh_ctx)
    assert cold == warm == fresh
    assert any(m.audit.entities for m in cold.values())  # the payloads do hold findings
