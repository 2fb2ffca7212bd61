"""``veil scan``: find or redact PII in a text file or stdin.

Input is read as bytes in bounded pieces: one line at a time, and a line longer than
:data:`CHUNK_BYTES` is cut at the last whitespace before the limit, so memory stays bounded on
a 10 GB single-line file. Offsets in the output are per line: ``line`` is 1-based and
``start``/``end`` count code points from the start of that line (pieces of a long line keep
line-relative offsets).

Decode policy: bytes that are not UTF-8 are decoded with ``surrogateescape``; each such byte
counts as one character, is never part of a finding, and ``--redact`` writes it back unchanged.
The number of lines with such bytes is reported on stderr. NUL bytes are ordinary characters.
Exit codes: 0 processed, 1 the input could not be read, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from typing import IO, Any

from detectors.findings import Finding
from pipeline.cli.env import env_flag

CHUNK_BYTES = 1 << 20  # longest piece scanned at once
_CUT_BACK = 256  # how far back from the limit a whitespace is looked for
_MASK = "****"


def add_parser(subparsers: Any) -> None:
    """Register ``veil scan``."""
    p = subparsers.add_parser(
        "scan",
        help="find or redact PII in text (file or stdin)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "file",
        nargs="?",
        default=os.environ.get("VEIL_SCAN_FILE", "-"),
        help="input file, or - for stdin (env VEIL_SCAN_FILE; default -)",
    )
    p.add_argument(
        "--format",
        choices=("text", "jsonl"),
        default=os.environ.get("VEIL_SCAN_FORMAT", "text"),
        help="findings output format (env VEIL_SCAN_FORMAT; default text)",
    )
    p.add_argument(
        "--redact",
        action="store_true",
        default=env_flag("VEIL_SCAN_REDACT"),
        help="print the text with each finding replaced by <ENTITY_TYPE> (env VEIL_SCAN_REDACT)",
    )
    p.add_argument(
        "--show-values",
        action="store_true",
        default=env_flag("VEIL_SCAN_SHOW_VALUES"),
        help="print matched values instead of a mask (env VEIL_SCAN_SHOW_VALUES)",
    )
    p.add_argument(
        "--ner",
        action="store_true",
        default=env_flag("VEIL_SCAN_NER"),
        help="also find PERSON and LOCATION with Presidio + spaCy (env VEIL_SCAN_NER)",
    )
    p.add_argument(
        "--entities",
        default=os.environ.get("VEIL_SCAN_ENTITIES", ""),
        help="comma-separated entity types to look for (env VEIL_SCAN_ENTITIES; default all)",
    )
    p.set_defaults(func=handler)


def iter_pieces(stream: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(line_number, char_offset_in_line, piece)`` with pieces of at most CHUNK_BYTES.

    A piece ends at a newline, or for a long line at the last whitespace before the limit
    (a hard cut only when there is none within the last ``_CUT_BACK`` bytes).
    """
    line_no = 1
    offset = 0
    carry = b""
    while True:
        chunk = stream.readline(CHUNK_BYTES - len(carry))
        if not chunk and not carry:
            return
        data = carry + chunk
        carry = b""
        if data.endswith(b"\n") or not chunk:
            yield line_no, offset, data
            line_no += 1
            offset = 0
            continue
        cut = max(data.rfind(b" ", len(data) - _CUT_BACK), data.rfind(b"\t", len(data) - _CUT_BACK))
        cut = cut + 1 if cut > 0 else _utf8_boundary(data)
        piece, carry = data[:cut], data[cut:]
        yield line_no, offset, piece
        offset += len(piece.decode("utf-8", "surrogateescape"))


def _utf8_boundary(data: bytes) -> int:
    """Length of ``data`` without a trailing incomplete UTF-8 sequence (hard cut point)."""
    for k in range(1, min(4, len(data)) + 1):
        b = data[-k]
        if b < 0x80:
            break
        if b >= 0xC0:
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return len(data) - k if need > k and k < len(data) else len(data)
    return len(data)


def handler(args: argparse.Namespace) -> int:
    """Run ``veil scan``; returns the exit code."""
    from detectors.scanner import get_scanner

    wanted = [e.strip() for e in args.entities.split(",") if e.strip()] or None
    try:
        scanner = get_scanner(wanted)
    except ValueError as exc:
        print(f"veil scan: --entities: {exc}", file=sys.stderr)
        return 2
    ner = None
    if args.ner:
        from detectors.ner import NerDetector, NerUnavailable

        try:
            ner = NerDetector()
        except NerUnavailable as exc:
            print(f"veil scan: --ner: {exc}", file=sys.stderr)
            return 2
    try:
        stream: IO[bytes] = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    except OSError as exc:
        print(f"veil scan: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    out = sys.stdout.buffer
    counts: Counter[str] = Counter()
    lines = bad_lines = 0
    try:
        with stream:
            for line_no, offset, raw in iter_pieces(stream):
                text = raw.decode("utf-8", "surrogateescape")
                if offset == 0:
                    lines += 1
                    if any("\udc80" <= c <= "\udcff" for c in text) and not raw.isascii():
                        bad_lines += 1
                findings = scanner.scan(text)
                if ner is not None:
                    findings = ner.merge(text, findings)
                counts.update(f.entity_type for f in findings)
                _emit(out, args, text, line_no, offset, findings)
    except BrokenPipeError:
        # The reader went away (`veil scan ... | head`): not an input error. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"veil scan: error reading {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "none"
    print(f"veil scan: {lines} lines, findings: {summary}", file=sys.stderr)
    if bad_lines:
        print(
            f"veil scan: {bad_lines} lines had bytes that are not UTF-8; kept as-is, never "
            "part of a finding",
            file=sys.stderr,
        )
    return 0


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _emit(
    out: IO[bytes],
    args: argparse.Namespace,
    text: str,
    line_no: int,
    offset: int,
    findings: list[Finding],
) -> None:
    from detectors.scanner import redact

    if args.redact:
        out.write(_enc(redact(text, findings)))
        return
    for f in findings:
        value = text[f.start : f.end] if args.show_values else _MASK
        if args.format == "jsonl":
            record = {
                "line": line_no,
                "start": offset + f.start,
                "end": offset + f.end,
                "entity_type": f.entity_type,
                "score": round(f.score, 3),
                "detector": f.detector,
                "value": value,
            }
            out.write(json.dumps(record, ensure_ascii=True).encode() + b"\n")
        else:
            shown = value.replace("\n", "\\n") if args.show_values else value
            span = f"{line_no}:{offset + f.start}-{offset + f.end}"
            out.write(_enc(f"{span}\t{f.entity_type}\t{shown}\n"))
