"""Fixed-seed synthetic log lines and chat messages with known PII spans.

Every value is generated valid for its type (Luhn for cards and IMEIs, mod-97 for IBANs,
``phonenumbers``-valid phones, SSNs in issued ranges), and the texts also carry look-alikes
that are *not* PII (timestamps, order numbers, versions, Luhn-invalid numbers, ports, prices),
so precision means something. Used by ``benchmarks/detectors.py`` and
``scripts/gen_chat_sample.py``.
"""

from __future__ import annotations

import ipaddress
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import phonenumbers


@dataclass(frozen=True, slots=True)
class Span:
    """A gold span: ``text[start:end]`` is an entity of ``entity_type``."""

    start: int
    end: int
    entity_type: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One event text with its gold spans."""

    text: str
    spans: tuple[Span, ...] = field(default_factory=tuple)


_FIRST = ["jo", "maria", "li.wei", "anna", "omar", "priya", "lukas", "chloe", "sam", "noah"]
_LAST = ["doe", "garcia", "zhang", "schmidt", "martin", "patel", "smith", "dubois", "kim"]
_DOMAINS = ["example.com", "mail.example.org", "corp.example.de", "example.co.uk", "ex.fr"]


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


class Gen:
    """Value generators; each returns the value text."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def email(self) -> str:
        r = self.r
        return f"{r.choice(_FIRST)}.{r.choice(_LAST)}{r.randint(1, 99)}@{r.choice(_DOMAINS)}"

    def phone(self) -> str:
        r = self.r
        region = r.choice(["US", "GB", "DE", "FR", "CN", "IN"])
        while True:
            ex = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
            assert ex is not None
            nn = str(ex.national_number)
            cand = nn[:3] + "".join(str(r.randint(0, 9)) for _ in nn[3:])
            num = phonenumbers.parse(cand, region)
            if phonenumbers.is_valid_number(num):
                break
        fmt = r.choice(
            [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]
            + [phonenumbers.PhoneNumberFormat.NATIONAL] * 2
        )
        return phonenumbers.format_number(num, fmt)

    def card(self) -> str:
        r = self.r
        kind = r.choice(["visa", "mc", "amex", "disc"])
        prefix, length = {
            "visa": ("4", 16),
            "mc": (str(r.randint(51, 55)), 16),
            "amex": (r.choice(["34", "37"]), 15),
            "disc": ("6011", 16),
        }[kind]
        body = prefix + "".join(str(r.randint(0, 9)) for _ in range(length - len(prefix) - 1))
        num = body + _luhn_digit(body)
        sep = r.choice(["", " ", "-"])
        if kind == "amex":
            return sep.join([num[:4], num[4:10], num[10:]])
        return sep.join(num[i : i + 4] for i in range(0, 16, 4))

    def bad_card(self) -> str:
        num = self.card().replace(" ", "").replace("-", "")
        last = str((int(num[-1]) + 1) % 10)  # Luhn-invalid by construction
        return num[:-1] + last

    def iban(self) -> str:
        r = self.r
        country, bban_len = r.choice([("GB", 18), ("DE", 18), ("FR", 23), ("NL", 14)])
        if country in ("GB", "NL"):
            bank = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
            bban = bank + "".join(str(r.randint(0, 9)) for _ in range(bban_len - 4))
        else:
            bban = "".join(str(r.randint(0, 9)) for _ in range(bban_len))
        rearranged = bban + country + "00"
        check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
        iban = f"{country}{check:02d}{bban}"
        if r.random() < 0.5:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        return iban

    def ipv4(self) -> str:
        r = self.r
        return ".".join(str(r.randint(1, 254)) for _ in range(4))

    def ipv6(self) -> str:
        addr = ipaddress.IPv6Address(self.r.getrandbits(128) & ~((1 << 64) - 1) | 1)
        return addr.compressed if self.r.random() < 0.5 else addr.exploded

    def mac(self) -> str:
        sep = self.r.choice([":", "-"])
        return sep.join(f"{self.r.randint(0, 255):02x}" for _ in range(6))

    def imei(self) -> str:
        r = self.r
        body = r.choice(["35", "86", "01"]) + "".join(str(r.randint(0, 9)) for _ in range(12))
        num = body + _luhn_digit(body)
        if r.random() < 0.3:
            return f"{num[:2]}-{num[2:8]}-{num[8:14]}-{num[14]}"
        return num

    def device_id(self) -> str:
        value = str(uuid.UUID(int=self.r.getrandbits(128), version=4))
        return value.upper() if self.r.random() < 0.5 else value

    def ssn(self) -> str:
        r = self.r
        area = r.choice([a for a in range(1, 900) if a != 666])
        return f"{area:03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}"

    def gps(self) -> str:
        r = self.r
        return f"{r.uniform(-80, 80):.5f}, {r.uniform(-170, 170):.5f}"

    def account(self) -> str:
        return "".join(str(self.r.randint(0, 9)) for _ in range(self.r.randint(8, 12)))


# Templates: {TYPE} is a gold span; {~name} is a non-PII filler from _FILLERS.
_LOG_TEMPLATES = [
    "{~ts} INFO login ok user={EMAIL_ADDRESS} ip={IP_ADDRESS} session={~hex} took={~ms}ms",
    "{~ts} WARN payment declined card={CREDIT_CARD} order={~order} amount={~price} EUR",
    "{~ts} DEBUG device={DEVICE_ID} imei={IMEI} app=shop/{~ver} build {~build}",
    "{~ts} INFO GET {URL} 200 {~ms}ms ua=Mozilla/5.0 Chrome/{~chrome}",
    "{~ts} INFO wifi bssid={MAC_ADDRESS} rssi=-{~small} channel {~small}",
    "{~ts} INFO client {IP_ADDRESS} port {~port} proto=tcp bytes={~bytes}",
    "{~ts} ERROR sepa transfer to {IBAN_CODE} failed ref={~order}",
    "{~ts} INFO location fix lat/lon {GPS_COORDINATES} accuracy {~small}m",
    "{~ts} INFO sms from {PHONE_NUMBER} delivered in {~ms}ms",
    "{~ts} INFO version {~version} started pid={~port} order {~order}",
    "{~ts} INFO card check {~badcard} rejected (checksum)",
]
_CHAT_TEMPLATES = [
    "hey, it's me, my new number is {PHONE_NUMBER}, call me after 6",
    "send the invoice to {EMAIL_ADDRESS} please, order {~order}",
    "my card is {CREDIT_CARD} exp 12/27, don't share it",
    "ssn {US_SSN} for the form, thanks",
    "we're at {GPS_COORDINATES} near the station",
    "pay to {IBAN_CODE} by friday, amount {~price}",
    "my account number is {ACCOUNT_NUMBER} at the bank",
    "check this {URL} lol",
    "the meeting is at {~time} on {~date}, room {~small}",
    "new phone imei {IMEI}, old one was lost",
    "ok see you at {~time}! my number {PHONE_NUMBER} or {EMAIL_ADDRESS}",
    "version {~version} is out, build {~build}, ticket #{~small}",
]


def _url(g: Gen, spans: list[tuple[int, int, str]], base: int) -> str:
    """A URL, sometimes carrying an e-mail (plain or percent-encoded) in its query."""
    r = g.r
    head = f"https://{r.choice(['shop', 'www', 'api'])}.example.com/{r.choice(['p', 'search'])}"
    if r.random() < 0.4:
        email = g.email()
        value = quote(email, safe="") if r.random() < 0.6 else email
        prefix = f"{head}?ref=news&email="
        spans.append((base + len(prefix), base + len(prefix) + len(value), "EMAIL_ADDRESS"))
        return f"{prefix}{value}&utm={r.randint(1, 999)}"
    return f"{head}?q={r.choice(['shoes', 'maps', 'hotel'])}&page={r.randint(1, 9)}"


def _filler(g: Gen, name: str) -> str:
    r = g.r
    fillers: dict[str, Callable[[], str]] = {
        "ts": lambda: (
            f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
            f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
        ),
        "hex": lambda: f"{r.getrandbits(64):016x}",
        "ms": lambda: str(r.randint(1, 5000)),
        "order": lambda: f"ORD-{r.randint(100000, 999999)}",
        "price": lambda: f"{r.randint(1, 999)}.{r.randint(0, 99):02d}",
        "ver": lambda: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
        "version": lambda: (
            f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 99)}"
        ),
        "build": lambda: str(r.randint(1000, 99999)),
        "chrome": lambda: f"{r.randint(90, 130)}.0.{r.randint(1000, 6999)}.{r.randint(10, 199)}",
        "small": lambda: str(r.randint(1, 99)),
        "port": lambda: str(r.randint(1024, 65535)),
        "bytes": lambda: str(r.randint(100, 99999)),
        "badcard": g.bad_card,
        "time": lambda: f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",
        "date": lambda: f"{r.randint(1, 28)}/{r.randint(1, 12)}/2026",
    }
    return fillers[name]()


def _render(g: Gen, template: str) -> Sample:
    values: dict[str, Callable[[], str]] = {
        "EMAIL_ADDRESS": g.email,
        "PHONE_NUMBER": g.phone,
        "CREDIT_CARD": g.card,
        "IBAN_CODE": g.iban,
        "MAC_ADDRESS": g.mac,
        "IMEI": g.imei,
        "DEVICE_ID": g.device_id,
        "US_SSN": g.ssn,
        "GPS_COORDINATES": g.gps,
        "ACCOUNT_NUMBER": g.account,
    }
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    i = 0
    while i < len(template):
        if template[i] != "{":
            out.append(template[i])
            pos += 1
            i += 1
            continue
        j = template.index("}", i)
        name = template[i + 1 : j]
        i = j + 1
        if name.startswith("~"):
            value = _filler(g, name[1:])
        elif name == "URL":
            value = _url(g, spans, pos)
            spans.append((pos, pos + len(value), "URL"))
        elif name == "IP_ADDRESS":
            value = g.ipv4() if g.r.random() < 0.7 else g.ipv6()
            spans.append((pos, pos + len(value), name))
        else:
            value = values[name]()
            spans.append((pos, pos + len(value), name))
        out.append(value)
        pos += len(value)
    text = "".join(out)
    return Sample(text, tuple(Span(s, e, t) for s, e, t in sorted(spans)))


def generate(n: int, seed: int = 20260101, chat_share: float = 0.5) -> list[Sample]:
    """Return ``n`` samples (log lines and chat messages) from a fixed seed."""
    rng = random.Random(seed)
    g = Gen(rng)
    out = []
    for _ in range(n):
        pool = _CHAT_TEMPLATES if rng.random() < chat_share else _LOG_TEMPLATES
        out.append(_render(g, rng.choice(pool)))
    return out
