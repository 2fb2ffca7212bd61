"""URLs: remove PII from the parts of a URL and put it back together so it still parses.

Each path segment, query key and value and the fragment is percent-decoded (repeatedly, for
double encoding) and scanned; a part with findings is rewritten from its decoded form and
re-encoded, a part without is left byte-for-byte as it was. User info (``user:pw@``) is
always removed; an IP address as host follows the ``IP_ADDRESS`` entity rule (generalized to
the network address, or replaced by a placeholder host).
"""

from __future__ import annotations

from urllib.parse import (
    SplitResult,
    quote,
    quote_plus,
    unquote,
    unquote_plus,
    urlsplit,
    urlunsplit,
)

from detectors.findings import Finding
from pipeline.minimizer import text as _text
from pipeline.minimizer.generalize import generalize_ip
from pipeline.minimizer.state import RecordState, replace_entity
from pipeline.policy.models import Action

REDACTED_HOST = "redacted.invalid"  # RFC 2606: a name that can never resolve


def minimize_url(url: str, path: str, st: RecordState, depth: int = 1) -> str:
    """Return ``url`` without PII, still a URL (absolute or relative as it was).

    Args:
        url: the URL (or URL-like token with percent-escapes).
        path: the field path, for the audit.
        st: the record state.
        depth: nesting depth (URLs inside URL parameters).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:  # bad IPv6 brackets, port out of range: not a URL we can rebuild
        st.audit.entity(path, "URL", Action.REDACT)
        return "<URL>"
    netloc = _netloc(parts, host, port, path, st)
    new_path = "/".join(_part(seg, path, st, depth, query=False) for seg in parts.path.split("/"))
    query = "&".join(_pair(pair, path, st, depth) for pair in parts.query.split("&"))
    fragment = (
        _pair(parts.fragment, path, st, depth)
        if "=" in parts.fragment
        else _part(parts.fragment, path, st, depth, query=False)
    )
    return _residual_check(
        urlunsplit((parts.scheme, netloc, new_path, query, fragment)), path, st, depth
    )


def _residual_check(url: str, path: str, st: RecordState, depth: int) -> str:
    """Fail closed on PII that no single part showed: scan the rebuilt URL as a whole.

    Each part is scanned on its own, so a value that spans parts ("account" in the path and
    the number in the fragment; a MAC or IPv6 address read as "scheme:path", such as
    "a0:00:00:00:00:00") is seen by none. What the whole
    URL still holds is rewritten as text; what only its decoded form shows cannot be placed
    back into the escapes, so the URL is redacted whole.
    """
    residual = _residual(url, st)
    if residual:
        return _text.rewrite(url, residual, path, st, depth)
    decoded = _text.full_unquote(url)
    if decoded != url and _residual(decoded, st):
        st.audit.entity(path, "URL", Action.REDACT)
        return "<URL>"
    return url


def _residual(text: str, st: RecordState) -> list[Finding]:
    out = []
    for f in st.scan(text):
        if f.entity_type == "URL":
            continue
        span = text[f.start : f.end]
        action = st.entity_action(f.entity_type)
        if action is Action.GENERALIZE and generalize_ip(span, with_prefix=False) == span:
            continue  # a network address this pass already wrote (198.51.100.0)
        if replace_entity(span, f.entity_type, action, st) != span:
            out.append(f)
    return out


def _netloc(
    parts: SplitResult, host: str | None, port: int | None, path: str, st: RecordState
) -> str:
    if not parts.netloc:
        return ""
    if parts.username is not None or parts.password is not None:
        st.audit.entity(path, "URL_USERINFO", Action.DROP)
    if host is None:
        return ""
    shown = parts.netloc.rpartition("@")[2]
    if generalize_ip(host) is not None:  # an IP literal as host is an IP_ADDRESS (P4)
        action = st.entity_action("IP_ADDRESS")
        st.audit.entity(path, "IP_ADDRESS", action)
        if action is Action.KEEP:
            pass
        elif action is Action.GENERALIZE:
            net = generalize_ip(host, with_prefix=False) or REDACTED_HOST
            shown = f"[{net}]" if ":" in net else net
        else:
            shown = REDACTED_HOST
        if port is not None and action is not Action.KEEP:
            shown = f"{shown}:{port}"
    return shown


def _pair(pair: str, path: str, st: RecordState, depth: int) -> str:
    if not pair:
        return pair
    key, sep, value = pair.partition("=")
    for full in (False, True):
        dkey, dvalue = _decode(key, query=True, full=full), _decode(value, query=True, full=full)
        if full and (dkey, dvalue) == (_decode(key, True), _decode(value, True)):
            return pair  # nothing more to decode: no findings at any level
        # Scan key and value together: "account=12345678" needs its keyword as context.
        joined = f"{dkey}={dvalue}" if sep else dkey
        findings = st.scan(joined)
        if findings:
            return _rewrite_pair(key, value, sep, dkey, dvalue, findings, path, st, depth)
    return pair


def _rewrite_pair(
    key: str,
    value: str,
    sep: str,
    dkey: str,
    dvalue: str,
    findings: list[Finding],
    path: str,
    st: RecordState,
    depth: int,
) -> str:
    joined = f"{dkey}={dvalue}" if sep else dkey
    cut = len(dkey)
    key_f = [f for f in findings if f.end <= cut]
    value_f = [f for f in findings if f.start > cut]
    if len(key_f) + len(value_f) < len(findings):  # PII across the '=': one value
        return quote_plus(_text.rewrite(joined, findings, path, st, depth), safe="")
    new_key = key if not key_f else quote_plus(_text.rewrite(dkey, key_f, path, st, depth), safe="")
    if not sep:
        return new_key
    shifted = [_shift(f, cut + 1) for f in value_f]
    new_value = (
        value
        if not shifted
        else quote_plus(_text.rewrite(dvalue, shifted, path, st, depth), safe="")
    )
    return f"{new_key}={new_value}"


def _part(segment: str, path: str, st: RecordState, depth: int, *, query: bool) -> str:
    if not segment:
        return segment
    if "=" in segment:  # "user=jo%40example.com" outside a query string: same as a pair
        return "&".join(_pair(p, path, st, depth) for p in segment.split("&"))
    once = _decode(segment, query)
    for decoded in dict.fromkeys((once, _decode(segment, query, full=True))):
        findings = st.scan(decoded)
        if findings:
            return quote(_text.rewrite(decoded, findings, path, st, depth), safe="")
    return segment


def _decode(text: str, query: bool, *, full: bool = False) -> str:
    """Decode one level of escapes (a nested URL keeps its own); ``full``: every level.

    One level first, so that a URL inside a parameter is still a URL whose own parameters
    are decoded in turn; all levels as well, so that double-encoded PII is still seen.
    """
    text = unquote_plus(text, errors="replace") if query else unquote(text, errors="replace")
    return _text.full_unquote(text) if full else text


def _shift(f: Finding, by: int) -> Finding:
    return Finding(f.start - by, f.end - by, f.entity_type, f.score, f.detector)


__all__ = ["REDACTED_HOST", "minimize_url"]
