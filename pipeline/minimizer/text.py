"""The ``scan`` action on free text: detect entities, apply each one's action.

URLs found in text are handed to :mod:`pipeline.minimizer.url`, which scans their decoded
components itself. Outside detected URLs, any token holding percent-escapes is decoded and
scanned too, so ``jo%40example.com`` in a log line is caught even where no URL was detected.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from detectors.findings import Finding
from pipeline.minimizer import url as _url
from pipeline.minimizer.state import RecordState, replace_entity
from pipeline.policy.models import Action

MAX_NESTING = 4  # URLs inside URL parameters inside URLs...: deeper is redacted whole
_DECODE_ROUNDS = 3  # double- and triple-encoded values are decoded too
_ENCODED = "_PERCENT_ENCODED"  # internal marker: a token rewritten by the URL pass
_URL_STRUCTURE = re.compile(r"[/?#=%@:&;]")  # anything beyond a bare host name
_ENCODED_TOKEN = re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")


def full_unquote(text: str) -> str:
    """Percent-decode up to three times (``%2540`` -> ``%40`` -> ``@``)."""
    for _ in range(_DECODE_ROUNDS):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    return text


def scan_text(text: str, path: str, st: RecordState, depth: int = 0) -> str:
    """Scan ``text`` and return it with every finding replaced per the purpose's rules."""
    if not text:
        return text
    findings = st.scan(text)
    if not findings and "%" not in text:
        return text  # what rewrite() returns for it, without building the pieces
    return rewrite(text, findings, path, st, depth)


def rewrite(text: str, findings: list[Finding], path: str, st: RecordState, depth: int) -> str:
    """Replace ``findings`` in ``text``; PII nested in a URL finding is left to the URL pass.

    Tokens with percent-escapes outside URL findings whose decoded form holds PII are
    rewritten whole by the URL pass (a finding on the raw escapes, such as ``%20-1.5000``
    read as a phone number, would otherwise cut the token and leave half of the PII).

    Args:
        text: the scanned text.
        findings: the scanner's findings for ``text``.
        path: the field path, for the audit.
        st: the record state.
        depth: how deep in nested URLs this text is.
    """
    items = sorted(findings, key=lambda f: (f.start, -f.end))
    if "%" in text and depth < MAX_NESTING:
        items = _with_encoded_tokens(text, items, st)
    out: list[str] = []
    pos = 0
    for f in items:
        if f.start < pos:  # inside a URL finding already handled (or an overlap)
            continue
        out.append(text[pos : f.start])
        span = text[f.start : f.end]
        if f.entity_type == _ENCODED:
            out.append(_url.minimize_url(span, path, st, depth + 1))
        else:
            out.append(_entity(span, f.entity_type, path, st, depth))
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def _with_encoded_tokens(text: str, items: list[Finding], st: RecordState) -> list[Finding]:
    urls = [(f.start, f.end) for f in items if f.entity_type == "URL"]
    spans: list[tuple[int, int]] = []
    for m in _ENCODED_TOKEN.finditer(text):
        s, e = m.span()
        if any(us <= s and e <= ue for us, ue in urls):
            continue  # the URL pass decodes its own parts
        decoded = full_unquote(m.group(0))
        if decoded == m.group(0) or not st.scan(decoded):
            continue
        # Grow the span over raw findings that overlap it, so none is cut in half.
        for f in items:
            if f.entity_type != "URL" and f.start < e and s < f.end:
                s, e = min(s, f.start), max(e, f.end)
        spans.append((s, e))
    if not spans:
        return items
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):  # grown spans may overlap: one rewrite each, none cut
        if merged and s < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    spans = merged
    kept = [f for f in items if not any(f.start < e and s < f.end for s, e in spans)]
    pseudo = [Finding(s, e, _ENCODED, 1.0, "percent-decoded") for s, e in spans]
    return sorted(kept + pseudo, key=lambda f: (f.start, -f.end))


def _entity(value: str, entity_type: str, path: str, st: RecordState, depth: int) -> str:
    action = st.entity_action(entity_type)
    if entity_type == "URL" and action is Action.KEEP:
        if not _URL_STRUCTURE.search(value):
            # A bare host name ("www.example.edu", often a path segment) has no parts that
            # could hold PII; taking it apart again would only find itself, level after level.
            st.audit.entity(path, entity_type, action)
            return value
        if depth >= MAX_NESTING:  # too deeply nested to take apart: fail closed
            st.audit.entity(path, entity_type, Action.REDACT)
            return "<URL>"
        st.audit.entity(path, entity_type, action)
        return _url.minimize_url(value, path, st, depth + 1)
    new = replace_entity(value, entity_type, action, st)
    if action is Action.GENERALIZE and new == f"<{entity_type}>":
        action = Action.REDACT  # no coarser form (DMS coordinates, a hostname): redacted
    st.audit.entity(path, entity_type, action)
    return new


__all__ = ["MAX_NESTING", "full_unquote", "rewrite", "scan_text"]
