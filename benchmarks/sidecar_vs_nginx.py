"""Reference point for the sidecar benchmark: nginx as a plain reverse proxy, same machine.

Run: ``.venv/bin/python -m benchmarks.sidecar_vs_nginx [--rounds 6] [--size 100KB|3MB]
[--access-log on|off]`` (needs ``nginx`` on the PATH, e.g. Debian's ``nginx-light``; it is
not part of Veil's set-up).

The same 100 KB or 3 MB JPEG as :mod:`benchmarks.sidecar`, the same client and upstream,
uploaded straight to the upstream, through nginx (one worker, keep-alive to the upstream,
the body buffered in memory as the sidecar does, an access log buffered like the
sidecar's unless ``--access-log off``) and through ``veil sidecar``, in alternating order.
nginx strips nothing: it shows what any proxy costs here, so that the sidecar's share of
direct throughput can be read against the share a proxy with almost no work per upload gets
on these shared cores. Printed: requests/s, each proxy's share of direct throughput (median
of the per-round ratios) and its CPU time per upload.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.sidecar import SEED, SIZES, cpu_seconds, make_jpeg
from pipeline.sidecar.testing import start_sidecar, start_upstream

CONCURRENCY = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _nginx_conf(root: Path, port: int, upstream: str, access_log: bool) -> str:
    log = (
        f"access_log {root}/access.log combined buffer=4k flush=1s;"
        if access_log
        else "access_log off;"
    )
    temp = " ".join(
        f"{kind}_temp_path {root}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
worker_processes 1; daemon off; pid {root}/nginx.pid; error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
  {log}
  client_max_body_size 16m; client_body_buffer_size 4m; {temp}
  upstream up {{ server {upstream}; keepalive 32; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_buffers 8 64k;
    }}
  }}
}}
"""


async def _round(session: aiohttp.ClientSession, url: str, data: bytes, n: int) -> float:
    async def worker(count: int) -> None:
        for _ in range(count):
            async with session.post(
                url + "/upload", data=data, headers={"Content-Type": "image/jpeg"}
            ) as resp:
                await resp.read()
                if resp.status != 200:
                    msg = f"upload answered {resp.status}"
                    raise RuntimeError(msg)

    start = time.perf_counter()
    await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))
    return n / (time.perf_counter() - start)


async def _measure(
    targets: dict[str, tuple[str, list[int]]], data: bytes, rounds: int, n: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    rps: dict[str, list[float]] = {name: [] for name in targets}
    cpu: dict[str, list[float]] = {name: [] for name in targets}
    async with aiohttp.ClientSession() as session:
        for url, _ in targets.values():
            await _round(session, url, data, 4 * CONCURRENCY)  # warm-up
        for i in range(rounds):
            order = list(targets.items())
            if i % 2:
                order = [order[0], *reversed(order[1:])]
            for name, (url, pids) in order:
                before = sum(cpu_seconds(pid) for pid in pids)
                rps[name].append(await _round(session, url, data, n))
                cpu[name].append((sum(cpu_seconds(pid) for pid in pids) - before) / n * 1e3)
    return rps, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--size", choices=sorted(SIZES), default="100KB")
    parser.add_argument("--access-log", choices=["on", "off"], default="on")
    args = parser.parse_args(argv)
    nginx = shutil.which("nginx")
    if nginx is None:
        print("nginx is not installed (e.g. apt-get install nginx-light)", file=sys.stderr)
        return 2
    data = make_jpeg(SIZES[args.size], SEED)
    n = 2000 if args.size == "100KB" else 200
    with tempfile.TemporaryDirectory(prefix="veil-bench-nginx-") as tmp:
        root = Path(tmp)
        upstream = start_upstream(root, record=False)
        sidecar = start_sidecar(root, "--upstream", upstream.url, "--max-body", "16MiB")
        port = _free_port()
        conf = root / "nginx.conf"
        upstream_host = upstream.url.split("//", 1)[1].rstrip("/")
        conf.write_text(_nginx_conf(root, port, upstream_host, args.access_log == "on"))
        proxy = subprocess.Popen([nginx, "-c", str(conf)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            workers = subprocess.run(
                ["pgrep", "-P", str(proxy.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            targets = {
                "direct": (upstream.url, []),
                "nginx": (f"http://127.0.0.1:{port}", [int(pid) for pid in workers]),
                "veil": (sidecar.url, [sidecar.proc.pid]),
            }
            rps, cpu = asyncio.run(_measure(targets, data, args.rounds, n))
        finally:
            proxy.terminate()
            proxy.wait()
            sidecar.stop()
            upstream.stop()
    print(
        f"{args.size} JPEG ({len(data)} bytes), {args.rounds} rounds of {n} uploads, "
        f"concurrency {CONCURRENCY}, nginx access log {args.access_log}"
    )
    print(f"  direct: {statistics.median(rps['direct']):7.1f} req/s")
    for name in ("nginx", "veil"):
        shares = [p / d for p, d in zip(rps[name], rps["direct"], strict=True)]
        print(
            f"  {name:6}: {statistics.median(rps[name]):7.1f} req/s, "
            f"share of direct {statistics.median(shares):.2f} "
            f"(rounds {min(shares):.2f}-{max(shares):.2f}), "
            f"proxy CPU {statistics.median(cpu[name]):.3f} ms per upload"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
