"""Write samples/chat.txt: fixed-seed synthetic chat and log lines with PII (no real people).

Run from the repository root: ``.venv/bin/python scripts/gen_chat_sample.py``. The output is
committed; re-running reproduces it byte for byte (same seed, same generator as the detector
benchmark in benchmarks/_textcorpus.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._textcorpus import generate  # noqa: E402

SEED = 7
LINES = 60


def main() -> int:
    lines = [s.text for s in generate(LINES, seed=SEED)]
    out = ROOT / "samples" / "chat.txt"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} lines to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
