"""Time limits of the exact proofs hold in any thread: ``exact_budget`` from a worker thread.

Before, the limit was a SIGALRM timer, armed only in the main thread of a POSIX process: from a
thread (a web server, a notebook's background job, a thread pool) ``exact_budget`` was ignored and
the exact route ran to the end.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mdpgrad import ValidationError
from mdpgrad import symbolic as sym
from mdpgrad.symbolic._timelimit import TimeLimitExceeded, enforced, run_within

GENERAL2 = sym.general_mdp(2, 2)
SOFT2 = sym.TabularSoftmax(2, 2)

#: The limit used for the busy loops, and how long a loop runs when nothing stops it: 100 times
#: longer, so a loop that was not stopped is told apart from one that was by its completion flag
#: alone (no timing is asserted).
LIMIT = 0.05
RUN = 100 * LIMIT
#: The two tests of the session check take about a second each alone; minutes leave room for a busy
#: machine, while the broken interpreter state ran for ever.
SESSION_TIMEOUT = 180


def _busy(flag: dict) -> str:
    end = time.monotonic() + RUN
    while time.monotonic() < end:
        pass
    flag["finished"] = True
    return "finished"


def _in_thread(fn):
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def test_the_interpreter_can_enforce_limits():
    assert enforced()


def test_a_busy_loop_in_a_worker_thread_is_stopped():
    flag: dict = {}

    def job():
        assert threading.current_thread() is not threading.main_thread()
        try:
            run_within(LIMIT, lambda: _busy(flag))
        except TimeLimitExceeded:
            return "stopped"
        return "ran on"

    assert _in_thread(job) == "stopped"
    assert "finished" not in flag


def test_a_loop_that_drops_the_first_delivery_is_still_stopped():
    # A delivery that surfaces in a garbage-collector callback or a __del__ is dropped by the
    # interpreter ("unraisable"); here the loop drops it itself, deterministically.  Sent once, the
    # limit was lost and the loop ran to the end.
    flag: dict = {"dropped": 0}

    def stubborn() -> str:
        end = time.monotonic() + RUN
        while time.monotonic() < end:
            try:
                while time.monotonic() < end:
                    pass
            except TimeLimitExceeded:
                flag["dropped"] += 1
                if flag["dropped"] > 1:
                    raise
        flag["finished"] = True
        return "finished"

    def job():
        try:
            run_within(LIMIT, stubborn)
        except TimeLimitExceeded:
            return "stopped"
        return "ran on"

    assert _in_thread(job) == "stopped"
    assert flag["dropped"] == 2 and "finished" not in flag


def test_a_computation_whose_deliveries_all_land_in_a_finaliser_is_over_its_limit():
    # The failure seen under pytest: the exception surfaced inside a gc callback and was reported as
    # unraisable, and the exact proof returned "exact" past its budget.  Here nearly all the time is
    # spent inside __del__, so nearly every delivery is dropped there; the computation then returns
    # after the limit, and that is reported as the limit, not as a value.
    flag: dict = {}
    spin = LIMIT / 5

    class Slow:
        def __del__(self):
            end = time.monotonic() + spin
            while time.monotonic() < end:
                pass

    def churn() -> str:
        end = time.monotonic() + 10 * LIMIT
        while time.monotonic() < end:
            Slow()                      # finalised at once, inside the loop
        flag["finished"] = True
        return "finished"

    def job():
        try:
            return run_within(LIMIT, churn)
        except TimeLimitExceeded:
            return "stopped"

    dropped = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda info: dropped.append(info.exc_type)
    try:
        outcome = _in_thread(job)
    finally:
        sys.unraisablehook = hook
    assert outcome == "stopped"
    assert all(issubclass(t, TimeLimitExceeded) for t in dropped)


def test_a_computation_that_drops_every_delivery_and_returns_is_over_its_limit():
    def deaf() -> str:
        end = time.monotonic() + 5 * LIMIT
        while time.monotonic() < end:
            try:
                while time.monotonic() < end:
                    pass
            except TimeLimitExceeded:
                pass
        return "finished"

    with pytest.raises(TimeLimitExceeded):
        _in_thread(lambda: run_within(LIMIT, deaf))
    # and one that returns before its limit is untouched
    assert _in_thread(lambda: run_within(RUN, lambda: "in time")) == "in time"


def test_a_computation_within_its_limit_returns_and_leaves_nothing_pending():
    def job():
        value = run_within(RUN, lambda: 6 * 7)
        # go on past the limit in Python code: a stray exception would surface here
        end = time.monotonic() + 3 * LIMIT
        while time.monotonic() < end:
            pass
        return value

    assert _in_thread(job) == 42
    assert run_within(None, lambda: "no limit") == "no limit"


def test_an_inner_limit_does_not_catch_the_outer_one():
    flag: dict = {}
    caught = []

    def inner():
        try:
            return run_within(RUN, lambda: _busy(flag))    # the outer limit fires first
        except TimeLimitExceeded as exc:
            caught.append(exc)
            raise

    with pytest.raises(TimeLimitExceeded):
        run_within(LIMIT, inner)
    assert "finished" not in flag
    # the exception that crossed the inner call is the outer call's, not a re-labelled inner one
    assert caught and type(caught[0]) is not TimeLimitExceeded


def test_exact_budget_switches_to_the_identity_test_from_a_worker_thread():
    # the exact 2 × 2 proof takes ≈ 0.3 s; 1 ms cannot hold it, in the main thread or any other
    res = _in_thread(lambda: sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=0.001,
                                                               precheck=False))
    assert res.method == "identity test" and res.status == "probable"

    def exact_only():
        try:
            sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=0.001, method="exact",
                                              precheck=False)
        except ValidationError as exc:
            return exc.argument
        return None

    assert _in_thread(exact_only) == "exact_budget"


def test_a_generous_budget_in_a_worker_thread_keeps_the_exact_route():
    res = _in_thread(lambda: sym.prove_policy_gradient_theorem(GENERAL2, SOFT2, exact_budget=600))
    assert res.method == "exact" and res.status == "proved"



@pytest.mark.slow
def test_the_session_runs_on_normally_after_a_limit_fired():
    # Clearing a delivered exception again with PyThreadState_SetAsyncExc(id, NULL) left the
    # interpreter flagged with nothing to deliver: in the same pytest session, Hypothesis' find in
    # the next test no longer stopped at its InvalidArgument and shrank for ever (reproduced with
    # these two tests; each alone passes in about a second).
    root = pathlib.Path(__file__).resolve().parents[1]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "tests/test_time_limits.py::test_a_busy_loop_in_a_worker_thread_is_stopped",
           "tests/test_contract_edges.py::test_continuing_gamma_above_the_bound_is_an_invalid_argument"]
    try:
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=SESSION_TIMEOUT,
                              env={**os.environ, "PYTHONPATH": str(root)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"the two tests did not finish in {SESSION_TIMEOUT} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout


def _where_it_surfaced(fn):
    """Run ``fn`` under LIMIT; the source file of the frame where the limit's exception surfaced."""
    seen: dict = {}

    def recorded():
        try:
            fn()
        except BaseException as exc:
            tb = exc.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            seen["file"] = tb.tb_frame.f_code.co_filename
            raise

    with pytest.raises(TimeLimitExceeded):
        run_within(LIMIT, recorded)
    return seen.get("file")


def test_no_delivery_surfaces_in_standard_library_code():
    # the computation waits 6 limits inside queue.get (threading's Condition.wait, standard library)
    # and then spins in this file: the delivery is held back until it is out of the library, so the
    # exception surfaces here, where no lock taken without ``try`` can be left held
    import queue

    def job():
        try:
            queue.Queue().get(timeout=6 * LIMIT)
        except queue.Empty:
            pass
        _busy({})

    assert _where_it_surfaced(job) == __file__


#: Limits fired in a loop that lives in logging's locked code.  Before deliveries were held back
#: there, the lock was left held within 8 to 360 of them (5 runs of a plain script, idle machine).
LOGGING_LIMITS = 100


@pytest.mark.slow
def test_limits_that_fire_in_logging_calls_leave_its_lock_free():
    # logging takes its module lock in one function and releases it in another (CPython 3.11:
    # _acquireLock, and _clear_cache with no try at all): an exception surfacing in between left it
    # held, and the next logging call of any thread waited for ever.  The logger has no handler that
    # writes (a stream's flush releases the GIL inside logging at every record, so the limit would
    # only be seen there and be held back until the loop ends)
    import logging

    log = logging.getLogger("mdpgrad.tests.time_limits")
    log.propagate = False
    log.addHandler(logging.NullHandler())

    def logging_loop():
        i = 0
        while True:
            log.setLevel(logging.DEBUG if i % 2 else logging.INFO)      # clears every level cache
            log.debug("step %d", i)
            i += 1

    def lock_is_free() -> bool:
        got: list = []

        def probe():
            got.append(logging._lock.acquire(timeout=5.0))
            if got[0]:
                logging._lock.release()

        t = threading.Thread(target=probe)
        t.start()
        t.join()
        return got[0]

    try:
        for _ in range(LOGGING_LIMITS):
            with pytest.raises(TimeLimitExceeded):
                run_within(0.002, logging_loop)
            assert lock_is_free()
    finally:
        log.handlers.clear()
        log.propagate = True
        while logging._lock._is_owned():        # a leaked hold (this thread's) would block other threads
            logging._lock.release()
