"""Run the lessons from a fresh kernel: ``python notebooks/run.py [--write] [NAME ...]``.

Each notebook is executed top to bottom in a new Python kernel with the
non-interactive Agg backend, from this folder; a failed assertion or any error
stops it and the script exits non-zero.  With ``--write`` the outputs (figures
included) are saved back into the ``.ipynb``, which is how the committed
outputs are refreshed after a change.  NAME is a file name or a prefix
(``03`` runs ``03_value_polytope.ipynb``); without one every lesson runs.
The test suite runs the same function (``tests/test_notebooks.py``).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

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


def execute(path: pathlib.Path, *, timeout: int = 300) -> tuple[object, float]:
    """Execute one notebook in a fresh kernel; returns (the executed notebook, seconds)."""
    import nbclient
    import nbformat

    os.environ["MPLBACKEND"] = "Agg"        # inherited by the kernel: no window, same pictures
    nb = nbformat.read(path, as_version=4)
    # the kernel's own log (e.g. its note on the local TCP transport) is not the lesson's output;
    # warnings raised by the lesson's code still appear in the notebook as stderr
    client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                     resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="lesson file names or prefixes (default: all)")
    parser.add_argument("--write", action="store_true", help="save the outputs into the notebooks")
    args = parser.parse_args(argv)
    import nbformat

    failed = 0
    for path in lessons(args.names):
        try:
            nb, seconds = execute(path)
        except Exception as exc:          # report every lesson, then fail
            failed += 1
            print(f"FAILED  {path.name}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1]}")
            continue
        if args.write:
            for cell in nb.cells:         # no per-run noise in the committed file
                cell.get("metadata", {}).pop("execution", None)
            nbformat.write(nb, path)
        print(f"ok      {path.name}  {seconds:5.1f} s{'  (outputs saved)' if args.write else ''}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
