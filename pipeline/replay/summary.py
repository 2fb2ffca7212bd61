"""Replay counters and the end-of-run summary.

The counters obey one invariant, checked at the end of every run and in the tests: every
record read is accounted for exactly once, ``records_in == out + dropped + dead_lettered``.
Only counts and type names are kept: the summary is printed and logged, so it holds no values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    """Mutable counters of one replay (or one chunk of it; chunks are merged in order).

    Attributes:
        records_in: records read, including those that could not be read or parsed.
        out: records written to the output.
        dropped: records the purpose may not receive, by cause (``retention``, ``consent``).
        dead: dead-lettered records by reason code.
        entities: entities acted on in the written records, by entity type or field.
        seconds: wall time of the run (set by the runner).
        workers: worker processes used (1: in-process).
    """

    records_in: int = 0
    out: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    entities: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    workers: int = 1

    @property
    def dead_lettered(self) -> int:
        """Records sent to the dead-letter file."""
        return sum(self.dead.values())

    @property
    def dropped_total(self) -> int:
        """Records not forwarded because of consent or retention."""
        return sum(self.dropped.values())

    @property
    def balanced(self) -> bool:
        """True when nothing was lost: in = out + dropped + dead-lettered."""
        return self.records_in == self.out + self.dropped_total + self.dead_lettered

    @property
    def throughput(self) -> float:
        """Records per second over the whole run (0 before it ends)."""
        return self.records_in / self.seconds if self.seconds > 0 else 0.0

    def merge(self, other: Stats) -> None:
        """Add another chunk's counters to these."""
        self.records_in += other.records_in
        self.out += other.out
        self.dropped.update(other.dropped)
        self.dead.update(other.dead)
        self.entities.update(other.entities)

    def to_dict(self) -> dict[str, object]:
        """Machine-readable form (``--summary-json``, tests)."""
        return {
            "records_in": self.records_in,
            "out": self.out,
            "dropped": dict(sorted(self.dropped.items())),
            "dead_lettered": dict(sorted(self.dead.items())),
            "entities": dict(sorted(self.entities.items())),
            "seconds": round(self.seconds, 3),
            "records_per_s": round(self.throughput, 1),
            "workers": self.workers,
        }


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def render(stats: Stats, *, purpose: str, dlq: str | None) -> str:
    """The human summary printed on stderr at the end of a run."""
    lines = [
        f"veil replay: purpose {purpose}",
        f"  records in      {stats.records_in:>10}",
        f"  out             {stats.out:>10}",
        f"  dropped         {stats.dropped_total:>10}  {_counts(stats.dropped)}".rstrip(),
        f"  dead-lettered   {stats.dead_lettered:>10}  {_counts(stats.dead)}".rstrip(),
    ]
    if stats.dead_lettered and dlq:
        lines.append(f"  dead letters in {dlq} (restricted: holds raw input)")
    lines.append(f"  entities        {_counts(stats.entities) or '-'}")
    lines.append(
        f"  time            {stats.seconds:>9.2f}s  {stats.throughput:,.0f} records/s"
        f" ({stats.workers} worker{'s' if stats.workers != 1 else ''})"
    )
    if not stats.balanced:  # cannot happen; say so loudly rather than hide a loss
        lines.append("  WARNING: counts do not add up (records in != out + dropped + dead)")
    return "\n".join(lines)
