"""Raw text log lines into Veil ``log`` events.

Apache and Nginx access logs (combined and common log format) and syslog (RFC 3164 and
RFC 5424) are parsed into the structured ``log`` payload so that the policy's *field* rules
apply (IP generalized, URL scanned, method and status kept...). Any other line becomes a
``log`` event whose ``payload.message`` is the whole line, which the policy scans as free text.

Parsing never fails: a line that matches no format is still an event. The parsers only
split; they never decide what is personal data (that is the minimizer's job), so every part
that may hold some (client address, remote user, request target, referrer, user agent,
message) is put in a field the policy names, and anything the policy does not name is
dropped downstream by its allow-list.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# %h %l %u %t "%r" %>s %b ["%{Referer}i" "%{User-agent}i"]. The user agent's closing quote is
# optional: real logs (e.g. the elastic sample) truncate long lines inside it.
# Quoted fields use the unrolled form [^"\\]*(?:\\.[^"\\]*)* of (?:[^"\\]|\\.)*: the same strings,
# without one alternation per character (a third of the parse time on long user agents).
_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
_ACCESS = re.compile(
    r"^(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
    rf'"(?P<request>{_QUOTED})" (?P<status>\d{{3}}|-) (?P<size>\d+|-)'
    rf'(?: "(?P<referrer>{_QUOTED})"(?: "(?P<agent>{_QUOTED})"?)?)?\s*$'
)

# METHOD TARGET [PROTOCOL] (no protocol: HTTP/0.9). Anything else is not a request line.
_REQUEST = re.compile(
    r"^(?P<method>[A-Z]{1,20}) (?P<target>\S+)(?: (?P<protocol>HTTP/\d(?:\.\d)?))?$"
)
# RFC 5424: <PRI>VERSION TIMESTAMP HOST APP PROCID MSGID [SD|-] MSG
_SYSLOG_5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<time>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?P<msg>.*))?$",
    re.DOTALL,
)
# RFC 3164 / traditional files: [<PRI>]Mmm dd hh:mm:ss HOST TAG[PID]: MSG
_SYSLOG_3164 = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<time>[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}) (?P<host>\S+) "
    r"(?P<tag>[^\s:\[]+)(?:\[(?P<pid>[^\]]*)\])?: ?(?P<msg>.*)$",
    re.DOTALL,
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


@dataclass(frozen=True, slots=True)
class LineOrigin:
    """Where a text line came from; used to build a stable, value-free event id.

    Attributes:
        file: the input's display name (a path or ``-`` for stdin).
        line: 1-based line number.
    """

    file: str
    line: int

    def event_id(self) -> str:
        """A stable id: the same line of the same file always gets the same id.

        The file name is hashed rather than embedded: a path can name a person.
        """
        return f"replay-{_file_digest(self.file)}-{self.line}"


@functools.lru_cache(maxsize=64)  # one hash per input file, not per line
def _file_digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ACCESS_TIME = re.compile(
    r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$"
)


@functools.lru_cache(maxsize=1024)  # busy logs repeat the second; pure
def _access_time(text: str) -> str | None:
    # strptime is a third of the parser's cost on access logs; the layout is fixed
    # ("17/May/2015:10:05:03 +0000"), so read it directly.
    m = _ACCESS_TIME.match(text)
    if m is None or m[2] not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, oh, om = m.groups()
    try:
        # The wall-clock time labelled UTC, then shifted by the line's own offset.
        wall = (int(year), _MONTHS[m[2]], int(day), int(hour), int(minute), int(second))
        local = datetime(*wall, tzinfo=UTC)
    except ValueError:
        return None
    offset = timedelta(hours=int(oh), minutes=int(om))
    utc = local - offset if sign == "+" else local + offset
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _dash(value: str | None) -> str | None:
    return None if value in (None, "", "-") else value


def _unescape(value: str | None) -> str | None:
    # Apache escapes '"' and '\' inside quoted fields.
    value = _dash(value)
    return value.replace('\\"', '"').replace("\\\\", "\\") if value else value


def parse_access(line: str) -> tuple[str | None, dict[str, Any]] | None:
    """Parse an Apache/Nginx combined or common log format line.

    Returns:
        ``(occurred_at, payload)`` with the payload fields ``ip``, ``auth_user``, ``url``
        (the request target), ``http`` (``method``, ``protocol``, ``status``, ``bytes``),
        ``referrer`` and ``user_agent`` (absent ones omitted); ``occurred_at`` is ISO-8601
        UTC or None when the timestamp does not parse. None when the line is not in the
        access log format.
    """
    m = _ACCESS.match(line)
    if m is None:
        return None
    occurred = _access_time(m["time"])
    http: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    request = _unescape(m["request"]) or ""
    req = _REQUEST.match(request)
    if req is not None:
        http["method"], payload["url"] = req["method"], req["target"]
        if req["protocol"]:
            http["protocol"] = req["protocol"]
    elif request:
        # Not a request line (binary probes, garbage): free text, scanned as such.
        payload["message"] = request
    if m["status"] != "-":
        http["status"] = int(m["status"])
    if m["size"] != "-":
        http["bytes"] = int(m["size"])
    for key, value in (
        ("ip", _dash(m["host"])),
        ("auth_user", _dash(m["user"])),
        ("referrer", _unescape(m["referrer"])),
        ("user_agent", _unescape(m["agent"])),
    ):
        if value is not None:
            payload[key] = value
    if http:
        payload["http"] = http
    return occurred, payload


def _syslog_fields(pri: str | None) -> dict[str, Any]:
    if pri is None or int(pri) > 191:  # 8 * 23 + 7: the highest PRI
        return {}
    facility, severity = divmod(int(pri), 8)
    return {"facility": facility, "severity": _SEVERITIES[severity]}


def parse_syslog(line: str, *, now: datetime) -> tuple[str | None, dict[str, Any]] | None:
    """Parse an RFC 5424 or RFC 3164 syslog line.

    RFC 3164 timestamps carry no year or zone: they are read as UTC in the latest year that
    does not put them after ``now`` (the replay's reference time).

    Returns:
        ``(occurred_at, payload)`` with ``app`` (``name``), ``message`` and ``syslog``
        (``host``, ``pid``, ``facility``, ``severity``); None when the line is not syslog.
    """
    m = _SYSLOG_5424.match(line)
    if m is not None:
        try:
            occurred: str | None = _iso(datetime.fromisoformat(m["time"].replace("Z", "+00:00")))
        except ValueError:
            occurred = None
        return occurred, _syslog_payload(m["app"], m["msg"], m["host"], m["pid"], m["pri"])
    m = _SYSLOG_3164.match(line)
    if m is None:
        return None
    month, day, clock = m["time"].split()
    if month not in _MONTHS:
        return None
    occurred = _year_less_time(_MONTHS[month], int(day), clock, now)
    return occurred, _syslog_payload(m["tag"], m["msg"], m["host"], m["pid"], m["pri"])


def _year_less_time(month: int, day: int, clock: str, now: datetime) -> str | None:
    hour, minute, second = (int(x) for x in clock.split(":"))
    ref = now.astimezone(UTC)
    for year in (ref.year, ref.year - 1):
        try:
            ts = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:  # Feb 29 in a non-leap year, hour 25...
            continue
        # A day of slack: hosts log in their local zone, which we cannot know.
        if ts <= ref + timedelta(days=1):
            return _iso(ts)
    return None


def _syslog_payload(
    app: str | None, msg: str | None, host: str | None, pid: str | None, pri: str | None
) -> dict[str, Any]:
    syslog: dict[str, Any] = _syslog_fields(pri)
    for key, value in (("host", _dash(host)), ("pid", _dash(pid))):
        if value is not None:
            syslog[key] = value
    payload: dict[str, Any] = {"message": msg or ""}
    if _dash(app) is not None:
        payload["app"] = {"name": app}
    if syslog:
        payload["syslog"] = syslog
    return payload


def line_to_event(line: str, origin: LineOrigin, *, now: datetime) -> dict[str, Any]:
    """Turn one raw text log line into a ``log`` event (envelope of DESIGN.md, Events).

    Tries the access log format, then syslog; anything else becomes ``payload.message``.
    ``user_id`` is always null (a raw log line names no account Veil can trust) and
    ``occurred_at`` is null when the line carries no parseable time.
    """
    parsed = parse_access(line) or parse_syslog(line, now=now)
    occurred, payload = parsed if parsed is not None else (None, {"message": line})
    return {
        "event_id": origin.event_id(),
        "kind": "log",
        "user_id": None,
        "occurred_at": occurred,
        "payload": payload,
    }


__all__ = ["LineOrigin", "line_to_event", "parse_access", "parse_syslog"]
