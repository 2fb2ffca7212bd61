"""Shared test configuration."""

from __future__ import annotations

import os
from pathlib import Path

# Presidio's e-mail validator uses tldextract, which would fetch the public suffix list.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
