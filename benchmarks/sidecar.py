"""Benchmark: JPEG uploads through ``veil sidecar --upstream`` vs straight to the upstream.

Run: ``.venv/bin/python -m benchmarks.sidecar [--rounds 5] [--requests 200] [--concurrency 8]``

For each size (100 KB and 3 MB JPEGs carrying a corpus EXIF block with GPS, maker notes and
a thumbnail; generated from a fixed seed into a temporary directory, never committed):

* latency: requests one at a time (concurrency 1), p50 and p99 per round;
* throughput: ``--concurrency`` requests in flight, requests/s per round;

for "direct" (client -> upstream) and "proxy" (client -> sidecar -> same upstream), rounds
interleaved so that drift hits both alike. After a warm-up, each figure is the median over
the rounds. The anchor is the direct upload measured in the same run; printed: the proxy's
added p50 latency and its share of direct throughput, against the targets (< 5 ms added p50
at 100 KB, >= 50 % of direct throughput).

Client, sidecar and upstream run on the same machine and share its cores; the figures are
for that machine only.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from PIL import Image

from pipeline.sidecar.testing import start_sidecar, start_upstream
from tests.conftest import CORPUS

SEED = 20261130
SOURCE = CORPUS / "media/ianare+exif-samples/jpg/gps/DSCN0010.jpg"
SIZES = {"100KB": 100 * 1024, "3MB": 3 * 1024 * 1024}
TARGET_ADDED_P50_MS = 5.0
TARGET_THROUGHPUT_SHARE = 0.5


def make_jpeg(target: int, seed: int) -> bytes:
    """A JPEG of about ``target`` bytes (+-5 %): fixed-seed noise plus the corpus EXIF block."""
    exif = Image.open(SOURCE).info["exif"]
    rng = random.Random(seed)
    lo, hi = 16, 4096
    best = b""
    while lo <= hi:
        side = (lo + hi) // 2
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90, exif=exif)
        data = buf.getvalue()
        best = data
        if abs(len(data) - target) <= target * 0.05:
            return data
        if len(data) < target:
            lo = side + 1
        else:
            hi = side - 1
    return best


@dataclass
class Round:
    p50_ms: float
    p99_ms: float
    rps: float


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _one(session: aiohttp.ClientSession, url: str, data: bytes) -> float:
    start = time.perf_counter()
    async with session.post(url, data=data, headers={"Content-Type": "image/jpeg"}) as resp:
        await resp.read()
        if resp.status != 200:
            msg = f"upload answered {resp.status}"
            raise RuntimeError(msg)
    return time.perf_counter() - start


async def _latency(session: aiohttp.ClientSession, url: str, data: bytes, n: int) -> list[float]:
    return [await _one(session, url, data) for _ in range(n)]


async def _throughput(
    session: aiohttp.ClientSession, url: str, data: bytes, n: int, concurrency: int
) -> float:
    queue = iter(range(n))

    async def worker() -> None:
        for _ in queue:
            await _one(session, url, data)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - start)


async def measure(
    targets: dict[str, str], data: bytes, *, rounds: int, requests: int, concurrency: int
) -> dict[str, list[Round]]:
    """Interleaved rounds of latency (c=1) and throughput (c=concurrency) per target."""
    out: dict[str, list[Round]] = {name: [] for name in targets}
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        for url in targets.values():  # warm-up: connections, imports, caches
            await _throughput(session, url, data, max(10, requests // 10), concurrency)
        for _ in range(rounds):
            for name, url in targets.items():
                lat = await _latency(session, url, data, requests)
                rps = await _throughput(session, url, data, requests, concurrency)
                out[name].append(Round(_pct(lat, 0.5) * 1e3, _pct(lat, 0.99) * 1e3, rps))
    return out


def _median(rounds: list[Round]) -> Round:
    return Round(
        statistics.median(r.p50_ms for r in rounds),
        statistics.median(r.p99_ms for r in rounds),
        statistics.median(r.rps for r in rounds),
    )


def strip_ms(data: bytes, repeat: int = 15) -> float:
    """Median in-process time of one :func:`pipeline.media.strip_media` call (the part of
    the proxy's cost that is the stripper itself, not HTTP)."""
    from pipeline.media import strip_media

    strip_media(data)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        strip_media(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (Linux /proc; else 0)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(child)) for child in children)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="per round and mode")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="sidecar worker processes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="veil-bench-sidecar-") as tmp:
        work = Path(tmp)
        upstream = start_upstream(work, record=False)
        sidecar = start_sidecar(
            work,
            "--upstream", upstream.url,
            "--max-body", "16MiB",
            "--workers", str(args.workers),
            env={"VEIL_LOG_LEVEL": "ERROR"},
        )  # fmt: skip
        try:
            print(f"cpus: {os.cpu_count()}  rounds: {args.rounds}  requests/round: "
                  f"{args.requests}  concurrency: {args.concurrency}  "
                  f"sidecar workers: {args.workers}")  # fmt: skip
            print(f"{'size':>6} {'mode':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
            for i, (label, size) in enumerate(SIZES.items()):
                data = make_jpeg(size, SEED + i)
                n = args.requests if size < 1024 * 1024 else max(20, args.requests // 5)
                sidecar_cpu = cpu_seconds(sidecar.proc.pid)
                runs = asyncio.run(
                    measure(
                        {"direct": upstream.url + "/upload", "proxy": sidecar.url + "/upload"},
                        data,
                        rounds=args.rounds,
                        requests=n,
                        concurrency=args.concurrency,
                    )
                )
                # Warm-up plus per round n latency + n throughput requests through the proxy.
                proxied = max(10, n // 10) + args.rounds * 2 * n
                sidecar_ms = (cpu_seconds(sidecar.proc.pid) - sidecar_cpu) / proxied * 1e3
                direct, proxy = _median(runs["direct"]), _median(runs["proxy"])
                for mode, r in (("direct", direct), ("proxy", proxy)):
                    print(f"{label:>6} {mode:>7} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.rps:8.1f}")
                added = proxy.p50_ms - direct.p50_ms
                share = proxy.rps / direct.rps
                stripping = strip_ms(data)
                print(
                    f"{label:>6}   bytes={len(data)}  added p50 = {added:.2f} ms"
                    f"  throughput = {share:.0%} of direct (ratio {share:.2f})"
                )
                print(
                    f"{label:>6}   sidecar CPU = {sidecar_ms:.2f} ms/request, of which"
                    f" strip_media alone = {stripping:.2f} ms (in-process median)"
                )
                results[label] = {
                    "bytes": len(data),
                    "requests_per_round": n,
                    "direct": vars(direct),
                    "proxy": vars(proxy),
                    "added_p50_ms": added,
                    "sidecar_cpu_ms_per_request": sidecar_ms,
                    "strip_media_ms": stripping,
                    "throughput_share": share,
                }
        finally:
            sidecar.stop()
            upstream.stop()
    small = results["100KB"]
    ok_latency = float(small["added_p50_ms"]) < TARGET_ADDED_P50_MS  # type: ignore[arg-type]
    ok_share = all(
        float(r["throughput_share"]) >= TARGET_THROUGHPUT_SHARE  # type: ignore[arg-type]
        for r in results.values()
    )
    verdict = {True: "met", False: "MISSED"}
    print(
        f"targets: added p50 at 100KB < {TARGET_ADDED_P50_MS} ms: {verdict[ok_latency]}; "
        f"throughput >= {TARGET_THROUGHPUT_SHARE:.0%} of direct: {verdict[ok_share]}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
