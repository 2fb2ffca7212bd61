"""Media stripping benchmark: Veil vs exiftool (batch mode) vs mat2, same files, same run.

Usage: ``.venv/bin/python -m benchmarks.media [--rounds 3] [--big-mb 500]``

For each tool: one process over every supported file of ``../shared/corpus/media`` (Veil as
the ``veil strip`` CLI, so process start-up is paid like the others; also Veil in-process),
one warm-up round, then ``--rounds`` timed rounds; the median is reported as files/s and MB/s,
with the ratio to exiftool. Then, for images, which tool changed decoded pixels. Finally a
large MP4 (a corpus MP4 with its ``mdat`` padded to ``--big-mb`` MB, built in a temp dir) is
stripped by ``strip_file`` in a fresh process whose peak RSS is printed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import MediaError
from pipeline.media import strip_media
from tests.unit.media.corpus import MEDIA, pixels, supported

EXIFTOOL_ARGS = ["-all=", "-tagsFromFile", "@", "-Orientation", "-ICC_Profile"]


def _timed(run: Callable[[Path], None], rounds: int) -> tuple[float, Path]:
    """Median seconds over ``rounds`` after one warm-up; the last round's output dir."""
    times, out = [], Path()
    for i in range(rounds + 1):
        out = Path(tempfile.mkdtemp(prefix="veil-bench-"))
        t0 = time.perf_counter()
        run(out)
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _veil_cli(files: list[Path]) -> Callable[[Path], None]:
    def run(out: Path) -> None:
        # One process, like exiftool's batch mode; folders keep colliding names apart.
        groups: dict[Path, list[str]] = {}
        for f in files:
            groups.setdefault(f.parent, []).append(str(f))
        script = (
            "import sys; from pathlib import Path; from pipeline.media import strip_file\n"
            "out = Path(sys.argv[1]); args = sys.argv[2:]\n"
            "for i in range(0, len(args), 2):\n"
            "    d = out / args[i]; d.mkdir(parents=True, exist_ok=True)\n"
            "    for f in args[i + 1].split('\\n'):\n"
            "        strip_file(Path(f), d / Path(f).name)\n"
        )
        argv = [sys.executable, "-c", script, str(out)]
        for i, names in enumerate(groups.values()):
            argv += [str(i), "\n".join(names)]
        subprocess.run(argv, check=True)

    return run


def _veil_lib(files: list[Path]) -> Callable[[Path], None]:
    blobs = [(f, f.read_bytes()) for f in files]

    def run(out: Path) -> None:
        for i, (f, data) in enumerate(blobs):
            (out / f"{i}_{f.name}").write_bytes(strip_media(data, filename=f.name).data)

    return run


def _exiftool(files: list[Path]) -> Callable[[Path], None]:
    def run(out: Path) -> None:
        rel = [str(f.relative_to(MEDIA)) for f in files]
        subprocess.run(
            ["exiftool", "-q", "-q", "-m", *EXIFTOOL_ARGS, "-o", f"{out}/%d%f.%e", *rel],
            cwd=MEDIA,
            check=False,
            capture_output=True,
        )

    return run


def _mat2(files: list[Path]) -> Callable[[Path], None]:
    def run(out: Path) -> None:
        copies = []
        for f in files:
            d = out / f.relative_to(MEDIA).parent
            d.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, d / f.name)
            copies.append(str(d / f.name))
        subprocess.run(["mat2", "--inplace", *copies], check=False, capture_output=True)

    return run


def _changed_pixels(files: list[Path], outputs: dict[Path, Path | None]) -> tuple[int, int, int]:
    """(images compared, pixel changes, missing/undecodable outputs)."""
    compared = changed = missing = 0
    for f in files:
        if f.suffix.lower() in (".mp4", ".mov", ".xmp"):
            continue
        before = pixels(f.read_bytes())
        if before is None:
            continue
        compared += 1
        o = outputs.get(f)
        after = pixels(o.read_bytes()) if o is not None and o.exists() else None
        if after is None:
            missing += 1
        elif after != before:
            changed += 1
    return compared, changed, missing


def _big_mp4(src: Path, target_mb: int, tmp: Path) -> Path:
    """``src`` with its mdat padded to about ``target_mb`` MB (offsets stay valid)."""
    data = src.read_bytes()
    pos, out = 0, bytearray()
    pad = target_mb * 1024 * 1024
    while pos < len(data):
        size, btype = struct.unpack_from(">I4s", data, pos)
        box = data[pos : pos + size]
        if btype == b"mdat":  # padding after the samples: chunk offsets are unaffected
            box = struct.pack(">I", size + pad) + box[4:]
            out += box
            big = tmp / "big.mp4"
            big.write_bytes(bytes(out))
            with big.open("ab") as fh:
                block = bytes(1024 * 1024)
                for _ in range(target_mb):
                    fh.write(block)
                fh.write(data[pos + size :])
            return big
        out += box
        pos += size
    msg = "no mdat"
    raise SystemExit(msg)


def _peak_rss(big: Path, tmp: Path) -> tuple[float, float, float]:
    """(seconds, peak RSS MB of the strip, peak RSS MB of the same process doing nothing)."""
    code = (
        "import re, sys, time; from pathlib import Path\n"
        "from pipeline.media import strip_file\n"
        "t = time.perf_counter()\n"
        "if sys.argv[1] == 'strip': strip_file(Path(sys.argv[2]), Path(sys.argv[3]))\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent process.
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print(time.perf_counter() - t, hwm)\n"
    )
    res = {}
    for mode in ("idle", "strip"):
        proc = subprocess.run(
            [sys.executable, "-c", code, mode, str(big), str(tmp / "o.mp4")],
            capture_output=True,
            text=True,
            check=True,
        )
        secs, rss_kb = proc.stdout.split()
        res[mode] = (float(secs), int(rss_kb) / 1024)
    return res["strip"][0], res["strip"][1], res["idle"][1]


def main() -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--big-mb", type=int, default=500)
    args = ap.parse_args()
    files = []
    for f in supported():
        try:
            strip_media(f.read_bytes(), filename=f.name)
            files.append(f)
        except MediaError:
            pass
    total_mb = sum(f.stat().st_size for f in files) / 1e6
    print(f"corpus: {len(files)} supported files, {total_mb:.2f} MB ({MEDIA})")
    tools: dict[str, Callable[[Path], None]] = {
        "veil (CLI process)": _veil_cli(files),
        "veil (in-process)": _veil_lib(files),
    }
    if shutil.which("exiftool"):
        tools["exiftool batch"] = _exiftool(files)
    if shutil.which("mat2"):
        tools["mat2"] = _mat2(files)
    else:
        print("mat2: not installed (Debian package mat2); skipped")
    results: dict[str, tuple[float, Path]] = {}
    for name, run in tools.items():
        results[name] = _timed(run, args.rounds)
    anchor = results.get("exiftool batch", (None, None))[0]
    print(
        f"{'tool':<20} {'median s':>9} {'files/s':>9} {'MB/s':>8} {'vs exiftool':>12}"
        f" {'pixels changed':>15} {'no output':>10}"
    )
    for name, (secs, out) in results.items():
        outputs = _locate_outputs(name, files, out)
        compared, changed, missing = _changed_pixels(files, outputs)
        ratio = f"{anchor / secs:.1f}x" if anchor else "-"
        print(
            f"{name:<20} {secs:>9.3f} {len(files) / secs:>9.1f} {total_mb / secs:>8.2f} "
            f"{ratio:>12} {changed:>9}/{compared:<5} {missing:>10}"
        )
    with tempfile.TemporaryDirectory(prefix="veil-big-") as tmp:
        src = next(f for f in files if f.suffix == ".mp4")
        big = _big_mp4(src, args.big_mb, Path(tmp))
        secs, rss, idle = _peak_rss(big, Path(tmp))
        size_mb = big.stat().st_size / 1e6
        print(
            f"big MP4: {size_mb:.0f} MB stripped by strip_file in {secs:.2f} s "
            f"({size_mb / secs:.0f} MB/s); peak RSS {rss:.0f} MB "
            f"(same process without stripping: {idle:.0f} MB)"
        )


def _locate_outputs(name: str, files: list[Path], out: Path) -> dict[Path, Path | None]:
    found: dict[Path, Path | None] = {}
    parents = list(dict.fromkeys(f.parent for f in files))  # same grouping as _veil_cli
    for i, f in enumerate(files):
        rel = f.relative_to(MEDIA)
        if name.startswith("veil (in"):
            found[f] = out / f"{i}_{f.name}"
        elif name.startswith("veil"):
            found[f] = out / str(parents.index(f.parent)) / f.name
        elif name == "mat2":
            cleaned = out / rel
            found[f] = cleaned if cleaned.exists() else None
        else:
            found[f] = out / rel
    return found


if __name__ == "__main__":
    main()
