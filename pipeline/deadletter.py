"""Dead-letter records: what Veil refused to forward, why, and where it came from.

Every mode (replay, streaming, sidecar) writes refused records in this one shape, so one tool
can read a dead-letter file and a dead-letter topic alike. A dead letter holds the *raw* input
bytes: the dead-letter store is therefore restricted (it holds unminimized data) and must never
be read by a purpose consumer. The ``message`` names where the bad value is and what was
expected, never the value itself.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pipeline.errors import Reason, RecordError

# Location keys are small scalars: file + line in replay, topic + partition + offset on Kafka,
# request id in the sidecar.
SourceValue = str | int | None


def _frozen(source: Mapping[str, SourceValue]) -> Mapping[str, SourceValue]:
    return MappingProxyType(dict(source))


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused record.

    Attributes:
        reason: machine-readable reason code (stable string, see :class:`Reason`).
        message: human-readable explanation naming the field or position, never a value.
        source: where the record came from, e.g. ``{"file": "a.log", "line": 12}`` or
            ``{"topic": "raw", "partition": 3, "offset": 1200}``. Read-only.
        raw: the record's bytes exactly as received (may be empty for an unreadable file).
    """

    reason: Reason
    message: str
    source: Mapping[str, SourceValue] = field(default_factory=dict)
    raw: bytes = b""

    def __post_init__(self) -> None:
        # A frozen record must not be changed through a mapping its caller still holds.
        object.__setattr__(self, "source", _frozen(self.source))

    def __reduce__(
        self,
    ) -> tuple[type[DeadLetter], tuple[Reason, str, dict[str, SourceValue], bytes]]:
        # A read-only mapping proxy cannot be pickled; dead letters cross process boundaries
        # (replay workers), so rebuild from a plain copy.
        return (type(self), (self.reason, self.message, dict(self.source), self.raw))

    @classmethod
    def from_error(
        cls, error: RecordError, *, source: Mapping[str, SourceValue], raw: bytes
    ) -> DeadLetter:
        """Build a dead letter from a per-record error raised by parsing or minimizing."""
        return cls(reason=error.reason, message=str(error), source=source, raw=raw)

    def to_dict(self) -> dict[str, object]:
        """Return the JSON-ready form.

        The raw bytes are stored as text under ``raw`` when they are valid UTF-8, otherwise
        base64-encoded under ``raw_b64``, so that the record can always be re-read exactly.
        """
        out: dict[str, object] = {
            "reason": str(self.reason),
            "message": self.message,
            "source": dict(self.source),
        }
        try:
            out["raw"] = self.raw.decode("utf-8")
        except UnicodeDecodeError:
            out["raw_b64"] = base64.b64encode(self.raw).decode("ascii")
        return out

    def to_json_line(self) -> str:
        """Return one JSON object on one line, without the trailing newline."""
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json_line(cls, line: str | bytes) -> DeadLetter:
        """Read back a line written by :meth:`to_json_line` (for tooling and tests).

        Raises:
            ValueError: the line is not a dead-letter record.
        """
        data = json.loads(line)
        if not isinstance(data, dict) or "reason" not in data:
            msg = "not a dead-letter record: expected an object with 'reason'"
            raise ValueError(msg)
        if "raw_b64" in data:
            raw = base64.b64decode(data["raw_b64"], validate=True)
        else:
            raw = str(data.get("raw", "")).encode("utf-8")
        source = data.get("source") or {}
        return cls(
            reason=Reason(data["reason"]),
            message=str(data.get("message", "")),
            source={str(k): v for k, v in source.items()},
            raw=raw,
        )
