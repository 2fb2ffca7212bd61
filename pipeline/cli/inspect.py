"""``veil inspect FILE``: what metadata a photo or video carries, by category.

Tag names only by default; ``--show-values`` prints values too (for a person looking at their
own file; never use it in logs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli.env import env_flag
from pipeline.errors import MediaError

EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``veil inspect``."""
    p = subparsers.add_parser("inspect", help="list the metadata a photo or video carries")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument(
        "--show-values",
        action="store_true",
        default=env_flag("VEIL_INSPECT_SHOW_VALUES"),
        help="also print values where a reader exposes them (env VEIL_INSPECT_SHOW_VALUES)",
    )
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Inspect each file; 1 if any could not be read or parsed."""
    from detectors.media_inspect import inspect_media

    failed = 0
    for path in args.files:
        try:
            report = inspect_media(
                path.read_bytes(), filename=path.name, with_values=args.show_values
            )
        except MediaError as exc:
            failed += 1
            print(f"veil inspect: {exc}", file=sys.stderr)
            continue
        except OSError as exc:
            failed += 1
            print(f"veil inspect: {path.name}: cannot read ({exc.strerror})", file=sys.stderr)
            continue
        print(f"{path}: {report.media_type}")
        if not report.found:
            print("  (no identifying metadata found)")
        for category, names in report.found.items():
            print(f"  {category}:")
            for name in names:
                value = report.values.get(name)
                print(f"    {name}" + (f" = {value}" if value is not None else ""))
    return EXIT_FAILED if failed else EXIT_OK
