"""The ``veil`` entry point: behaviour shared by every subcommand."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each prints more than a pipe buffer's worth only when asked to; `head -c 1` closes the pipe
# after one byte, so the command meets a broken pipe while it is still writing.
COMMANDS = [
    ["policy", "explain", "--purpose", "analytics"],
    ["scan", "samples/chat.txt", "--redact"],
    [
        "replay",
        "samples/events.jsonl",
        "--purpose",
        "analytics",
        "--now",
        "2026-11-01",
        "--out",
        "-",
    ],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: a[0])
def test_closed_stdout_is_a_quiet_exit_not_a_traceback(argv: list[str]) -> None:
    cmd = [sys.executable, "-c", "from pipeline.cli.main import main; raise SystemExit(main())"]
    proc = subprocess.Popen(
        [*cmd, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=_repo()
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()  # the reader goes away, as `| head -c 1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err


def _repo() -> str:
    from tests.conftest import REPO

    return str(REPO)


def test_sidecar_access_handler_is_installed_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import logging

    from pipeline.cli import main as cli_main
    from pipeline.sidecar import server
    from pipeline.sidecar.accesslog import AccessLineHandler

    monkeypatch.setattr(cli_main, "configure", lambda level: None)  # leave logging alone
    # The handler keeps the stream: one that stays open for logging's flush at exit.
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.setattr(server, "run", lambda settings: 0)
    access = logging.getLogger(server.ACCESS_LOGGER)
    monkeypatch.setattr(access, "handlers", [])
    monkeypatch.setattr(access, "propagate", True)
    for _ in range(2):  # e.g. two runs in one test process
        assert cli_main.main(["sidecar", "--listen", "127.0.0.1:0"]) == 0
    handlers = [h for h in access.handlers if isinstance(h, AccessLineHandler)]
    assert len(handlers) == 1 and access.handlers == handlers and not access.propagate
