#!/usr/bin/env python3
"""Generate Veil's sample data with a fixed seed: synthetic events with planted PII.

Writes ``samples/events.jsonl`` (``log``, ``communication`` and ``media_upload`` events),
``samples/access.log`` (Apache combined log format), ``samples/app.log`` (syslog and free
text lines) and ``samples/consent.jsonl`` (a consent snapshot for replay). Every value is
synthetic: documentation IP ranges are avoided only where a validator would reject them, the
phone numbers come from ranges reserved for fiction or are checked with ``phonenumbers``, and
cards, IBANs and IMEIs carry valid check digits so the detectors see realistic data.

Run ``.venv/bin/python scripts/gen_samples.py [--seed N] [--out DIR]``; the same seed always
gives byte-identical files. Tests and benchmarks import :func:`generate` (the planted values
come back with the corpus, so a test can assert that none of them survives).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

SEED = 20261101
# The reference time of the samples: the README's run command passes it as --now, so the
# sample output does not change as the calendar moves on (retention is relative to it).
SAMPLE_NOW = datetime(2026, 11, 1, tzinfo=UTC)

FIRST = ["jo", "ana", "li", "marek", "sofia", "omar", "chen", "ines", "raj", "eva", "tomas"]
LAST = ["smith", "kowalski", "garcia", "nguyen", "muller", "okafor", "rossi", "tanaka", "berg"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.co.uk"]
PHONE_FORMATS = [  # (country prefix, national format, largest filler): valid numbers
    ("+44", "20 7946 0{:03d}", 999),  # Ofcom drama range
    ("+1", "202 555 0{:03d}", 199),
    ("+1", "415 555 0{:03d}", 199),
    ("+49", "30 901820{:02d}", 99),
    ("+33", "1 42 68 5{:03d}", 999),
]
APPS = [("maps", "5.2.1"), ("photos", "3.0.0"), ("mail", "12.4"), ("shop", "2.11.3")]
MODELS = [("Pixel 8", "Android 15"), ("iPhone 15", "iOS 18.1"), ("Galaxy S24", "Android 14")]
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
]
PATHS = ["/", "/search", "/products/42", "/cart", "/account/settings", "/static/app.js"]


@dataclass
class Corpus:
    """What :func:`generate` returns.

    Attributes:
        events: the JSON events (all three kinds).
        access_lines: Apache combined log lines.
        app_lines: syslog and free-text lines.
        consents: consent snapshot records.
        planted: entity kind -> every planted value of it (as written, before encoding).
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    access_lines: list[str] = field(default_factory=list)
    app_lines: list[str] = field(default_factory=list)
    consents: list[dict[str, Any]] = field(default_factory=list)
    planted: dict[str, set[str]] = field(default_factory=dict)

    def plant(self, kind: str, value: str) -> str:
        """Record ``value`` as planted PII of ``kind`` and return it."""
        self.planted.setdefault(kind, set()).add(value)
        return value

    def forbidden(self) -> set[str]:
        """Every string that must not appear in minimized output: each planted value raw,
        URL-encoded (``%40``, ``+`` for spaces), and for phones, cards, IBANs, IMEIs and
        account numbers also with separators removed."""
        out: set[str] = set()
        for kind, values in self.planted.items():
            for v in values:
                out |= {v, quote(v, safe=""), quote_plus(v), quote(v)}
                if kind in {"phone", "card", "iban", "imei", "account", "ssn"}:
                    compact = "".join(ch for ch in v if ch.isalnum())
                    out.add(compact)
                    if kind == "phone":
                        out.add(compact.lstrip("+"))
        return {s for s in out if len(s) >= 6}


def _luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # every second digit from the right of the full number
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice(
        [
            ("DE", "".join(rng.choices(string.digits, k=18))),
            ("GB", "NWBK" + "".join(rng.choices(string.digits, k=14))),
            ("FR", "".join(rng.choices(string.digits, k=23))),
        ]
    )
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    raw = f"{country}{check:02d}{bban}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4)) if rng.random() < 0.5 else raw


class _Gen:
    """Planted-PII factories; every value made is recorded in the corpus."""

    def __init__(self, rng: random.Random, corpus: Corpus) -> None:
        self.rng = rng
        self.c = corpus

    def email(self) -> str:
        r = self.rng
        local = f"{r.choice(FIRST)}.{r.choice(LAST)}{r.randint(1, 999)}"
        return self.c.plant("email", f"{local}@{r.choice(DOMAINS)}")

    def phone(self) -> str:
        prefix, fmt, top = self.rng.choice(PHONE_FORMATS)
        return self.c.plant("phone", f"{prefix} {fmt.format(self.rng.randint(0, top))}")

    def card(self) -> str:
        body = self.rng.choice(["4", "51", "52", "55"])
        body += "".join(self.rng.choices(string.digits, k=15 - len(body)))
        digits = _luhn_complete(body)
        style = self.rng.randint(0, 2)
        if style == 0:
            value = digits
        else:
            sep = " " if style == 1 else "-"
            value = sep.join(digits[i : i + 4] for i in range(0, 16, 4))
        return self.c.plant("card", value)

    def iban(self) -> str:
        return self.c.plant("iban", _iban(self.rng))

    def ssn(self) -> str:
        r = self.rng
        area = r.choice([a for a in range(101, 900) if a != 666])
        return self.c.plant("ssn", f"{area:03d}-{r.randint(10, 99):02d}-{r.randint(1000, 9999)}")

    def ipv4(self) -> str:
        r = self.rng
        first = r.choice([23, 31, 46, 62, 81, 93, 145, 178, 185, 203])
        return self.c.plant(
            "ipv4", f"{first}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        )

    def ipv6(self) -> str:
        groups = [f"{self.rng.randint(1, 0xFFFF):x}" for _ in range(7)]
        return self.c.plant("ipv6", "2a02:" + ":".join(groups))

    def mac(self, kind: str = "mac") -> str:
        octets = [self.rng.randint(0, 255) for _ in range(6)]
        octets[0] &= 0xFC  # unicast, globally administered: looks like a real NIC
        return self.c.plant(kind, ":".join(f"{o:02x}" for o in octets))

    def imei(self) -> str:
        return self.c.plant(
            "imei", _luhn_complete("35" + "".join(self.rng.choices(string.digits, k=12)))
        )

    def device_id(self, kind: str = "device_id") -> str:
        return self.c.plant(kind, str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))

    def account(self) -> str:
        return self.c.plant("account", "".join(self.rng.choices(string.digits, k=10)))

    def coords(self) -> tuple[float, float]:
        lat = round(self.rng.uniform(-60, 60), 6)
        lon = round(self.rng.uniform(-170, 170), 6)
        self.c.plant("coordinate", f"{lat:.6f}")
        self.c.plant("coordinate", f"{lon:.6f}")
        self.c.plant("coordinate", repr(lat))
        self.c.plant("coordinate", repr(lon))
        return lat, lon

    def sentence(self) -> str:
        """Free text with two or three kinds of PII written the way people write them."""
        r = self.rng
        lat, lon = self.coords()
        options = [
            f"mail me at {self.email()} or call {self.phone()}",
            f"my card {self.card()} was charged twice",
            f"wire it to {self.iban()} please",
            f"SSN {self.ssn()} on the form",
            f"account no. {self.account()} is locked",
            f"I'm at {lat:.6f}, {lon:.6f} right now",
            f"phone imei {self.imei()} lost",
            f"login from {self.ipv4()} and {self.ipv6()}",
            f"router {self.mac('bssid')} keeps dropping",
            f"ad id {self.device_id('advertising_id')} shows in the logs",
            f"see https://shop.example.com/u/{quote(self.email())}/orders?tel={quote_plus(self.phone())}",
        ]
        return "; ".join(r.sample(options, k=r.randint(2, 3)))

    def url(self) -> str:
        r = self.rng
        q = [
            f"q={quote_plus('contact ' + self.email())}",
            f"email={self.email()}",
            f"tel={quote(self.phone(), safe='')}",
            f"lang={r.choice(['en', 'de', 'fr'])}",
            f"page={r.randint(1, 9)}",
        ]
        path = r.choice([*PATHS, f"/users/{self.email()}/profile"])
        return f"https://www.example.com{path}?{'&'.join(r.sample(q, k=3))}"


def _jpeg_with_gps(lat: float, lon: float) -> bytes:
    """An 8x8 JPEG carrying EXIF GPS and a body serial number (synthetic, a few hundred bytes)."""
    from PIL import Image  # only the generator needs pillow

    def dms(value: float) -> tuple[float, float, float]:
        v = abs(value)
        d = int(v)
        m = int((v - d) * 60)
        return (float(d), float(m), round(((v - d) * 60 - m) * 60, 2))

    img = Image.new("RGB", (8, 8), (120, 80, 40))
    exif = Image.Exif()
    exif[0xA431] = "SN-SYNTH-0001"  # BodySerialNumber
    exif[0x8825] = {
        1: "N" if lat >= 0 else "S",
        2: dms(lat),
        3: "E" if lon >= 0 else "W",
        4: dms(lon),
    }
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=50)
    return buf.getvalue()


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_event(g: _Gen, n: int, user: str | None, when: datetime) -> dict[str, Any]:
    r = g.rng
    lat, lon = g.coords()
    model, os_name = r.choice(MODELS)
    app, version = r.choice(APPS)
    payload: dict[str, Any] = {
        "ip": g.ipv6() if r.random() < 0.3 else g.ipv4(),
        "user_agent": r.choice(AGENTS),
        "device_id": g.device_id(),
        "advertising_id": g.device_id("advertising_id"),
        "imei": g.imei(),
        "device": {"model": model, "os": os_name, "config": "locale=en_GB;dark_mode=1"},
        "url": g.url(),
        "referrer": f"https://mail.example.org/read?from={quote(g.email(), safe='')}",
        "search_terms": f"{g.email()} {r.choice(['invoice', 'refund', 'order'])}",
        "app": {"name": app, "version": version},
        "location": {"lat": lat, "lon": lon, "accuracy_m": r.randint(3, 50), "source": "gps"},
        "wifi": {"bssid": g.mac("bssid"), "ssid": f"{r.choice(LAST).title()}-Home"},
        "message": g.sentence(),
    }
    return {
        "event_id": f"e-{n:05d}",
        "kind": "log",
        "user_id": user,
        "occurred_at": _iso(when),
        "payload": payload,
    }


def _comm_event(g: _Gen, n: int, user: str | None, when: datetime) -> dict[str, Any]:
    r = g.rng
    channel = r.choice(["sms", "chat", "email", "call"])
    ident = g.email if channel == "email" else g.phone
    payload: dict[str, Any] = {
        "channel": channel,
        "from_account": ident(),
        "to_accounts": [ident() for _ in range(r.randint(1, 3))] + [g.account()],
        "started_at": _iso(when - timedelta(seconds=r.randint(5, 600))),
        "duration_s": r.randint(1, 900),
        "body": g.sentence(),
        "attachments": [
            {"filename": "receipt.txt", "content_type": "text/plain", "caption": g.sentence()}
        ],
    }
    return {
        "event_id": f"e-{n:05d}",
        "kind": "communication",
        "user_id": user,
        "occurred_at": _iso(when),
        "payload": payload,
    }


def _media_event(g: _Gen, n: int, user: str | None, when: datetime) -> dict[str, Any]:
    lat, lon = g.coords()
    payload: dict[str, Any] = {
        "filename": f"IMG_{n:04d}.jpg",
        "content_type": "image/jpeg",
        "content_b64": base64.b64encode(_jpeg_with_gps(lat, lon)).decode("ascii"),
        "caption": g.sentence(),
        "location": {"lat": lat, "lon": lon, "accuracy_m": 5, "source": "gps"},
    }
    return {
        "event_id": f"e-{n:05d}",
        "kind": "media_upload",
        "user_id": user,
        "occurred_at": _iso(when),
        "payload": payload,
    }


def _access_line(g: _Gen, when: datetime) -> str:
    r = g.rng
    ip = g.ipv6() if r.random() < 0.25 else g.ipv4()
    method = r.choice(["GET", "GET", "GET", "POST"])
    path = g.url().removeprefix("https://www.example.com") if r.random() < 0.6 else r.choice(PATHS)
    ref = (
        f"https://mail.example.org/read?from={quote(g.email(), safe='')}"
        if r.random() < 0.4
        else "-"
    )
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
    status = r.choice([200, 200, 200, 301, 404, 500])
    return (
        f'{ip} - - [{stamp}] "{method} {path} HTTP/1.1" {status} {r.randint(0, 90000)} '
        f'"{ref}" "{r.choice(AGENTS)}"'
    )


def _app_line(g: _Gen, when: datetime) -> str:
    r = g.rng
    if r.random() < 0.7:
        stamp = when.strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)
        tag = r.choice(["sshd[812]", "app[77]", "postfix/smtp[3001]"])
        return f"{stamp} web-1 {tag}: user {g.email()} from {g.ipv4()}: {g.sentence()}"
    return f"unstructured note: {g.sentence()}"


def generate(
    seed: int = SEED, *, n_events: int = 300, n_access: int = 200, n_app: int = 60
) -> Corpus:
    """Build the sample corpus deterministically from ``seed``.

    Events are spread over the 120 days before :data:`SAMPLE_NOW` (so that some fall outside
    shorter retention periods); about a third of users appear in the consent snapshot with a
    random subset of keys, and a few events carry a narrowing ``consent`` object.
    """
    rng = random.Random(seed)
    corpus = Corpus()
    g = _Gen(rng, corpus)
    users = [f"u-{i:03d}" for i in range(1, 41)]
    keys = ["location", "personalization", "advertising", "third_party_sharing", "cross_service"]
    for user in users[::3]:
        consent = {k: rng.random() < 0.5 for k in keys}
        corpus.consents.append(
            {
                "user_id": user,
                "consent": consent,
                "updated_at": _iso(SAMPLE_NOW - timedelta(days=200)),
            }
        )
    makers = [_log_event] * 6 + [_comm_event] * 3 + [_media_event]
    for n in range(1, n_events + 1):
        when = SAMPLE_NOW - timedelta(seconds=rng.randint(60, 120 * 86400))
        user = rng.choice(users) if rng.random() < 0.9 else None
        event = rng.choice(makers)(g, n, user, when)
        if rng.random() < 0.1:
            event["consent"] = {"location": False}
        corpus.events.append(event)
    for i in range(n_access):
        corpus.access_lines.append(
            _access_line(g, SAMPLE_NOW - timedelta(hours=48, seconds=-i * 37))
        )
    for i in range(n_app):
        corpus.app_lines.append(_app_line(g, SAMPLE_NOW - timedelta(hours=30, seconds=-i * 61)))
    return corpus


def _lines(items: Iterable[str]) -> str:
    return "".join(f"{s}\n" for s in items)


def write(corpus: Corpus, out: Path) -> list[Path]:
    """Write the corpus files into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)

    def dumps(obj: object) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    files = {
        "events.jsonl": _lines(dumps(e) for e in corpus.events),
        "access.log": _lines(corpus.access_lines),
        "app.log": _lines(corpus.app_lines),
        "consent.jsonl": _lines(dumps(c) for c in corpus.consents),
    }
    paths = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    """Command line: write the samples."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "samples")
    args = parser.parse_args()
    for path in write(generate(args.seed), args.out):
        print(path)


if __name__ == "__main__":
    main()
