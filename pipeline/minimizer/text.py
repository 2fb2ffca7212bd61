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
    return rewrite(text, st.scan(text), path, st, depth)


def rewrite(text: str, findings: list[Finding], path: str, st: RecordState, depth: int) -> str:
    """Replace ``findings`` in ``text``; PII nested in a URL finding is left to the URL pass.

    Args:
        text: the scanned text.
        findings: the scanner's findings for ``text``.
        path: the field path, for the audit.
        st: the record state.
        depth: how deep in nested URLs this text is.
    """
    out: list[str] = []
    pos = 0
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.start < pos:  # inside a URL finding already handled (or an overlap)
            continue
        out.append(_encoded_tokens(text[pos : f.start], path, st, depth))
        out.append(_entity(text[f.start : f.end], f.entity_type, path, st, depth))
        pos = f.end
    out.append(_encoded_tokens(text[pos:], path, st, depth))
    return "".join(out)


def _entity(value: str, entity_type: str, path: str, st: RecordState, depth: int) -> str:
    action = st.entity_action(entity_type)
    st.audit.entity(path, entity_type, action)
    if entity_type == "URL" and action is Action.KEEP:
        if depth >= MAX_NESTING:
            st.audit.entity(path, entity_type, Action.REDACT)
            return "<URL>"
        return _url.minimize_url(value, path, st, depth + 1)
    return replace_entity(value, entity_type, action, st)


def _encoded_tokens(text: str, path: str, st: RecordState, depth: int) -> str:
    # Scanning a decoded copy costs a scan per escaped token: only where '%' occurs.
    if "%" not in text or depth >= MAX_NESTING:
        return text

    def fix(m: re.Match[str]) -> str:
        token = m.group(0)
        decoded = full_unquote(token)
        if decoded == token or not st.scan(decoded):
            return token
        return _url.minimize_url(token, path, st, depth + 1)

    return _ENCODED_TOKEN.sub(fix, text)


__all__ = ["MAX_NESTING", "full_unquote", "rewrite", "scan_text"]
