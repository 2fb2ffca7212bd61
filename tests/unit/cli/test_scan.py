"""``veil scan`` and ``veil bench`` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import bench
from pipeline.cli.main import main

TEXT = "mail jo@example.com, card 4111 1111 1111 1111\nnothing here\nip 10.0.0.1\n"


def run(args: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[int, bytes, str]:
    code = main(args)
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def test_jsonl_masks_values_and_gives_line_offsets(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXT)
    code, out, err = run(["scan", str(src), "--format", "jsonl"], capsysbinary)
    assert code == 0
    rows = [json.loads(x) for x in out.splitlines()]
    assert [(r["line"], r["entity_type"]) for r in rows] == [
        (1, "EMAIL_ADDRESS"), (1, "CREDIT_CARD"), (3, "IP_ADDRESS")
    ]  # fmt: skip
    lines = TEXT.splitlines()
    assert lines[0][rows[0]["start"] : rows[0]["end"]] == "jo@example.com"
    assert all(r["value"] == "****" for r in rows)
    assert b"jo@example.com" not in out and "jo@example.com" not in err


def test_show_values_and_text_format(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    src = tmp_path / "in.txt"
    src.write_text(TEXT)
    code, out, _ = run(["scan", str(src), "--show-values"], capsysbinary)
    assert code == 0
    assert b"1:5-19\tEMAIL_ADDRESS\tjo@example.com\n" in out


def test_redact_keeps_bad_bytes_nul_and_newlines(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    src = tmp_path / "bad.txt"
    src.write_bytes(b"a \xff\xfe b\x00 jo@example.com\r\n\nlast 10.0.0.1")
    code, out, err = run(["scan", str(src), "--redact"], capsysbinary)
    assert code == 0
    assert out == b"a \xff\xfe b\x00 <EMAIL_ADDRESS>\r\n\nlast <IP_ADDRESS>"
    assert "not UTF-8" in err


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\x00" * 100, b"\xff" * 100])
def test_empty_and_binary_input_exit_zero(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], content: bytes
) -> None:
    src = tmp_path / "x.bin"
    src.write_bytes(content)
    code, out, err = run(["scan", str(src), "--redact"], capsysbinary)
    assert code == 0 and out == content and "Traceback" not in err


def test_huge_line_is_cut_in_bounded_pieces_with_line_offsets(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    filler = "word " * 400_000  # 2 MB single line: more than one piece
    src = tmp_path / "big.txt"
    src.write_text(filler + "jo@example.com\n")
    code, out, _ = run(["scan", str(src), "--format", "jsonl"], capsysbinary)
    assert code == 0
    (row,) = [json.loads(x) for x in out.splitlines()]
    assert (row["line"], row["start"], row["end"]) == (1, len(filler), len(filler) + 14)


def test_unreadable_input_exits_1_without_traceback(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, _, err = run(["scan", str(tmp_path / "missing.txt")], capsysbinary)
    assert code == 1 and "cannot read" in err and "Traceback" not in err
    code, _, err = run(["scan", str(tmp_path)], capsysbinary)
    assert code == 1 and "Traceback" not in err


def test_unknown_entity_is_a_usage_error(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, _, err = run(["scan", "-", "--entities", "NOPE"], capsysbinary)
    assert code == 2 and "valid" in err


def test_stdin_subprocess_and_no_spacy_without_ner(tmp_path: Path) -> None:
    probe = (
        "import sys; from pipeline.cli.main import main; rc = main(['scan', '-', '--redact']); "
        "print('SPACY' if 'spacy' in sys.modules else 'NOSPACY', file=sys.stderr); sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], input=b"call +44 7911 123456\n", capture_output=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stdout == b"call <PHONE_NUMBER>\n"
    assert b"NOSPACY" in proc.stderr


def test_bench_registry_and_missing_script(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(bench.BENCHMARKS) == {"detectors", "media", "replay", "stream", "sidecar"}
    monkeypatch.setattr(bench, "BENCHMARKS_DIR", tmp_path)
    assert main(["bench", "stream"]) == 2
    assert "no script" in capsys.readouterr().err
