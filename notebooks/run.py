"""Run the lessons from a fresh kernel: ``python notebooks/run.py [--write | --check] [NAME ...]``.

Each notebook is executed top to bottom in a new Python kernel with the
non-interactive Agg backend, from this folder; a failed assertion or any error
stops it and the script exits non-zero.  NAME is a file name or a prefix
(``03`` runs ``03_value_polytope.ipynb``); without one every lesson runs.

Every figure a lesson shows is checked with
:func:`mdpgrad.plot.figure_problems` (resolution, text sizes, subscripts,
overlapping text); a figure with a problem is listed and the script exits
non-zero.

``--check`` compares the text a fresh run prints (stdout and the plain-text
results of cells; not figures, execution counts or metadata) with the
committed outputs, every number rounded to 6 significant digits, and prints a
diff of what moved.  ``--write`` saves the fresh outputs (figures included)
back into the ``.ipynb``.  The test suite (``tests/test_notebooks.py``) runs
each lesson once and makes the same comparison, so a committed lesson whose
printed numbers no longer match the library fails there.

After a change to the library, refresh the committed lessons with::

    PYTHONPATH=$PWD python notebooks/run.py --check     # what moved, lesson by lesson
    PYTHONPATH=$PWD python notebooks/run.py --write     # save the fresh outputs
    PYTHONPATH=$PWD python notebooks/run.py --check     # now silent: the lessons are reproducible
    git diff --stat notebooks                           # then commit them

If a moved number is one the prose cites, the lesson's own assertion next to
it fails first: update the number in the markdown and in the assertion
together, never the assertion alone.
"""

from __future__ import annotations

import argparse
import difflib
import os
import pathlib
import re
import sys
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent


def lessons(names: list[str] | None = None) -> list[pathlib.Path]:
    """The lesson notebooks in this folder, optionally those whose name starts with one of ``names``."""
    found = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return found
    chosen = [p for p in found if any(p.name.startswith(n) for n in names)]
    missing = [n for n in names if not any(p.name.startswith(n) for p in found)]
    if missing:
        raise SystemExit(f"no lesson named {', '.join(missing)}; lessons: {', '.join(p.name for p in found)}")
    return chosen


def install_figure_audit(out: str) -> None:
    """In a kernel: check every figure it shows with ``mdpgrad.plot.figure_problems``, one JSON line each.

    The notebook's PNG formatter for Figures (registered by ``%matplotlib
    inline``) is wrapped before each cell runs; the wrapper appends
    ``{"cell": execution count, "dpi": ..., "problems": [...]}`` to the file
    ``out`` and then renders the figure as before, so the outputs do not change.
    """
    import json

    from IPython import get_ipython
    from matplotlib.figure import Figure

    import mdpgrad.plot as mplot

    shell = get_ipython()
    png = shell.display_formatter.formatters["image/png"]

    def wrap(*_: Any) -> None:
        try:
            render = png.lookup_by_type(Figure)
        except KeyError:
            return
        if getattr(render, "figure_audit", False):
            return

        def audited(fig: Figure) -> Any:
            record = {"cell": shell.execution_count, "dpi": float(fig.dpi),
                      "problems": mplot.figure_problems(fig)}
            with open(out, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            return render(fig)

        audited.figure_audit = True        # type: ignore[attr-defined]
        png.for_type(Figure, audited)

    shell.events.register("pre_run_cell", wrap)


def execute(path: pathlib.Path, *, timeout: int = 300,
            figures: list[dict[str, Any]] | None = None) -> tuple[object, float]:
    """Execute one notebook in a fresh kernel; returns (the executed notebook, seconds).

    With a list ``figures``, every figure the notebook shows is also checked by
    :func:`mdpgrad.plot.figure_problems` in the kernel, and one record per
    figure (``cell``, ``dpi``, ``problems``) is appended to the list.
    """
    import json
    import tempfile

    import nbclient
    import nbformat

    os.environ["MPLBACKEND"] = "Agg"        # inherited by the kernel: no window, same pictures
    nb = nbformat.read(path, as_version=4)
    arguments = ["--IPKernelApp.log_level=ERROR"]
    with tempfile.TemporaryDirectory() as tmp:
        audit = pathlib.Path(tmp) / "figures.jsonl"
        if figures is not None:
            # run at the kernel's start, in no name of the lesson's namespace (execution counts unchanged)
            line = (f"__import__('runpy').run_path({str(pathlib.Path(__file__).resolve())!r}, "
                    f"run_name='figure_audit')['install_figure_audit']({str(audit)!r})")
            arguments.append(f"--IPKernelApp.exec_lines={[line]!r}")
        # the kernel's own log (e.g. its note on the local TCP transport) is not the lesson's output;
        # warnings raised by the lesson's code still appear in the notebook as stderr
        # coalesce_streams: one stream output per run of prints, however the kernel's flushes happened
        # to split it (a line can otherwise arrive in two pieces, and the committed file would change
        # from run to run)
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", coalesce_streams=True,
                                         extra_arguments=arguments,
                                         resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - start
        if figures is not None and audit.exists():
            figures.extend(json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines())
    return nb, seconds


#: Printed numbers are compared to this many significant digits: enough to see any change in a cited
#: number (the lessons print at most 6), while the 7th digit of a float printed in full (e.g. a rounding
#: residue such as 2.7755575615628914e-16) does not count.
SIGNIFICANT_DIGITS = 6
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _rounded(match: re.Match[str]) -> str:
    text = match.group(0)
    if re.fullmatch(r"[-+]?\d+", text) and len(text.lstrip("+-")) <= SIGNIFICANT_DIGITS:
        return text                       # a short integer (a count, an index) is kept as printed
    return f"{float(text):.{SIGNIFICANT_DIGITS}g}"


def _joined(text: str | list[str]) -> str:
    return "".join(text) if isinstance(text, list) else text


def normalise(text: str) -> str:
    """``text`` with every number rounded to :data:`SIGNIFICANT_DIGITS` significant digits."""
    return _NUMBER.sub(_rounded, text)


def text_outputs(nb: Any) -> list[str]:
    """The text a notebook shows, one line per entry, each prefixed by its cell number.

    Streams (stdout, stderr) and the ``text/plain`` form of results are kept;
    outputs that carry an image (a figure's ``<Figure size ...>``) and all
    execution counts and metadata are left out.
    """
    lines: list[str] = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        outputs: list[Any] = []
        for out in cell.get("outputs", []):            # consecutive prints: one text, however split
            if (out["output_type"] == "stream" and outputs and outputs[-1]["output_type"] == "stream"
                    and outputs[-1]["name"] == out["name"]):
                outputs[-1] = {**outputs[-1], "text": _joined(outputs[-1]["text"]) + _joined(out["text"])}
            else:
                outputs.append(out)
        for out in outputs:
            kind = out["output_type"]
            if kind == "stream":
                text = out["text"]
            elif kind in ("execute_result", "display_data"):
                data = out.get("data", {})
                if "image/png" in data or "text/plain" not in data:
                    continue
                text = data["text/plain"]
            elif kind == "error":
                text = f"{out['ename']}: {out['evalue']}"
            else:
                continue
            text = _joined(text)
            lines.extend(f"[cell {index}] {normalise(line)}" for line in text.splitlines())
    return lines


def differences(committed: Any, fresh: Any, name: str = "lesson") -> str:
    """A unified diff of the text outputs of two copies of a notebook ("" when they agree)."""
    return "\n".join(difflib.unified_diff(text_outputs(committed), text_outputs(fresh),
                                          f"{name} (committed)", f"{name} (fresh run)", lineterm=""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="lesson file names or prefixes (default: all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="save the outputs into the notebooks")
    mode.add_argument("--check", action="store_true",
                      help="compare the printed text with the committed outputs (6 significant digits)")
    args = parser.parse_args(argv)
    import nbformat

    failed = 0
    for path in lessons(args.names):
        figures: list[dict[str, Any]] = []
        try:
            nb, seconds = execute(path, figures=figures)
        except Exception as exc:          # report every lesson, then fail
            failed += 1
            print(f"FAILED  {path.name}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1]}")
            continue
        problems = [f"  [cell {f['cell']}] {p}" for f in figures for p in f["problems"]]
        if problems:                      # still saved with --write, so that the pictures can be looked at
            failed += 1
            print(f"FIGURES {path.name}: not slide-ready (mdpgrad.plot.figure_problems)")
            print("\n".join(problems))
        if args.check:
            diff = differences(nbformat.read(path, as_version=4), nb, path.name)
            if diff:
                failed += 1
                print(f"CHANGED {path.name}  {seconds:5.1f} s\n{diff}")
                continue
        if args.write:
            for cell in nb.cells:         # no per-run noise in the committed file
                cell.get("metadata", {}).pop("execution", None)
            nbformat.write(nb, path)
        print(f"ok      {path.name}  {seconds:5.1f} s{'  (outputs saved)' if args.write else ''}"
              f"{'  (same text as committed)' if args.check else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
