"""Replay counters: nothing lost, merged per chunk, rendered without values."""

from __future__ import annotations

import io
from collections import Counter

from pipeline.replay.progress import Progress
from pipeline.replay.summary import Stats, render


def _stats(**kw: object) -> Stats:
    s = Stats()
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_balance_detects_a_lost_record() -> None:
    ok = _stats(records_in=6, out=3, dropped=Counter(retention=1), dead=Counter(malformed_json=2))
    assert ok.balanced
    lost = _stats(records_in=7, out=3, dropped=Counter(retention=1), dead=Counter(malformed_json=2))
    assert not lost.balanced
    assert "do not add up" in render(lost, purpose="analytics", dlq=None)
    assert "do not add up" not in render(ok, purpose="analytics", dlq=None)


def test_merge_adds_every_counter() -> None:
    a = _stats(records_in=2, out=1, dead=Counter(too_large=1), entities=Counter(EMAIL_ADDRESS=2))
    b = _stats(records_in=3, out=2, dropped=Counter(consent=1), entities=Counter(EMAIL_ADDRESS=1))
    a.merge(b)
    assert (a.records_in, a.out, a.dropped_total, a.dead_lettered) == (5, 3, 1, 1)
    assert a.entities == Counter(EMAIL_ADDRESS=3)
    assert a.balanced


def test_render_lists_counts_and_dlq() -> None:
    s = _stats(records_in=4, out=2, dead=Counter(invalid_utf8=2), entities=Counter(IP_ADDRESS=5))
    s.seconds = 2.0
    text = render(s, purpose="security", dlq="x.deadletter.jsonl")
    assert "purpose security" in text
    assert "invalid_utf8 2" in text
    assert "IP_ADDRESS 5" in text
    assert "x.deadletter.jsonl" in text
    assert "2 records/s" in text
    assert s.to_dict()["records_per_s"] == 2.0


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    pipe, tty = io.StringIO(), _Tty()
    for stream in (pipe, tty):
        p = Progress(stream, interval=0)
        p.update(records=10, name="a.log", done_bytes=5, total_bytes=10)
        p.close()
    assert pipe.getvalue() == ""
    assert "10 records" in tty.getvalue()
    assert "50.0%" in tty.getvalue()
