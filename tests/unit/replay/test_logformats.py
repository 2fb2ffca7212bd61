"""Raw text log lines into ``log`` events: access logs, syslog, anything else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pipeline.replay.logformats import LineOrigin, line_to_event, parse_access, parse_syslog

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORIGIN = LineOrigin("access.log", 7)

COMBINED = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a/b.png?x=1 HTTP/1.1" 200 203023 '
    '"http://semicomplete.com/p/" "Mozilla/5.0 (Macintosh)"'
)


@pytest.mark.parametrize(
    ("line", "occurred", "payload"),
    [
        (
            COMBINED,
            "2015-05-17T10:05:03Z",
            {
                "ip": "83.149.9.216",
                "url": "/a/b.png?x=1",
                "referrer": "http://semicomplete.com/p/",
                "user_agent": "Mozilla/5.0 (Macintosh)",
                "http": {"method": "GET", "protocol": "HTTP/1.1", "status": 200, "bytes": 203023},
            },
        ),
        (  # common log format, IPv6 client, remote user, size "-", zone converted to UTC
            '2001:db8::1 - jo [25/Oct/2015:04:11:25 +0100] "POST /join HTTP/1.0" 302 -',
            "2015-10-25T03:11:25Z",
            {
                "ip": "2001:db8::1",
                "auth_user": "jo",
                "url": "/join",
                "http": {"method": "POST", "protocol": "HTTP/1.0", "status": 302},
            },
        ),
        (  # user agent truncated without its closing quote (as in the elastic sample)
            '1.2.3.4 - - [20/May/2015:12:05:17 +0000] "GET / HTTP/1.1" 200 235 "-" '
            '"Mozilla/5.0 (compat',
            "2015-05-20T12:05:17Z",
            {
                "ip": "1.2.3.4",
                "url": "/",
                "user_agent": "Mozilla/5.0 (compat",
                "http": {"method": "GET", "protocol": "HTTP/1.1", "status": 200, "bytes": 235},
            },
        ),
        (  # not a request line: kept as free text for scanning; escaped quotes unescaped
            '1.2.3.4 - - [20/May/2015:12:05:17 +0000] "\\x16\\x03 \\"jo@x.io\\"" 400 0 "-" "-"',
            "2015-05-20T12:05:17Z",
            {
                "ip": "1.2.3.4",
                "message": '\\x16\\x03 "jo@x.io"',
                "http": {"status": 400, "bytes": 0},
            },
        ),
        (  # unparseable timestamp: still an access line, time unknown
            '1.2.3.4 - - [yesterday] "GET / HTTP/1.1" 200 1',
            None,
            {
                "ip": "1.2.3.4",
                "url": "/",
                "http": {"method": "GET", "protocol": "HTTP/1.1", "status": 200, "bytes": 1},
            },
        ),
    ],
)
def test_access_lines(line: str, occurred: str | None, payload: dict[str, Any]) -> None:
    assert parse_access(line) == (occurred, payload)


@pytest.mark.parametrize(
    "line",
    [
        "Oct 11 22:14:15 host sshd[1]: Accepted password",
        "just a message with jo@example.com",
        '1.2.3.4 - - [17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" abc 12',
        "",
    ],
)
def test_non_access_lines(line: str) -> None:
    assert parse_access(line) is None


@pytest.mark.parametrize(
    ("line", "occurred", "payload"),
    [
        (
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed on /dev/pts/8",
            "2025-10-11T22:14:15Z",  # no year in RFC 3164: latest one not after NOW
            {
                "message": "'su root' failed on /dev/pts/8",
                "app": {"name": "su"},
                "syslog": {"facility": 4, "severity": "crit", "host": "mymachine"},
            },
        ),
        (
            "Feb  3 01:02:03 web-1 cron[812]: job done",
            "2026-02-03T01:02:03Z",
            {
                "message": "job done",
                "app": {"name": "cron"},
                "syslog": {"host": "web-1", "pid": "812"},
            },
        ),
        (
            "<165>1 2003-10-11T22:14:15.003Z h.example.com evntslog - ID47 "
            '[exampleSDID@32473 iut="3"] An application event',
            "2003-10-11T22:14:15Z",
            {
                "message": "An application event",
                "app": {"name": "evntslog"},
                "syslog": {"facility": 20, "severity": "notice", "host": "h.example.com"},
            },
        ),
    ],
)
def test_syslog_lines(line: str, occurred: str, payload: dict[str, Any]) -> None:
    assert parse_syslog(line, now=NOW) == (occurred, payload)


@pytest.mark.parametrize("line", [COMBINED, "hello world", "Foo 11 22:14:15 h t: m"])
def test_non_syslog_lines(line: str) -> None:
    assert parse_syslog(line, now=NOW) is None


@pytest.mark.parametrize(
    ("line", "has_ip", "message"),
    [
        (COMBINED, True, None),
        ("Oct 11 22:14:15 host app: a b", False, "a b"),
        ("free text, call +44 20 7946 0958", False, "free text, call +44 20 7946 0958"),
    ],
)
def test_line_to_event_envelope(line: str, has_ip: bool, message: str | None) -> None:
    event = line_to_event(line, ORIGIN, now=NOW)
    assert event["kind"] == "log"
    assert event["user_id"] is None
    assert event["event_id"] == ORIGIN.event_id()
    assert ("ip" in event["payload"]) is has_ip
    assert event["payload"].get("message") == message


def test_event_id_is_stable_and_hides_the_path() -> None:
    a = LineOrigin("/home/jo.smith/logs/a.log", 3)
    assert a.event_id() == LineOrigin("/home/jo.smith/logs/a.log", 3).event_id()
    assert a.event_id() != LineOrigin("/home/jo.smith/logs/a.log", 4).event_id()
    assert a.event_id() != LineOrigin("/home/jo.smith/logs/b.log", 3).event_id()
    assert "jo.smith" not in a.event_id()


@pytest.mark.parametrize(
    ("stamp", "iso"),
    [
        ("17/May/2015:10:05:03 +0000", "2015-05-17T10:05:03Z"),
        ("01/Jan/2016:00:30:00 +0100", "2015-12-31T23:30:00Z"),
        ("31/Dec/2015:23:30:00 -0530", "2016-01-01T05:00:00Z"),
        ("31/Feb/2015:10:05:03 +0000", None),
        ("17/Mai/2015:10:05:03 +0000", None),
        ("17/May/2015:10:05:03", None),
    ],
)
def test_access_time_to_utc(stamp: str, iso: str | None) -> None:
    line = f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1'
    parsed = parse_access(line)
    assert parsed is not None
    assert parsed[0] == iso
