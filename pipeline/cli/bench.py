"""``veil bench NAME [-- ARGS]``: run a benchmark script from ``benchmarks/``.

The registry is explicit; each benchmark runs as its own process (``sys.executable``), so it
can pin itself to one core and nothing it imports stays in the CLI process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
# name -> script under benchmarks/ (other areas own their scripts).
BENCHMARKS: dict[str, str] = {
    "detectors": "detectors.py",
    "media": "media.py",
    "replay": "replay.py",
    "stream": "stream.py",
    "sidecar": "sidecar.py",
}


def add_parser(subparsers: Any) -> None:
    """Register ``veil bench``."""
    p = subparsers.add_parser(
        "bench",
        help="run a benchmark (prints figures and the ratio to its anchor)",
        description=__doc__,
    )
    p.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark script")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Run the benchmark script; its exit code is ours. Missing script: exit 2."""
    script = BENCHMARKS_DIR / BENCHMARKS[args.name]
    if not script.is_file():
        print(
            f"veil bench: benchmark {args.name!r} has no script at {script} "
            "(run from a source checkout)",
            file=sys.stderr,
        )
        return 2
    extra = [a for a in args.args if a != "--"]
    root = BENCHMARKS_DIR.parent
    # Scripts import benchmarks.*, tests.* and the packages from the checkout they live in.
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")])),
    }
    return subprocess.call([sys.executable, str(script), *extra], cwd=root, env=env)  # noqa: S603
