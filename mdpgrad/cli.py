"""The ``mdpgrad`` command line.

``mdpgrad check [EXAMPLE | FILE] [--policy uniform|random] [--seed N] [--json]``
builds a named example or loads an MDP file (.npz or .json), evaluates a
tabular softmax policy exactly and prints the report: model, exact evaluation,
policy gradient and its finite-difference check, TD verdicts, symbolic
confirmation, return variance and sampled estimators, then a verdict line.
``--seed`` seeds both the random policy and the sampled estimator checks.
``mdpgrad examples`` lists the built-in examples; ``mdpgrad --version`` prints the version.

Exit status: 0 when every check in the report passes, 1 when one fails, and 2
when no report can be produced: unusable input (bad arguments, unknown example,
missing or unreadable file, a directory, a malformed model, a model too big for
the memory limit, an invalid ``MDPGRAD_MEMORY_LIMIT``), a model whose numbers
cannot be computed in floating point (an ArithmeticError or LinAlgError), or
any other failure, each reported without a traceback.  Errors go to stderr as
one line ``mdpgrad: error: …``; with ``--json`` they go to stdout as one JSON
object ``{"error": {"type": …, "message": …, "argument": …}}`` (``argument``
is null when no single argument is at fault), so stdout is JSON whatever
happens.  Options are never abbreviated (``--js`` is not ``--json``).  When
stdout is closed or its reader goes away (``mdpgrad check | head -0``) the
command stops quietly with status 2.  When stderr is a terminal, the progress of the long steps
(sampling, proofs, large solves) is shown there on one line, erased before the report prints.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

import numpy as np

from ._errors import ValidationError
from ._model import MDP
from ._validation import memory_limit

__all__ = ["main"]

DEFAULT_EXAMPLE = "two-state"


def _load(target: str) -> tuple[str, MDP, dict[str, Any]]:
    from .examples import _catalogue as examples
    from .io import _files as io

    if target == "baird":   # the report also shows the off-policy divergence it is known for
        ex = examples.baird_counterexample()
        return target, ex.mdp, {"baird": ex}
    if target in examples.EXAMPLES:
        return target, examples.get_example(target), {}
    if os.path.isdir(target):
        raise ValidationError(f"{target!r} is a directory; expected an example name or a .npz/.json file",
                              argument="target", value=target)
    if os.path.lexists(target):     # a symlink loop or a dangling link: load says which (OSError)
        return os.path.basename(target), io.load(target), {}
    if target.endswith((".npz", ".json")) or os.sep in target:
        raise FileNotFoundError(f"no such file: {target!r}")
    names = ", ".join(sorted(examples.EXAMPLES))
    raise LookupError(f"{target!r} is neither a built-in example nor an existing file; "
                      f"examples: {names}")


def _cmd_check(args: argparse.Namespace) -> int:
    from ._report import build_context, build_report, render_json, render_text

    name, mdp, extras = _load(args.target)
    with _progress_on_terminal():
        ctx = build_context(name, mdp, args.policy, args.seed, extras)
        sections = build_report(ctx)
    _write_stdout(render_json(sections) + "\n" if args.json else render_text(sections))
    return 0 if all(s.ok for s in sections) else 1


def _cmd_examples(args: argparse.Namespace) -> int:
    from .examples import _catalogue as examples

    width = max(map(len, examples.EXAMPLES))
    for name, (_, description) in sorted(examples.EXAMPLES.items()):
        _write_stdout(f"{name.ljust(width)}  {description}\n")
    return 0


class _StatusLine(logging.Handler):
    """Progress on a terminal: each message of the ``"mdpgrad"`` logger replaces the last, on one line."""

    def __init__(self, stream: Any) -> None:
        super().__init__(logging.DEBUG)
        self.stream = stream
        self.shown = False

    def emit(self, record: logging.LogRecord) -> None:
        width = max(shutil.get_terminal_size().columns - 1, 20)
        try:
            self.stream.write("\r" + record.getMessage()[:width] + "\033[K")
            self.stream.flush()
            self.shown = True
        except (ValueError, OSError):
            pass

    def clear(self) -> None:
        if self.shown:
            _write_stderr("\r\033[K")


@contextlib.contextmanager
def _progress_on_terminal() -> Iterator[None]:
    """While the report is built, show the library's progress on stderr when stderr is a terminal."""
    err = sys.stderr
    try:
        tty = err is not None and err.isatty()
    except (ValueError, OSError):
        tty = False
    if not tty:
        yield
        return
    logger, handler = logging.getLogger("mdpgrad"), _StatusLine(err)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.clear()


class _StdoutClosed(Exception):
    """stdout is closed or its reader has gone: nothing more can be reported."""


def _write_stdout(text: str) -> None:
    out = sys.stdout
    if out is None:                              # started with fd 1 closed
        raise _StdoutClosed
    try:
        out.write(text)
        out.flush()
    except (BrokenPipeError, ValueError, OSError):   # ValueError: "I/O operation on closed file"
        raise _StdoutClosed from None


def _write_stderr(text: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(text)
            sys.stderr.flush()
    except (ValueError, OSError):
        pass                                     # nowhere left to report to


def _silence_stdout() -> None:
    """Point fd 1 at /dev/null, so the interpreter's final flush of stdout cannot fail noisily."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


class _UsageError(Exception):
    """A command line argparse cannot parse (reported as exit status 2, like any unusable input)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: {message}")


def _version() -> str:
    import mdpgrad  # the package's own __version__, the one place the version is written

    return mdpgrad.__version__


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="mdpgrad", description="Exact analysis of finite MDPs.", allow_abbrev=False)
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("check", help="evaluate a policy exactly on an example or MDP file and report",
                       allow_abbrev=False)
    c.add_argument("target", nargs="?", default=DEFAULT_EXAMPLE,
                   help=f"example name or .npz/.json file (default: {DEFAULT_EXAMPLE})")
    c.add_argument("--policy", choices=["uniform", "random"], default="uniform",
                   help="uniform: theta = 0; random: theta ~ N(0, 1) (tabular softmax)")
    c.add_argument("--seed", type=int, default=0,
                   help="seed >= 0 for --policy random and for the sampled checks (default 0)")
    c.add_argument("--json", action="store_true",
                   help="print the report as JSON (errors too, as {\"error\": ...} on stdout)")
    c.set_defaults(func=_cmd_check)
    e = sub.add_parser("examples", help="list the built-in examples", allow_abbrev=False)
    e.set_defaults(func=_cmd_examples)
    return p


#: Failures that mean "this input cannot be analysed", reported by their message alone.
_INPUT_ERRORS = (_UsageError, ValidationError, LookupError, OSError, MemoryError, ArithmeticError,
                 np.linalg.LinAlgError)


def _error(exc: BaseException, as_json: bool) -> int:
    argument = getattr(exc, "argument", None)
    if isinstance(exc, MemoryError):
        message = f"out of memory: the model is too large for this machine ({exc or 'MemoryError'})"
    elif isinstance(exc, (ArithmeticError, np.linalg.LinAlgError)) and not isinstance(exc, ValidationError):
        message = (f"the model's numbers cannot be computed in floating point "
                   f"({type(exc).__name__}: {exc or 'no detail'})")
    elif isinstance(exc, _INPUT_ERRORS):
        message = str(exc) or type(exc).__name__
    else:
        message = f"internal error ({type(exc).__name__}: {exc or 'no detail'})"
    message = " ".join(message.split())
    if as_json:
        kind = "usage" if isinstance(exc, _UsageError) else type(exc).__name__
        try:
            _write_stdout(json.dumps({"error": {"type": kind, "message": message,
                                                "argument": argument if isinstance(argument, str)
                                                else None}}) + "\n")
        except _StdoutClosed:
            _silence_stdout()
    else:
        _write_stderr(f"mdpgrad: error: {message}\n")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mdpgrad`` script; returns the exit status (see the module docstring).

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments; default ``sys.argv[1:]``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        memory_limit()              # an invalid MDPGRAD_MEMORY_LIMIT is reported before any work
        try:
            args = _parser().parse_args(argv)
        except SystemExit as stop:  # --help and --version have printed; only they exit from argparse
            return stop.code if isinstance(stop.code, int) else 0
        with warnings.catch_warnings():     # floating-point warnings would break the one-line contract;
            warnings.simplefilter("ignore", RuntimeWarning)   # the report's own checks judge results
            return int(args.func(args))
    except _StdoutClosed:
        _silence_stdout()
        return 2
    except KeyboardInterrupt:
        _write_stderr("mdpgrad: interrupted\n")
        return 130
    except Exception as exc:        # never a traceback: every failure is one line (JSON with --json)
        return _error(exc, as_json)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
