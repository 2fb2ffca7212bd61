"""Cheap cleanliness checks: which URL and percent-encoded values hold nothing to rewrite.

The detailed pass over a URL scans each path segment, query pair and the fragment on its own,
decoded once and fully (three to ten scanner calls for an access-log URL), and a text with
percent-escapes has its encoded tokens decoded and scanned one by one. Instead, each such
value is first scanned once in a *view*: the forms the detailed pass would scan (raw; decoded
once and fully; for URLs, their decoded parts with the URL separators but ``=`` turned into
spaces),
separated by blank lines, which no detector matches across. A value with no finding in its
view is *clean*: the detailed pass returns it unchanged without scanning it again. Any
finding, even a URL or a false positive, sends the value through the detailed pass, so this
only saves work and never decides what is PII.

A plain text (no ``%``) needs no view: its detailed pass is one scan of the text itself, and
with the record's scan memo (see :mod:`pipeline.minimizer.core`) that scan is made once.
Views are pure functions of the value, cached, so repeated URLs cost one view each.
"""

from __future__ import annotations

import functools
from urllib.parse import unquote, unquote_plus, urlsplit

from pipeline.minimizer.text import full_unquote

SEPARATOR = "\n\n"
# "=" stays: a query pair is scanned as "key=value" (the key is the value's context).
_URL_SEPARATORS = str.maketrans(dict.fromkeys("/?#&", " "))


def needs_view(value: str, is_url: bool) -> bool:
    """Whether ``value`` is worth a cleanliness check before the detailed pass."""
    return bool(value) and (is_url or "%" in value)


@functools.lru_cache(maxsize=4096)
def view(value: str, is_url: bool) -> str | None:
    """The text whose scan decides whether ``value`` is clean; None: always run the pass."""
    return _url_view(value) if is_url else _text_view(value)


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
    # Parts joined by spaces: PII that spans parts ("account" in the path, the number in the
    # fragment) is in the view, as the detailed pass's final whole-URL scan would see it.
    forms = dict.fromkeys((once, full_unquote(once)))
    return SEPARATOR.join(f.translate(_URL_SEPARATORS) for f in forms)


__all__ = ["SEPARATOR", "needs_view", "view"]
