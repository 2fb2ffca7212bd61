"""Differential check of the scanner: same texts, two implementations, every finding compared.

Used to show that a change meant to be behaviour-neutral (compilation, speed work, a rewrite)
changes no result. Three steps, each a separate process so each can import a different build:

    .venv/bin/python scripts/scanner_diff.py texts OUT.json [--seed S] [--count N] [--corpora]
    .venv/bin/python scripts/scanner_diff.py scan TEXTS.json OUT.json [--repo DIR]
    .venv/bin/python scripts/scanner_diff.py compare A.json B.json [--texts TEXTS.json]

``texts`` writes fixed-seed random texts built from PII pieces (e-mails, cards, phones, IBANs,
URLs with percent-encoding, coordinates, MACs, UUIDs), separators, NUL, lone surrogates and
non-ASCII digits; ``--corpora`` appends the detector benchmark's two corpora. ``scan`` runs
``detectors.scanner.scan`` from ``--repo`` (default: this checkout; point it at an exported
older commit to compare versions, or run it after ``scripts/build-native --clean`` for pure
Python) and records each text's findings, or the exception type. ``compare`` prints how many
texts differ and the first few; it exits 1 when any does.

The findings written hold offsets and types only; the texts file holds the synthetic texts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_PIECES = (
    "jo@example.com", "a.b+c@sub.example.co.uk", "%40", "%2540", "+", "#", "x", "ext. 3",
    "https://x.org/a?email=jo%40ex.de&lat=48.85837&lon=2.2945#p", "www.ex.com/p/1234-5678",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "490154203237518", "+44 7911 123456",
    "(201) 513-1479", "201-513-1479 x12", "+33 6 12 23 55 12", "078-05-1120", "123-45-6789",
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "10.1.2.3", "999.1.1.1",
    "2001:db8::1", "fe80::1%eth0", "00:1A:2B:3C:4D:5E", "0123.4567.89ab",
    "6D92078A-8246-4BA4-AE5B-76104861E7DC", "cafebabe-dead-beef-cafe-babecafebabe",
    "48.858370, 2.294481", "40°26′46″N 79°58′56″W", "lat: 48.8583", "version 1.2.3.4",
    "2026-01-05", "12:30:45", "acct 12345678", "tel 0201 555 0100", "ssn 078051120",
    "imei 490154203237518", "ORD-889407", "1.1.1.1.1", "Chrome/121.0.4780.172", "a@a@a",
    "Zoë", "ünï", "✓", "\x00", "\ud800", "٣٤٥٦٧٨٩٠١٢", "  ", "\n", "/", "-", ".", ":", "::",
    "(", ")",
)  # fmt: skip
_NOISE = "0123456789 .-/()+:@%abcxAF#é✓"
_GLUE = (" ", "", "\t", ", ", "=", "&", "/", ":", "%20", "\u00a0")


def make_texts(seed: int, count: int) -> list[str]:
    """``count`` random texts, the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.7:
                parts.append(rng.choice(_PIECES))
            else:
                parts.append("".join(rng.choice(_NOISE) for _ in range(rng.randint(1, 25))))
            parts.append(rng.choice(_GLUE))
        out.append("".join(parts))
    return out


def _texts(args: argparse.Namespace) -> int:
    texts = make_texts(args.seed, args.count)
    if args.corpora:
        sys.path.insert(0, str(REPO))
        from benchmarks._textcorpus import generate
        from benchmarks.detectors import load_v2

        texts += [s.text for s in generate(4000)] + [s.text for s in load_v2()]
    Path(args.out).write_text(json.dumps(texts), encoding="utf-8")
    print(f"{len(texts)} texts -> {args.out}")
    return 0


def _scan(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(args.repo).resolve()))
    import detectors.scanner as scanner

    build = "compiled" if str(scanner.__file__).endswith(".so") else "pure Python"
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    results: list[object] = []
    for text in texts:
        try:
            found = scanner.scan(text)
        except Exception as exc:  # recorded, not raised: a crash is a difference too
            results.append(["ERROR", type(exc).__name__])
            continue
        results.append([[f.start, f.end, f.entity_type, f.score, f.detector] for f in found])
    Path(args.out).write_text(json.dumps(results), encoding="utf-8")
    print(f"{len(texts)} texts scanned by {scanner.__file__} ({build}) -> {args.out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    a = json.loads(Path(args.a).read_text(encoding="utf-8"))
    b = json.loads(Path(args.b).read_text(encoding="utf-8"))
    texts = json.loads(Path(args.texts).read_text(encoding="utf-8")) if args.texts else None
    if len(a) != len(b):
        print(f"different lengths: {len(a)} vs {len(b)}")
        return 1
    differ = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    findings = sum(len(x) for x in a if x and x[0] != "ERROR")
    errors = sum(1 for x in a if x and x[0] == "ERROR")
    print(f"{len(a)} texts, {findings} findings, {errors} errors in A; {len(differ)} differ")
    for i in differ[:5]:
        print(f"  #{i}: {texts[i]!r}" if texts else f"  #{i}")
        print(f"    A {a[i]}\n    B {b[i]}")
    return 1 if differ else 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("texts")
    t.add_argument("out")
    t.add_argument("--seed", type=int, default=7)
    t.add_argument("--count", type=int, default=60_000)
    t.add_argument("--corpora", action="store_true")
    s = sub.add_parser("scan")
    s.add_argument("texts")
    s.add_argument("out")
    s.add_argument("--repo", default=str(REPO))
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--texts")
    args = ap.parse_args(argv)
    return {"texts": _texts, "scan": _scan, "compare": _compare}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
