"""Events and expectations shared by the streaming integration tests.

Expected outputs are computed with the real minimizer core and the workers' key, so a test
compares what came out of Kafka with what the core says each purpose may see.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from pipeline.consent import Consent
from pipeline.minimizer import MinimizeContext, minimize_all
from pipeline.policy import Policy
from pipeline.pseudonym import PseudonymKeys
from tests.conftest import CORPUS
from tests.integration.conftest import TEST_KEY, now_iso

KEYS = PseudonymKeys(base=TEST_KEY.encode())
GPS_JPEG = CORPUS / "media" / "exiftool+exiftool" / "t" / "images" / "GPS.jpg"

# Raw values planted in events; none may appear in any purpose or audit topic.
EMAIL = "jo.tester@example.com"
PHONE = "+1 415 555 0123"
IP = "203.0.113.77"
DEVICE = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
IBAN = "DE89370400440532013000"
RAW_PII = (EMAIL, IP, DEVICE, IBAN, "415 555 0123", "48.85661")


def log_event(event_id: str, user: str | None) -> dict[str, Any]:
    """A log event carrying device ids, an IP, location and PII in free text and URL."""
    return {
        "event_id": event_id,
        "kind": "log",
        "user_id": user,
        "occurred_at": now_iso(),
        "payload": {
            "ip": IP,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "device_id": DEVICE,
            "url": "https://shop.example/search?q=shoes&email=jo.tester%40example.com",
            "search_terms": f"call me {PHONE}",
            "location": {"lat": 48.85661, "lon": 2.35222, "accuracy_m": 12, "source": "gps"},
            "message": f"login by {EMAIL} from {IP}",
        },
    }


def communication_event(event_id: str, user: str) -> dict[str, Any]:
    """A chat message with account numbers and PII in the body."""
    return {
        "event_id": event_id,
        "kind": "communication",
        "user_id": user,
        "occurred_at": now_iso(),
        "payload": {
            "channel": "chat",
            "from_account": PHONE,
            "to_accounts": ["+44 20 7946 0958"],
            "started_at": now_iso(),
            "duration_s": 42,
            "body": f"wire it to {IBAN} and mail {EMAIL}",
        },
    }


def media_event(event_id: str, user: str) -> dict[str, Any]:
    """A photo upload: a JPEG with GPS EXIF inline, a caption with an e-mail."""
    return {
        "event_id": event_id,
        "kind": "media_upload",
        "user_id": user,
        "occurred_at": now_iso(),
        "payload": {
            "filename": "holiday.jpg",
            "content_type": "image/jpeg",
            "content_b64": base64.b64encode(GPS_JPEG.read_bytes()).decode(),
            "caption": f"send to {EMAIL}",
        },
    }


def expected(
    event: dict[str, Any], policy: Policy, consent: Consent
) -> dict[str, dict[str, Any] | None]:
    """Purpose -> the minimized event the core produces (None: withheld)."""
    ctx = MinimizeContext(keys=KEYS, now=datetime.now(UTC))
    return {
        p: m.event
        for p, m in minimize_all(event, policy=policy, consent=consent, context=ctx).items()
    }


def canon(obj: Any) -> str:
    """Canonical JSON for comparing decoded records."""
    return json.dumps(obj, sort_keys=True)


def pseudonym_event_id(event_id: str, purpose: str) -> str:
    """The event id as purpose ``purpose`` sees it (no cross-service consent)."""
    return KEYS.pseudonym(event_id, purpose)
