"""``veil strip FILE... --out-dir DIR``: lossless metadata stripping of photos and videos.

Prints one line per file naming the categories and tag names removed (never values). A file
that cannot be stripped is reported on stderr with the reason and produces no output file;
the exit code is then 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline.cli.env import env_flag
from pipeline.errors import MediaError
from pipeline.media import MediaPolicy, StripResult, strip_file

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ALLOWABLE = ("location",)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``veil strip``."""
    p = subparsers.add_parser(
        "strip", help="strip identifying metadata from photos and videos, losslessly"
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--out-dir",
        type=Path,
        default=os.environ.get("VEIL_STRIP_OUT_DIR"),
        help="directory for the stripped files (env VEIL_STRIP_OUT_DIR; required)",
    )
    p.add_argument(
        "--allow",
        action="append",
        choices=ALLOWABLE,
        default=[a for a in os.environ.get("VEIL_STRIP_ALLOW", "").split(",") if a],
        help="keep a category the person consented to: 'location' keeps GPS rounded to "
        "about 1 km (env VEIL_STRIP_ALLOW, comma-separated)",
    )
    p.add_argument(
        "--keep-dates",
        action="store_true",
        default=env_flag("VEIL_STRIP_KEEP_DATES"),
        help="keep capture dates (env VEIL_STRIP_KEEP_DATES)",
    )
    p.set_defaults(func=handler)


def summary(name: str, result: StripResult) -> str:
    """One line: file, detected type, then ``category[tag,...]`` for what was removed."""
    parts = [f"{cat}[{','.join(tags)}]" for cat, tags in result.removed.items()]
    kept = f" kept[{','.join(result.kept)}]" if result.kept else ""
    return f"{name}: {result.media_type} removed " + (" ".join(parts) or "nothing") + kept


def handler(args: argparse.Namespace) -> int:
    """Strip every file; 0 if all succeeded, 1 if any failed, 2 on bad arguments."""
    out_dir: Path | None = args.out_dir
    if out_dir is None:
        print("veil strip: --out-dir (or VEIL_STRIP_OUT_DIR) is required", file=sys.stderr)
        return EXIT_USAGE
    bad = [a for a in args.allow if a not in ALLOWABLE]
    if bad:
        print(f"veil strip: --allow accepts {', '.join(ALLOWABLE)}", file=sys.stderr)
        return EXIT_USAGE
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = MediaPolicy(
        location="coarse" if "location" in args.allow else "drop", keep_dates=args.keep_dates
    )
    failed = 0
    written: set[Path] = set()
    for src in args.files:
        dst = out_dir / src.name
        try:
            if dst.resolve() in written:
                msg = f"{src.name}: another input already wrote {dst.name}"
                raise _Refused(msg)
            if dst.exists() and dst.resolve() == src.resolve():
                msg = f"{src.name}: output would overwrite the input"
                raise _Refused(msg)
            result = strip_file(src, dst, policy=policy)
        except (MediaError, _Refused) as exc:
            failed += 1
            print(f"veil strip: {exc}", file=sys.stderr)
            continue
        except OSError as exc:
            failed += 1
            print(f"veil strip: {src.name}: cannot read or write ({exc.strerror})", file=sys.stderr)
            continue
        written.add(dst.resolve())
        print(summary(str(src), result))
    total = len(args.files)
    print(f"veil strip: {total - failed} of {total} files stripped", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


class _Refused(Exception):
    """A file the CLI refuses before calling the library (name collisions)."""
