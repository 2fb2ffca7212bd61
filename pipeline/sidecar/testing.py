"""Testing kit: the sidecar and a recording upload service as real processes.

Used by Veil's integration tests and benchmark, and usable by anyone testing an upload service
behind the sidecar.

* :func:`start_upstream`: a tiny aiohttp upload service in its own process that stores every
  request it receives under a directory (raw body, multipart parts, a JSON index line).
* :func:`start_sidecar`: ``veil sidecar`` as a real subprocess; waits for its
  "listening on" line and returns its base URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

# The ``veil`` script installed beside the running interpreter (the project's .venv).
VEIL = Path(sys.executable).with_name("veil")

UPSTREAM_SCRIPT = r"""
import json, sys
from pathlib import Path
from aiohttp import BodyPartReader, web

store = Path(sys.argv[1])
record = sys.argv[2] == "record"
counter = {"n": 0}

async def handle(request):
    if not record:  # benchmark mode: read the whole body, store nothing
        size = len(await request.read())
        return web.json_response({"received": size})
    counter["n"] += 1
    n = counter["n"]
    entry = {"n": n, "method": request.method, "path_qs": request.path_qs,
             "headers": dict(request.headers), "files": []}
    if request.content_type.startswith("multipart/"):
        i = 0
        async for part in await request.multipart():
            assert isinstance(part, BodyPartReader)
            i += 1
            name = f"{n:04d}.part{i}"
            (store / name).write_bytes(await part.read())
            entry["files"].append({"file": name, "name": part.name, "filename": part.filename})
    else:
        body = await request.read()
        if body:
            name = f"{n:04d}.body"
            (store / name).write_bytes(body)
            entry["files"].append({"file": name})
    with (store / "index.jsonl").open("a") as fh:
        fh.write(json.dumps(entry) + "\n")
    return web.json_response({"stored": n})

async def main():
    app = web.Application(client_max_size=1 << 30)
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    import asyncio
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""


@dataclass
class Proc:
    """A started process and where it listens."""

    proc: subprocess.Popen[str]
    url: str
    stderr_path: Path

    def stop(self) -> None:
        """Terminate and reap the process (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def stderr(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


@dataclass
class Upstream(Proc):
    """The recording upload service."""

    store: Path

    def entries(self) -> list[dict[str, object]]:
        """One dict per request received, in order."""
        index = self.store / "index.jsonl"
        if not index.exists():
            return []
        return [json.loads(line) for line in index.read_text().splitlines()]

    def stored_bytes(self) -> list[bytes]:
        """The contents of every file stored so far."""
        return [p.read_bytes() for p in sorted(self.store.iterdir()) if p.name != "index.jsonl"]


def _readline(proc: subprocess.Popen[str], timeout: float) -> str:
    stream: IO[str] | None = proc.stdout
    if stream is None:
        msg = "process started without a stdout pipe"
        raise RuntimeError(msg)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if line:
            return line
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    msg = "process did not announce its port in time"
    raise RuntimeError(msg)


def start_upstream(workdir: Path, *, record: bool = True) -> Upstream:
    """Start the upstream; with ``record`` its files go to ``workdir/store``.

    Without ``record`` it reads every body and stores nothing (for benchmarks).
    """
    store = workdir / "store"
    store.mkdir(parents=True, exist_ok=True)
    script = workdir / "upstream.py"
    script.write_text(UPSTREAM_SCRIPT, encoding="utf-8")
    err = workdir / "upstream.err"
    proc = subprocess.Popen(  # noqa: S603  # fixed argv: this interpreter, our script
        [sys.executable, str(script), str(store), "record" if record else "discard"],
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
    )
    port = int(_readline(proc, 30).strip())
    return Upstream(proc, f"http://127.0.0.1:{port}", err, store)


def start_sidecar(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Proc:
    """Start ``veil sidecar --listen 127.0.0.1:0 ARGS`` and wait until it listens.

    Args:
        workdir: where its stderr (the access log) is written.
        args: more ``veil sidecar`` flags.
        env: variables added to this process's environment (e.g. ``VEIL_PSEUDONYM_KEY``).

    Raises:
        RuntimeError: it exited or did not listen within 60 s (message: its stderr).
    """
    err = workdir / f"sidecar-{time.monotonic_ns()}.err"
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(  # noqa: S603  # fixed program; args come from the caller's test
        [str(VEIL), "sidecar", "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=err.open("w"),
        text=True,
        env=full_env,
    )
    try:
        line = _readline(proc, 60)
    except RuntimeError:
        proc.kill()
        raise RuntimeError(err.read_text()) from None
    url = line.split("listening on ", 1)[1].split()[0]
    return Proc(proc, url, err)
