"""The ``mdpgrad`` command line.

``mdpgrad check [EXAMPLE | FILE] [--policy uniform|random] [--seed N] [--json]``
builds a named example or loads an MDP file (.npz or .json), evaluates a
tabular softmax policy exactly and prints the report: model, exact evaluation,
policy gradient and its finite-difference check, TD verdicts, symbolic
confirmation, return variance and sampled estimators.  ``--seed`` seeds both
the random policy and the sampled estimator checks.  ``mdpgrad examples``
lists the built-in examples.

Exit status: 0 when every check in the report passes, 1 when one fails, 2 for
unusable input (unknown example, unreadable file, malformed model), reported
as one line on stderr without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ._errors import ValidationError
from ._model import MDP

__all__ = ["main"]

DEFAULT_EXAMPLE = "two-state"


def _load(target: str) -> tuple[str, MDP]:
    from .examples import _catalogue as examples
    from .io import _files as io

    if target in examples.EXAMPLES:
        return target, examples.get_example(target)
    if os.path.exists(target):
        return os.path.basename(target), io.load(target)
    names = ", ".join(sorted(examples.EXAMPLES))
    raise LookupError(f"{target!r} is neither a built-in example nor an existing file; "
                      f"examples: {names}")


def _cmd_check(args: argparse.Namespace) -> int:
    from ._report import build_context, build_report, render_json, render_text

    name, mdp = _load(args.target)
    ctx = build_context(name, mdp, args.policy, args.seed)
    sections = build_report(ctx)
    sys.stdout.write(render_json(sections) + "\n" if args.json else render_text(sections))
    failed = [s.title for s in sections if not s.ok]
    if failed and not args.json:
        sys.stdout.write(f"FAILED checks: {', '.join(failed)}\n")
    return 1 if failed else 0


def _cmd_examples(args: argparse.Namespace) -> int:
    from .examples import _catalogue as examples

    width = max(map(len, examples.EXAMPLES))
    for name, (_, description) in sorted(examples.EXAMPLES.items()):
        sys.stdout.write(f"{name.ljust(width)}  {description}\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mdpgrad", description="Exact analysis of finite MDPs.")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="evaluate a policy exactly on an example or MDP file and report")
    c.add_argument("target", nargs="?", default=DEFAULT_EXAMPLE,
                   help=f"example name or .npz/.json file (default: {DEFAULT_EXAMPLE})")
    c.add_argument("--policy", choices=["uniform", "random"], default="uniform",
                   help="uniform: theta = 0; random: theta ~ N(0, 1) (tabular softmax)")
    c.add_argument("--seed", type=int, default=0,
                   help="seed for --policy random and for the sampled checks (default 0)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=_cmd_check)
    e = sub.add_parser("examples", help="list the built-in examples")
    e.set_defaults(func=_cmd_examples)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdpgrad`` script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValidationError, LookupError, OSError) as exc:
        sys.stderr.write(f"mdpgrad: error: {exc}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
