"""One scanner call per record: find which scanned values hold nothing to rewrite.

Scanning each field, URL path segment and query pair on its own costs a scanner call each
(eight or more per access-log line). Instead, every value a ``scan`` rule will see is put
once into a single text, in the forms the detailed pass would scan (raw; percent-decoded
once and fully; for URLs, their decoded parts with the URL separators turned into spaces),
separated by blank lines, which no detector matches across. A value with no finding in any
of its forms is *clean*: the detailed pass returns it unchanged without scanning it again.
Any finding, even a URL or a false positive caused by a neighbouring value, sends the value
through the detailed pass, so this only saves work and never decides what is PII.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from pipeline.minimizer.plan import Leaf, Obj
from pipeline.minimizer.text import full_unquote
from pipeline.policy.models import Action, FieldType

SEPARATOR = "\n\n"
_URL_SEPARATORS = str.maketrans(dict.fromkeys("/?#&=", " "))


def clean_values(root: Obj, event: Mapping[str, Any], scan: Any) -> frozenset[str]:
    """The scanned string values of ``event`` in which ``scan`` finds nothing at all."""
    views: list[tuple[str, str]] = []
    _collect(event, root, views)
    if not views:
        return frozenset()
    pieces: list[str] = []
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for value, view in views:
        pieces.append(view)
        spans.append((pos, pos + len(view), value))
        pos += len(view) + len(SEPARATOR)
    findings = scan(SEPARATOR.join(pieces))
    dirty: set[str] = set()
    i = 0
    for start, end, value in spans:
        while i < len(findings) and findings[i].end <= start:
            i += 1
        j = i
        while j < len(findings) and findings[j].start < end:
            if findings[j].end > start:
                dirty.add(value)
                break
            j += 1
    return frozenset(v for _, _, v in spans if v not in dirty)


def _collect(src: Any, node: Any, views: list[tuple[str, str]]) -> None:
    if isinstance(node, Leaf):
        if node.action is Action.SCAN and isinstance(src, str) and src:
            view = _url_view(src) if node.spec.type is FieldType.URL else _text_view(src)
            if view is not None:
                views.append((src, view))
        return
    if isinstance(node, Obj):
        if isinstance(src, Mapping):
            for key, child in node.children.items():
                if key in src:
                    _collect(src[key], child, views)
        return
    if isinstance(src, list):  # ListOf
        for item in src:
            _collect(item, node.item, views)


def _text_view(text: str) -> str:
    if "%" not in text:
        return text
    decoded = full_unquote(text)
    return text if decoded == text else f"{text}{SEPARATOR}{decoded}"


def _url_view(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        return None  # not rebuildable: the detailed pass decides
    if has_userinfo:
        return None  # user info is always removed: the detailed pass must run
    if parts.scheme and not parts.netloc:
        return None  # "a0:00:00:00:00:00" splits inside the value: the detailed pass decides
    once = unquote(parts.netloc) + " " + unquote(parts.path) + " " + unquote_plus(parts.query)
    once += " " + unquote_plus(parts.fragment)
    forms = dict.fromkeys((once, full_unquote(once)))
    return SEPARATOR.join(f.translate(_URL_SEPARATORS) for f in forms)


__all__ = ["SEPARATOR", "clean_values"]
