"""Replay readers: every line is a record or a dead letter, with file and line number."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from pipeline.deadletter import DeadLetter
from pipeline.errors import Reason
from pipeline.replay.readers import FileSource, RawRecord, open_sources


def _read(path: Path | str, **kw: object) -> list[RawRecord | DeadLetter]:
    return list(FileSource(str(path), **kw).records())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("a.jsonl", b'{"a": 1}\n', "jsonl"),
        ("a.ndjson", b"not json\n", "jsonl"),  # the suffix wins: garbage is dead-lettered later
        ("a.log", b'{"looks": "json"}\n', "text"),
        ("a.data", b'  {"a": 1}\n', "jsonl"),  # no known suffix: sniffed
        ("a.data", b"\n\n1.2.3.4 - - [x]\n", "text"),
    ],
)
def test_auto_format(tmp_path: Path, name: str, content: bytes, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    (rec,) = _read(path)
    assert isinstance(rec, RawRecord)
    assert rec.format == fmt


@pytest.mark.parametrize("fmt", ["jsonl", "text"])
def test_explicit_format_overrides_suffix(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b'{"a": 1}\n')
    (rec,) = _read(path, fmt=fmt)
    assert isinstance(rec, RawRecord)
    assert rec.format == fmt


def test_lines_numbers_and_endings(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\r\n\n   \ntwo\nthree")  # CRLF, blank lines, no final newline
    recs = _read(path)
    assert [(r.raw, r.line) for r in recs if isinstance(r, RawRecord)] == [
        (b"one", 1),
        (b"two", 4),
        (b"three", 5),
    ]
    assert all(r.file == str(path) for r in recs if isinstance(r, RawRecord))


def test_gzip_detected_by_magic_not_name(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"  # no .gz suffix
    path.write_bytes(gzip.compress(b'{"a": 1}\n{"b": 2}\n'))
    recs = _read(path)
    assert [r.raw for r in recs if isinstance(r, RawRecord)] == [b'{"a": 1}', b'{"b": 2}']


def test_truncated_gzip_keeps_what_was_read_and_dead_letters_the_rest(tmp_path: Path) -> None:
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(5000)))
    path = tmp_path / "a.log.gz"
    path.write_bytes(data[: len(data) // 2])
    recs = _read(path)
    good = [r for r in recs if isinstance(r, RawRecord)]
    dead = [r for r in recs if isinstance(r, DeadLetter)]
    assert len(dead) == 1
    assert dead[0].reason is Reason.UNREADABLE_INPUT
    assert dead[0].source["line"] == len(good) + 1
    assert 0 < len(good) < 5000


def test_line_over_limit_is_dead_lettered_and_reading_continues(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"ok": 1}\n' + b"x" * 5000 + b"\n" + b'{"ok": 2}\n')
    recs = _read(path, max_record_bytes=1000)
    assert isinstance(recs[0], RawRecord)
    assert isinstance(recs[1], DeadLetter)
    assert recs[1].reason is Reason.TOO_LARGE
    assert recs[1].source == {"file": str(path), "line": 2}
    assert len(recs[1].raw) == 1000
    assert isinstance(recs[2], RawRecord)
    assert (recs[2].raw, recs[2].line) == (b'{"ok": 2}', 3)


def test_line_exactly_at_limit_is_a_record(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"y" * 1000 + b"\n")
    (rec,) = _read(path, max_record_bytes=1000)
    assert isinstance(rec, RawRecord)


@pytest.mark.parametrize("kind", ["missing", "directory", "no_permission"])
def test_unreadable_input_is_one_dead_letter(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "secret-jo@example.com.log"
    if kind == "directory":
        path.mkdir()
    elif kind == "no_permission":
        path.write_bytes(b"x\n")
        path.chmod(0)
        if _can_read(path):  # root reads anything
            pytest.skip("running as root: permissions are not enforced")
    (dl,) = _read(path)
    assert isinstance(dl, DeadLetter)
    assert dl.reason is Reason.UNREADABLE_INPUT
    assert dl.source == {"file": str(path), "line": None}
    assert dl.raw == b""


def _can_read(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_invalid_utf8_is_passed_on_undecoded(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"caf\xe9\n")
    (rec,) = _read(path)
    assert isinstance(rec, RawRecord)
    assert rec.raw == b"caf\xe9"  # decoding (and dead-lettering) is the runner's job


def test_open_sources_keeps_order(tmp_path: Path) -> None:
    names = [str(tmp_path / n) for n in ("b.log", "a.log", "-")]
    assert [s.name for s in open_sources(names)] == names
