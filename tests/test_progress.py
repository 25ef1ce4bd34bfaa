"""Progress of long work: ``progress=`` callbacks, the ``"mdpgrad"`` logger, an optional tqdm bar, and
the command line's status line on a terminal.

Each callback must see counts that never decrease, stay within [0, total], and end at total; the
logger must receive the same work at DEBUG (INFO with ``progress=True`` and no tqdm); tqdm is never
required.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import types

import numpy as np
import pytest

import mdpgrad as mg
from mdpgrad import symbolic as sym
from mdpgrad._progress import MIN_FRACTION, MIN_INTERVAL, reporter
from mdpgrad.cli import main
from mdpgrad.estimators import estimator_moments, reinforce_estimator
from mdpgrad.examples import slippery_gridworld


class Calls:
    """A progress callback that records what it is told, per piece of work (the message's prefix)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def __call__(self, done: int, total: int, message: str) -> None:
        self.calls.append((done, total, message))

    def runs(self) -> list[tuple[str, list[tuple[int, int]]]]:
        """(name, counts) of each piece of work, in order; a run begins with its "started" call."""
        out: list[tuple[str, list[tuple[int, int]]]] = []
        for done, total, message in self.calls:
            name, _, rest = message.partition(": ")
            if rest == "started":
                out.append((name, []))
            assert out and out[-1][0] == name
            out[-1][1].append((done, total))
        return out

    def run(self, prefix: str) -> list[tuple[int, int]]:
        """The counts of the one piece of work whose name starts with ``prefix``."""
        (found,) = [r for name, r in self.runs() if name.startswith(prefix)]
        return found


def _check_run(run: list[tuple[int, int]]) -> int:
    """The counts of one piece of work are monotone in [0, total], start at 0 and end at total."""
    totals = {t for _, t in run}
    assert len(totals) == 1
    (total,) = totals
    counts = [d for d, _ in run]
    assert counts == sorted(counts) and 0 <= counts[0] and counts[-1] <= total
    assert counts[0] == 0 and counts[-1] == total
    return total


def test_reporter_counts_are_monotone_and_end_at_total():
    calls = Calls()
    with reporter(calls, 1000, "demo") as rep:
        for k in [5, 3, 7, 2000, 999]:     # a smaller or a larger count is clipped, never reported backwards
            rep.update(k)
    assert _check_run(calls.run("demo")) == 1000
    assert max(d for d, _, _ in calls.calls) == 1000


def test_reporter_throttles_updates(monkeypatch):
    # a clock that moves MIN_INTERVAL / 1000 per read: the time rule passes one update in 1000, the
    # fraction rule (MIN_FRACTION = 1 %) one in 100 of these 10,000 steps
    clock = iter(np.arange(0.0, 100.0, MIN_INTERVAL / 1000))
    monkeypatch.setattr("mdpgrad._progress.time.perf_counter", lambda: float(next(clock)))
    calls = Calls()
    with reporter(calls, 10_000, "demo") as rep:
        for k in range(1, 10_001):
            rep.update(k)
    run = calls.run("demo")
    _check_run(run)
    assert len(run) == 1 + round(1 / MIN_FRACTION) + 1   # "started", one per 1 % (up to 100 %), "done"


def test_an_exception_does_not_complete_the_count():
    calls = Calls()
    with pytest.raises(RuntimeError), reporter(calls, 10, "demo") as rep:
        rep.update(4)
        raise RuntimeError
    assert calls.calls and all(done < 10 for done, _, _ in calls.calls)


@pytest.mark.parametrize("chunk_size", [None, 300])
def test_sampling_reports_finished_episodes(chunk_size):
    calls = Calls()
    mdp = mg.get_example("short-corridor")
    tr = mg.sample(mdp, mg.uniform_policy(4, 2), 1000, rng=0, chunk_size=chunk_size, progress=calls)
    assert _check_run(calls.run("sampling 1000 episodes")) == tr.n_episodes == 1000


def test_krylov_solve_reports_its_iterations():
    mdp = slippery_gridworld(12, 12, gamma=0.99)
    calls = Calls()
    ev = mg.evaluate(mdp, mg.uniform_policy(mdp.n_states, mdp.n_actions), solver="krylov", progress=calls)
    runs = [r for name, r in calls.runs() if name == "Krylov solve (144 states)"]
    assert len(runs) >= 2 and all(_check_run(r) == ev.solver.maxiter for r in runs)    # v and η
    finals = [m for _, _, m in calls.calls if "converged after" in m]
    assert finals and all("NOT converged" not in m for m in finals)
    # the solver keeps reporting in later solves (the gradient's adjoint solve)
    before = len(calls.calls)
    ev.solver.solve(np.ones(mdp.n_states))
    assert len(calls.calls) > before


def test_identity_test_reports_one_step_per_point():
    calls = Calls()
    res = sym.prove_policy_gradient_theorem(sym.general_mdp(2, 2), sym.TabularSoftmax(2, 2),
                                            method="identity test", rng=0, progress=calls)
    assert _check_run(calls.run("identity test")) == res.n_points


def test_exact_proof_reports_its_stages():
    calls = Calls()
    res = sym.prove_recursion_form(sym.general_mdp(2, 2), sym.TabularSoftmax(2, 2), progress=calls,
                                   precheck=False)
    assert res.status == "proved"
    run = calls.run("exact proof")
    assert _check_run(run) == 3 and [d for d, _ in run] == [0, 1, 2, 3]


def test_estimator_moments_report_their_stages():
    calls = Calls()
    mdp = mg.get_example("short-corridor")
    estimator_moments(mdp, mg.TabularSoftmax(4, 2), np.zeros((4, 2)), reinforce_estimator(), progress=calls)
    assert [d for d, _ in calls.run("exact moments of 'reinforce'")] == [0, 1, 2, 3]


def test_logging_receives_the_work_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="mdpgrad"):
        mg.sample(mg.get_example("short-corridor"), mg.uniform_policy(4, 2), 50, rng=0)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "mdpgrad"]
    assert (logging.DEBUG, "sampling 50 episodes: started (total 50)") in messages
    assert any(m.startswith("sampling 50 episodes: done in") for _, m in messages)


def test_progress_true_without_tqdm_logs_at_info(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "tqdm", None)      # import tqdm now raises ImportError
    with caplog.at_level(logging.INFO, logger="mdpgrad"):
        mg.sample(mg.get_example("short-corridor"), mg.uniform_policy(4, 2), 50, rng=0, progress=True)
    infos = [r.getMessage() for r in caplog.records if r.name == "mdpgrad" and r.levelno == logging.INFO]
    assert infos[0] == "sampling 50 episodes: started (total 50)" and infos[-1].startswith("sampling 50")


def test_progress_true_uses_tqdm_when_installed(monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, total: int, desc: str, leave: bool) -> None:
            self.total, self.desc, self.n, self.closed = total, desc, 0, False
            bars.append(self)

        def set_postfix_str(self, text: str, refresh: bool) -> None:
            pass

        def close(self) -> None:
            self.closed = True

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=FakeBar))
    mg.sample(mg.get_example("short-corridor"), mg.uniform_policy(4, 2), 50, rng=0, progress=True)
    (bar,) = bars
    assert bar.desc == "sampling 50 episodes" and bar.n == bar.total == 50 and bar.closed


@pytest.mark.parametrize("bad", [1, "yes", 0.5])
def test_bad_progress_is_refused(bad):
    with pytest.raises(mg.ValidationError) as err:
        mg.sample(mg.get_example("short-corridor"), mg.uniform_policy(4, 2), 5, rng=0, progress=bad)
    assert err.value.argument == "progress"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stderr, shown", [(_Terminal, True), (io.StringIO, False)])
def test_cli_shows_progress_on_a_terminal_only(monkeypatch, stderr, shown):
    err, out = stderr(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with contextlib.redirect_stdout(out):
        status = main(["check", "two-state"])
    assert status == 0 and out.getvalue().startswith("Model")
    text = err.getvalue()
    if shown:
        assert "\rsampling 4000 episodes: started" in text and text.endswith("\r\033[K")
    else:
        assert text == ""
    assert logging.getLogger("mdpgrad").handlers == []     # the status line is removed afterwards
