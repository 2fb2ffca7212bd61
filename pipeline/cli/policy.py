"""``veil policy check [PATH]`` and ``veil policy explain --purpose P [--consent ...]``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pipeline.consent import Consent
from pipeline.errors import PolicyError
from pipeline.policy import load_policy
from pipeline.policy.explain import explain, render

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(subparsers: Any) -> None:
    """Register ``veil policy`` and its subcommands."""
    parser = subparsers.add_parser("policy", help="check or explain the minimization policy")
    sub = parser.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)

    check = sub.add_parser("check", help="validate a policy file (exit 0 valid, 2 invalid)")
    check.add_argument(
        "path",
        nargs="?",
        default=os.environ.get("VEIL_POLICY"),
        help="policy YAML (env VEIL_POLICY; default config/policy.yaml)",
    )
    check.set_defaults(func=handle_check)

    exp = sub.add_parser("explain", help="what a purpose receives under a consent")
    exp.add_argument(
        "--purpose",
        default=os.environ.get("VEIL_PURPOSE"),
        required=os.environ.get("VEIL_PURPOSE") is None,
        help="the purpose to explain (env VEIL_PURPOSE)",
    )
    exp.add_argument(
        "--consent",
        default=os.environ.get("VEIL_CONSENT", ""),
        help="granted consent keys, e.g. location=granted,advertising=granted or "
        "location,advertising (env VEIL_CONSENT; default: nothing granted)",
    )
    exp.add_argument(
        "--policy",
        default=os.environ.get("VEIL_POLICY"),
        help="policy YAML (env VEIL_POLICY; default config/policy.yaml)",
    )
    exp.set_defaults(func=handle_explain)


def parse_consent_arg(text: str) -> Consent:
    """``key=granted,key2=denied,key3`` -> Consent (a bare key means granted).

    Raises:
        ValueError: an item is empty or has an empty key.
    """
    mapping: dict[str, object] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not key.strip():
            msg = "--consent: expected key=granted items separated by commas"
            raise ValueError(msg)
        mapping[key.strip()] = value.strip().lower() if sep else "granted"
    return Consent.from_mapping(mapping)


def handle_check(args: argparse.Namespace) -> int:
    """Validate the policy; print a one-line summary or the error."""
    try:
        policy = load_policy(args.path)
    except PolicyError as exc:
        print(f"veil policy check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    fields = len(policy.all_paths())
    print(
        f"policy OK: version {policy.version}, {len(policy.purposes)} purposes "
        f"({', '.join(policy.purposes)}), {fields} fields, {len(policy.consent_keys)} consent keys"
    )
    return EXIT_OK


def handle_explain(args: argparse.Namespace) -> int:
    """Print the table of what ``--purpose`` receives under ``--consent``."""
    try:
        policy = load_policy(args.policy)
        consent = parse_consent_arg(args.consent)
    except (PolicyError, ValueError) as exc:
        print(f"veil policy explain: {exc}", file=sys.stderr)
        return EXIT_USAGE
    unknown = sorted(consent.granted - policy.consent_keys)
    if unknown:
        print(
            f"veil policy explain: unknown consent keys ignored (never granted): "
            f"{', '.join(unknown)}; known: {', '.join(sorted(policy.consent_keys))}",
            file=sys.stderr,
        )
        consent = Consent(consent.granted & policy.consent_keys)
    if args.purpose not in policy.purposes:
        print(
            f"veil policy explain: unknown purpose; expected one of {', '.join(policy.purposes)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    header, rows = explain(policy, args.purpose, consent)
    print(render(header, rows))
    return EXIT_OK


__all__ = ["add_parser", "handle_check", "handle_explain", "parse_consent_arg"]
