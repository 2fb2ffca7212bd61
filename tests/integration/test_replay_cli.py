"""``veil replay`` as a real process: exit codes, files it creates (or not), stdin, env.

These run the installed ``veil`` entry point in a subprocess, the way a user does; the
library-level behaviour is covered in ``tests/unit/replay``.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import CORPUS, REPO
from tests.unit.replay.conftest import survivors
from tests.unit.replay.samples_gen import load

pytestmark = pytest.mark.integration

VEIL = str(REPO / ".venv" / "bin" / "veil")
SAMPLES = REPO / "samples"
SAMPLE_NOW = "2026-11-01T00:00:00Z"
KEY = "replay-cli-test-key-0123456789abcdef"
APACHE_LOGS = sorted((CORPUS / "logs").glob("*.log"))


def veil(
    args: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    key: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VEIL_")}
    base["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    if key:
        base["VEIL_PSEUDONYM_KEY"] = KEY
    base.update(env or {})
    return subprocess.run(
        [VEIL, "replay", *map(str, args)],
        cwd=cwd,
        env=base,
        input=stdin,
        capture_output=True,
        timeout=240,
        check=False,
    )


def _unquote_fully(text: str) -> str:
    while (decoded := unquote(text)) != text:
        text = decoded
    return text


def jsonl(data: bytes | str) -> list[dict[str, Any]]:
    text = data.decode() if isinstance(data, bytes) else data
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _readme_run_line() -> list[str]:
    # The quick start's "# run" line, exactly as a new user copies it.
    text = (REPO / "README.md").read_text(encoding="utf-8")
    (line,) = [ln for ln in text.splitlines() if ln.endswith("# run")]
    args = shlex.split(line.rsplit("#", 1)[0])
    assert args[:2] == [".venv/bin/veil", "replay"]
    return args[2:]


def test_readme_quick_start_command(tmp_path: Path) -> None:
    shutil.copytree(SAMPLES, tmp_path / "samples")  # the command's paths are repo-relative
    proc = veil(_readme_run_line(), cwd=tmp_path, key=False)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    records = jsonl(proc.stdout)
    assert len(records) == sum(1 for _ in (SAMPLES / "events.jsonl").open())
    assert {r["kind"] for r in records} == {"log", "communication", "media_upload"}
    # No key configured: one warning, and the summary at the end.
    assert err.count("pseudonyms will not be stable") == 1
    assert re.search(r"records in +300", err)
    assert "\r" not in err  # stderr is a pipe: no progress bar
    assert [p.name for p in tmp_path.iterdir()] == ["samples"]  # no dead-letter file


@pytest.mark.parametrize(
    ("extra", "setup", "message"),
    [
        (["--policy", "bad.yaml"], "purposes: {analytics: {retention: soon}}\n", "policy error"),
        (["--policy", "missing.yaml"], None, "policy error"),
        (["--purpose", "telepathy"], None, "unknown purpose 'telepathy'"),
        (["--consent", "bad.yaml"], "{not json\n", "consent snapshot"),
        (["--now", "yesterday-ish"], None, "--now"),
    ],
)
def test_configuration_errors_exit_2_before_any_file_exists(
    tmp_path: Path, extra: list[str], setup: str | None, message: str
) -> None:
    if setup is not None:
        (tmp_path / extra[1]).write_text(setup)
    args = [
        SAMPLES / "access.log",
        "--purpose",
        "analytics",
        "--out",
        "out.jsonl",
        "--dlq",
        "dlq.jsonl",
        "--audit",
        "audit.jsonl",
    ]
    proc = veil([*args, *extra], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr.decode()
    assert message in proc.stderr.decode()
    assert not any((tmp_path / n).exists() for n in ("out.jsonl", "dlq.jsonl", "audit.jsonl"))


@pytest.mark.parametrize(
    "args",
    [
        ["--purpose", "analytics"],
        [SAMPLES / "access.log"],
        [SAMPLES / "access.log", "--purpose", "analytics", "--workers", "-1"],
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[Any]) -> None:
    proc = veil(args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == b""


def _mixed_input(tmp_path: Path) -> Path:
    good = json.dumps(
        {
            "event_id": "e-1",
            "kind": "log",
            "user_id": "u-1",
            "occurred_at": "2026-10-31T10:00:00Z",
            "payload": {"message": "hi"},
        }
    )
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        "\n".join([good, "{broken", good, '{"event_id": "e-2", "payload": {}}']).encode()
        + b"\n\xff\xfe\n"
    )
    return path


@pytest.mark.parametrize(("strict", "code"), [([], 0), (["--strict"], 1)])
def test_bad_records_go_to_the_dead_letter_file_with_reason_and_line(
    tmp_path: Path, strict: list[str], code: int
) -> None:
    src = _mixed_input(tmp_path)
    proc = veil(
        [
            src,
            "--purpose",
            "analytics",
            "--now",
            SAMPLE_NOW,
            "--out",
            "out.jsonl",
            "--summary-json",
            "summary.json",
            *strict,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == code, proc.stderr.decode()
    assert len(jsonl((tmp_path / "out.jsonl").read_text())) == 2
    dead = jsonl((tmp_path / "out.deadletter.jsonl").read_text())  # default name, beside --out
    assert [(d["reason"], d["source"]["line"]) for d in dead] == [
        ("malformed_json", 2),
        ("missing_field", 4),
        ("invalid_utf8", 5),
    ]
    assert dead[2]["raw_b64"] == "//4="
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["records_in"] == summary["out"] + sum(summary["dropped"].values()) + sum(
        summary["dead_lettered"].values()
    )
    assert summary["records_in"] == 5


def test_unreadable_input_exits_1_and_the_rest_is_processed(tmp_path: Path) -> None:
    proc = veil(
        [
            tmp_path / "nope.log",
            SAMPLES / "access.log",
            "--purpose",
            "analytics",
            "--now",
            SAMPLE_NOW,
            "--out",
            "out.jsonl",
            "--dlq",
            "dlq.jsonl",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert len(jsonl((tmp_path / "out.jsonl").read_text())) == 200
    (dead,) = jsonl((tmp_path / "dlq.jsonl").read_text())
    assert dead["reason"] == "unreadable_input"


def test_stdin_gzip_and_env_fallbacks(tmp_path: Path) -> None:
    data = gzip.compress((SAMPLES / "access.log").read_bytes())
    env = {
        "VEIL_REPLAY_PURPOSE": "security",
        "VEIL_REPLAY_OUT": str(tmp_path / "out.jsonl.gz"),
        "VEIL_REPLAY_NOW": SAMPLE_NOW,
        "VEIL_REPLAY_FORMAT": "text",
        "VEIL_REPLAY_WORKERS": "2",
    }
    proc = veil(["-"], cwd=tmp_path, env=env, stdin=data)
    assert proc.returncode == 0, proc.stderr.decode()
    out = jsonl(gzip.decompress((tmp_path / "out.jsonl.gz").read_bytes()))
    assert len(out) == 200
    assert "purpose security" in proc.stderr.decode()


def test_workers_preserve_order_and_bytes(tmp_path: Path) -> None:
    common = [
        SAMPLES / "events.jsonl",
        SAMPLES / "access.log",
        "--purpose",
        "analytics",
        "--now",
        SAMPLE_NOW,
    ]
    one = veil([*common, "--out", "one.jsonl"], cwd=tmp_path)
    two = veil([*common, "--out", "two.jsonl", "--workers", "2"], cwd=tmp_path)
    assert one.returncode == two.returncode == 0
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert "(2 workers)" in two.stderr.decode()


def test_nothing_personal_in_stderr_even_at_debug(tmp_path: Path) -> None:
    gen = load()
    corpus = gen.generate(gen.SEED)
    paths = gen.write(corpus, tmp_path / "in")
    bad = tmp_path / "in" / "bad.jsonl"
    bad.write_text('{"event_id": "jo.smith@example.com", "kind": "x", "payload": {}}\n{"a":\n')
    proc = subprocess.run(
        [
            VEIL,
            "--log-level",
            "DEBUG",
            "replay",
            *map(str, paths[:3]),
            str(bad),
            "--purpose",
            "analytics",
            "--now",
            SAMPLE_NOW,
            "--out",
            str(tmp_path / "o.jsonl"),
        ],
        cwd=tmp_path,
        capture_output=True,
        timeout=240,
        check=False,
        env={**os.environ, "VEIL_PSEUDONYM_KEY": KEY, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""},
    )
    assert proc.returncode == 0, proc.stderr.decode()
    err = proc.stderr.decode()
    assert survivors(err, corpus.forbidden() | {"jo.smith@example.com"}) == []


@pytest.mark.slow
def test_shared_apache_logs_one_record_per_line_nothing_identifying(tmp_path: Path) -> None:
    if not APACHE_LOGS:
        pytest.skip(f"shared corpus not found under {CORPUS} (a checkout outside /work?)")
    proc = veil(
        [
            *APACHE_LOGS,
            "--purpose",
            "analytics",
            "--now",
            "2015-11-01T00:00:00Z",
            "--out",
            "out.jsonl",
            "--workers",
            "2",
            "--strict",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out_text = (tmp_path / "out.jsonl").read_text()
    out = jsonl(out_text)
    lines = [ln for p in APACHE_LOGS for ln in p.read_text(errors="replace").splitlines()]
    assert len(out) == len(lines) == 13456

    addresses: set[str] = set()
    for line, rec in zip(lines, out, strict=True):
        client, rest = line.split(" ", 1)
        addresses.add(client)
        m = re.search(r'\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-)', rest)
        assert m is not None
        http = rec["payload"]["http"]
        assert (http["method"], http["status"]) == (m[1], int(m[3]))
        assert http.get("bytes") == (None if m[4] == "-" else int(m[4]))
        # The path survives; where it differs, PII was replaced by a placeholder.
        path_in, path_out = urlsplit(m[2]).path, urlsplit(rec["payload"]["url"]).path
        assert path_out == path_in or "<" in _unquote_fully(path_out), (path_in, path_out)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", rec["occurred_at"])
        assert rec["payload"]["ip"] != client
    # No full client address anywhere in the output. A generalized network such as
    # "5.39.50.0/24" is not the address even when the address was the network's first one.
    found = [
        a
        for a in survivors(out_text, addresses)
        if re.search(re.escape(a) + r"(?![\d/:a-fA-F])", out_text)
    ]
    assert found == []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_closed_stdout_pipe_is_a_quiet_exit(tmp_path: Path, workers: str) -> None:
    env = {**os.environ, "VEIL_PSEUDONYM_KEY": KEY, "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS": ""}
    proc = subprocess.Popen(
        [
            VEIL,
            "replay",
            str(SAMPLES / "events.jsonl"),
            str(SAMPLES / "access.log"),
            "--purpose",
            "analytics",
            "--now",
            SAMPLE_NOW,
            "--out",
            "-",
            "--workers",
            workers,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100)  # like `| head -c 100`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err


def test_bad_pseudonym_key_is_a_config_error(tmp_path: Path) -> None:
    proc = veil(
        [SAMPLES / "access.log", "--purpose", "analytics", "--out", "out.jsonl"],
        cwd=tmp_path,
        env={"VEIL_PSEUDONYM_KEY": "short"},
    )
    assert proc.returncode == 2
    assert "configuration error" in proc.stderr.decode()
    assert "short" not in proc.stderr.decode().replace("shorter", "")
    assert not (tmp_path / "out.jsonl").exists()
