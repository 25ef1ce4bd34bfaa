"""Timing harness shared by the benchmarks: both sides of a comparison are timed the same way.

Two methods, both symmetric between the sides:

* **fresh processes** (:func:`fresh_process_runs`, the default): every timed call runs in a new
  Python process that imports, builds its data from a seed, makes one untimed warm-up call and then
  times one call (:func:`child_main` on the child's side, which prints one JSON line).  The sides
  alternate, A B, B A, A B, … so that a drift in the machine's load affects them alike, and no call
  of one side can leave caches, allocator state or BLAS threads warm or cold for the other.
* **alternating in one process** (:func:`alternating_runs`): exactly two callables, called in turn
  (order swapped every round), with no call of any third library in between.

A library that is not importable (JAX is optional) has its rows marked absent.  JAX, when it is
timed, always runs in processes of its own.

The report gives, for each side, the minimum, median and maximum wall time (``time.perf_counter``)
and the ratio of the medians, together with the load average at start and end and the BLAS in use
(threadpoolctl's ``threadpool_info()`` when importable, else numpy's build configuration).  The
median is quoted because the machine is shared: a run slowed by another process moves the maximum,
not the median, as long as fewer than half of the runs are hit (Hoefler & Belli 2015, "Scientific
benchmarking of parallel computing systems", rule 5: report the median and a measure of spread).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "alternating_runs", "blas_description", "child_env", "child_main", "fresh_process_runs",
           "load_average", "machine_header", "print_comparison", "ratio_of_medians", "summarise"]


@dataclass(frozen=True)
class Summary:
    """Min, median and max of the wall times of one side, in seconds; ``n`` runs."""

    min: float
    median: float
    max: float
    n: int

    def format(self, scale: float = 1.0, unit: str = "s", digits: int = 4) -> str:
        f = f"{{:.{digits}f}}"
        return (f"median {f.format(self.median * scale)} {unit}  (min {f.format(self.min * scale)}, "
                f"max {f.format(self.max * scale)}, n={self.n})")


def summarise(times: Sequence[float]) -> Summary:
    """Min, median and max of a list of wall times."""
    t = np.asarray(times, dtype=float)
    if t.size == 0:
        raise ValueError("no timings to summarise")
    return Summary(float(t.min()), float(np.median(t)), float(t.max()), int(t.size))


def ratio_of_medians(a: Sequence[float] | Summary, b: Sequence[float] | Summary) -> float:
    """median(a) / median(b)."""
    sa = a if isinstance(a, Summary) else summarise(a)
    sb = b if isinstance(b, Summary) else summarise(b)
    return sa.median / sb.median


# --- the machine -----------------------------------------------------------------------------

def load_average() -> str:
    """The 1, 5 and 15 minute load averages, formatted (os.getloadavg)."""
    try:
        return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover - not on this platform
        return "unavailable"


def blas_description() -> str:
    """The BLAS that numpy and scipy call, with its thread count when threadpoolctl can tell."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        rows = [f"{p.get('internal_api')} {p.get('version')} ({p.get('threading_layer', '?')} threads, "
                f"num_threads={p.get('num_threads')}, arch {p.get('architecture')}, "
                f"{os.path.basename(str(p.get('filepath')))})"
                for p in threadpool_info() if p.get("user_api") == "blas"]
        return "; ".join(rows) + "  [threadpoolctl]" if rows else "none found by threadpoolctl"
    try:
        cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        desc = f"{cfg.get('name')} {cfg.get('version')}"
        if cfg.get("openblas configuration"):
            desc += f" ({cfg['openblas configuration']})"
    except Exception:  # pragma: no cover - older numpy
        desc = "unknown"
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                      "MKL_NUM_THREADS") if k in os.environ)
    return f"{desc}  [numpy build configuration; threadpoolctl not installed]" + (f"; {env}" if env else "")


def machine_header(extra: str = "") -> None:
    """Print the machine, the library versions, the BLAS and the load average at start."""
    import scipy

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; python "
          f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}{extra}")
    print(f"BLAS: {blas_description()}")
    print(f"load average (1, 5, 15 min) at start: {load_average()}  (the machine is shared: other "
          "processes may run during the timings)")


# --- fresh processes ---------------------------------------------------------------------------

def child_main(setup: Callable[[], Callable[[], object]], *, warmup: int = 1,
               info: Callable[[], dict] | None = None) -> None:
    """In a child process: build the data, warm up, time one call, print one JSON line.

    ``setup()`` builds everything from fixed seeds (not timed) and returns the callable to time.
    The garbage collector is run before, and disabled during, the timed call.
    """
    call = setup()
    for _ in range(warmup):
        call()
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    call()
    seconds = time.perf_counter() - t0
    gc.enable()
    out: dict = {"seconds": seconds}
    if info is not None:
        out.update(info())
    print(json.dumps(out))


def child_env(blas_threads: int | None) -> dict[str, str] | None:
    """Environment for child processes with the BLAS limited to ``blas_threads`` threads (None: as is).

    On a shared 2-core machine a 2-thread BLAS whose second thread is descheduled by another process
    waits for it at every synchronisation point; one thread per process is the robust setting then.
    """
    if blas_threads is None:
        return None
    n = str(int(blas_threads))
    return dict(os.environ, OPENBLAS_NUM_THREADS=n, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n)


def _run_child(argv: list[str], env: dict[str, str] | None) -> dict:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child {' '.join(argv)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fresh_process_runs(sides: dict[str, list[str]], repeats: int, *,
                       env: dict[str, str] | None = None) -> dict[str, list[dict]]:
    """Run each side's child command ``repeats`` times, each run a fresh process, the sides alternating.

    ``sides`` maps a label to the argument list after the interpreter (a script and its options); the
    child prints one JSON line with at least ``"seconds"`` (:func:`child_main`).  The order of the
    sides is reversed every other round (A B, B A, …).  Returns each side's list of JSON records.
    """
    labels = list(sides)
    runs: dict[str, list[dict]] = {k: [] for k in labels}
    for i in range(repeats):
        for k in (labels if i % 2 == 0 else labels[::-1]):
            runs[k].append(_run_child([sys.executable, *sides[k]], env))
    return runs


def times_of(records: list[dict]) -> list[float]:
    """The ``"seconds"`` of each record of :func:`fresh_process_runs`."""
    return [float(r["seconds"]) for r in records]


# --- one process, alternating -------------------------------------------------------------------

def alternating_runs(a: Callable[[], object], b: Callable[[], object], repeats: int, *,
                     warmup: int = 1) -> tuple[list[float], list[float]]:
    """Time two callables in turn in this process (A B, B A, …), nothing else called in between."""
    for _ in range(warmup):
        a()
        b()
    ta: list[float] = []
    tb: list[float] = []
    for i in range(repeats):
        order = ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta))
        for f, store in order:
            gc.collect()
            t0 = time.perf_counter()
            f()
            store.append(time.perf_counter() - t0)
    return ta, tb


# --- report ------------------------------------------------------------------------------------

def print_comparison(title: str, ours: tuple[str, Sequence[float]] | None,
                     baselines: Sequence[tuple[str, Sequence[float] | None]], *, method: str,
                     goals: dict[str, float] | None = None, scale: float = 1.0, unit: str = "s",
                     digits: int = 4) -> dict[str, float]:
    """Print min/median/max of each side and the ratio of medians ours / baseline; return the ratios.

    A baseline given as None is reported absent (an optional library not installed).  ``goals`` maps
    a baseline's label to the ratio of medians the benchmark aims at.
    """
    print(f"\n{title}\n  timing: {method}")
    ratios: dict[str, float] = {}
    if ours is not None:
        print(f"  {ours[0]:<46} {summarise(ours[1]).format(scale, unit, digits)}")
    for label, times in baselines:
        if times is None:
            print(f"  {label:<46} not installed: baseline absent")
            continue
        print(f"  {label:<46} {summarise(times).format(scale, unit, digits)}")
        if ours is not None:
            r = ratio_of_medians(ours[1], times)
            ratios[label] = r
            goal = (goals or {}).get(label)
            verdict = "" if goal is None else f"  (goal <= {goal:g}: {'met' if r <= goal else 'MISSED'})"
            print(f"  {'  ratio of medians: first row / this row':<46} {r:.2f}{verdict}")
    return ratios
