"""Property: any text line becomes a valid ``log`` event (what lets the runner skip
re-validating events it builds from text lines), and parsing never raises."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.events import validate_envelope
from pipeline.replay.logformats import LineOrigin, line_to_event, parse_access, parse_syslog

NOW = datetime(2026, 11, 1, tzinfo=UTC)
# Text a strict UTF-8 decode can yield: no surrogates; no line breaks (the reader splits them).
LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    max_size=300,
)
ACCESS_LIKE = st.builds(
    lambda host, user, stamp, req, status, size, ref, agent: (
        f'{host} - {user} [{stamp}] "{req}" {status} {size} "{ref}" "{agent}"'
    ),
    st.from_regex(r"[0-9a-f.:]{1,39}", fullmatch=True),
    st.sampled_from(["-", "jo", "a b"]),
    st.sampled_from(["17/May/2015:10:05:03 +0000", "31/Feb/2015:00:00:00 +0000", "x"]),
    LINE_TEXT,
    st.sampled_from(["200", "-", "999"]),
    st.sampled_from(["0", "-", "123456789012"]),
    LINE_TEXT,
    LINE_TEXT,
)
SYSLOG_LIKE = st.builds(
    lambda pri, rest: f"<{pri}>{rest}",
    st.integers(0, 999),
    st.one_of(LINE_TEXT, st.builds(lambda t: f"Feb 29 12:00:00 h app[1]: {t}", LINE_TEXT)),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(LINE_TEXT, ACCESS_LIKE, SYSLOG_LIKE), st.integers(1, 10**9))
def test_any_line_is_a_valid_log_event(line: str, number: int) -> None:
    event = line_to_event(line, LineOrigin("in.log", number), now=NOW)
    validate_envelope(event)  # raises MalformedEvent if not
    assert event["kind"] == "log"
    assert event["user_id"] is None
    # A line no parser claims is kept whole as free text (and scanned), never dropped.
    if parse_access(line) is None and parse_syslog(line, now=NOW) is None:
        assert event["payload"] == {"message": line}
