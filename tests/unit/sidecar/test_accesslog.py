"""Access log targets carry no query values."""

from __future__ import annotations

import pytest

from pipeline.sidecar.accesslog import MAX_LOGGED_PATH, safe_target


@pytest.mark.parametrize(
    ("path", "query", "expected"),
    [
        ("/v1/strip", "", "/v1/strip"),
        ("/v1/minimize", "purpose=analytics", "/v1/minimize?purpose="),
        ("/upload", "email=jo%40example.com&token=abc&flag", "/upload?email=&token=&flag="),
        ("/u", "a=1&a=2", "/u?a=&a="),
    ],
)
def test_safe_target(path: str, query: str, expected: str) -> None:
    assert safe_target(path, query) == expected


def test_long_paths_are_cut() -> None:
    out = safe_target("/" + "x" * 1000, "")
    assert len(out) == MAX_LOGGED_PATH + 3
