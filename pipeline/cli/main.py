"""``veil`` entry point.

Subcommands live in their own modules, listed explicitly in :data:`COMMANDS` and imported
only when used, so ``veil scan`` never pays for importing Faust or spaCy. Each module
exposes ``add_parser(subparsers) -> None`` which registers its parser and sets
``func=handler`` where ``handler(args) -> int`` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pipeline import __version__
from pipeline.cli.logsetup import configure

# name -> module. Explicit on purpose: an unknown name is an argparse error listing these.
COMMANDS: dict[str, str] = {
    "scan": "pipeline.cli.scan",
    "bench": "pipeline.cli.bench",
    "policy": "pipeline.cli.policy",
    "replay": "pipeline.cli.replay",
    "strip": "pipeline.cli.strip",
    "inspect": "pipeline.cli.inspect",
    "topics": "pipeline.cli.topics",
    "worker": "pipeline.cli.worker",
    "sidecar": "pipeline.cli.sidecar",
}

# Exit codes shared by every subcommand (documented in the README).
EXIT_OK = 0
EXIT_FAILED = 1  # could not process input (unreadable, undecodable, strict-mode dead letters)
EXIT_USAGE = 2  # bad arguments or bad configuration/policy; nothing was written
EXIT_INTERRUPTED = 130


def _build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="veil", description="Streaming PII redaction and data minimization."
    )
    parser.add_argument("--version", action="version", version=f"veil {__version__}")
    parser.add_argument(
        "--log-level",
        default=os.environ.get("VEIL_LOG_LEVEL", "WARNING"),
        help="logging level (env VEIL_LOG_LEVEL; default WARNING)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Import only the module of the command being run (plus all of them for --help).
    wanted = [a for a in argv if a in COMMANDS][:1] or list(COMMANDS)
    for name in wanted:
        try:
            module = importlib.import_module(COMMANDS[name])
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            if exc.name != COMMANDS[name]:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (also the process exit code via the script)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser(args_list)
    args = parser.parse_args(args_list)
    configure(str(args.log_level))
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (`veil policy explain ... | head`): not an input
        # error. Point stdout at devnull so the interpreter's final flush does not raise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    return code


if __name__ == "__main__":
    sys.exit(main())
