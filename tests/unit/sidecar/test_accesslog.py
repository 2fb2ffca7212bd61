"""Access log targets carry no query values and no PII in paths or query key names."""

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
        ("/users/jo@example.com/avatar", "", "/users/<EMAIL_ADDRESS>/avatar"),
        ("/users/jo%40example.com/avatar", "", "/users/<EMAIL_ADDRESS>/avatar"),
        ("/cards/4111%201111%201111%201111", "", "/cards/<CREDIT_CARD>"),
        ("/orders/12345", "", "/orders/12345"),
        ("/x", "jo%40example.com=1&ok=2", "/x?<EMAIL_ADDRESS>=&ok="),
        ("/x", "a%0Ab=1", "/x?a%0Ab="),
    ],
)
def test_safe_target(path: str, query: str, expected: str) -> None:
    assert safe_target(path, query) == expected


def test_long_paths_are_cut() -> None:
    out = safe_target("/" + "x" * 1000, "")
    assert len(out) == MAX_LOGGED_PATH + 3


def test_long_paths_are_redacted_before_they_are_cut() -> None:
    out = safe_target("/" + "x" * (MAX_LOGGED_PATH - 8) + "/jo@example.com", "")
    assert "jo@" not in out and "example" not in out
