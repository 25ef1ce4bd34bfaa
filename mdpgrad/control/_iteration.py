"""Policy iteration, value iteration and modified policy iteration, each ending in a certificate.

What it computes (Puterman 1994, §6.3–6.5; Sutton & Barto 2018, §4.3–4.6)
-----------------------------------------------------------------------------
* **policy iteration**: evaluate π exactly (:func:`mdpgrad.evaluate`: dense LU, sparse LU or Krylov,
  with its error estimate), then switch a state to its greedy action only when the gain exceeds
  2·err_q, err_q = γ·err_v + ρ the bound on the error of q^π; a switch is then a true improvement, so the
  values rise strictly and the policies never cycle.  It stops when no state switches.
* **value iteration**: v ← T v until the span bound (:mod:`mdpgrad.control._bellman`) of the next backup
  is at most ``tol``; the result is the bound's midpoint, certified ‖v − v*‖∞ ≤ tol.
* **modified policy iteration**: one backup (the greedy step), then ``sweeps`` − 1 partial evaluations
  v ← r^π + γP^π v, from v₀ with T v₀ ≥ v₀ (so the iterates rise monotonically to v*, Puterman
  Theorem 6.5.5); the same span-bound stop.

With γ = 1 (terminal states, a stochastic shortest path) there is no contraction: policy iteration starts
from a proper policy (breadth-first from the terminal states when the one-step greedy policy loops), and
refuses, with the state named, when an improvement step reaches a policy that never terminates (then an
endless loop earns at least as much as ending, and v* is infinite or attained only by never
terminating).  Value and modified policy iteration run until ‖T v − v‖∞ ≤ tol and then hand their
greedy policy to policy iteration, whose certificate they report.

Identities checked by the tests: the three methods and the linear program agree on v*, on the optimal
action sets and on the policy; each agrees with pymdptoolbox.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._chains import chain_and_reward
from .._errors import NonTerminatingPolicyError, ValidationError
from .._evaluation import evaluate
from .._linalg import (
    Accuracy,
    InaccurateResultWarning,
    SolverMethod,
    blas_gemv,
    check_accuracy,
    sparse_matvec,
)
from .._model import MDP
from ._bellman import (
    backup,
    backup_rounding,
    choose_actions,
    one_hot,
    optimal_sets,
    policy_certificate,
    proper_actions,
    span_certificate,
    terminates,
)
from ._solution import Solution

__all__ = ["finish", "modified_policy_iteration", "policy_iteration", "value_iteration"]

_SPAN = "span bound of one backup (MacQueen 1966)"
_ADVICE = ("the certified bound on ‖v − v*‖∞ is too large for the values: use policy iteration, a larger "
           "tol is not the remedy; avoid γ so close to 1, or use exact rationals (mdpgrad.symbolic.solve)")


def finish(mdp: MDP, v: np.ndarray, bound: float, method: str, iterations: int, certificate: str,
           accuracy: Accuracy = "refuse", path: np.ndarray | None = None) -> Solution:
    """The solution at certified values ``v`` (‖v − v*‖∞ ≤ ``bound``): q, the optimal sets, the policy.

    Refused (or warned about, by ``accuracy``) when ``bound`` leaves fewer than
    :data:`~mdpgrad._linalg.ACCURACY_MIN_DIGITS` digits of ‖v‖∞ (or of max|r| when v is small).
    """
    r = mdp.r[mdp.actions] if mdp.has_action_sets else mdp.r
    scale = max(float(np.max(np.abs(v), initial=0.0)), float(np.max(np.abs(r), initial=0.0)))
    check_accuracy(f"v* ({method.replace('_', ' ')})", bound, scale, accuracy, _ADVICE)
    q = backup(mdp, v)
    err_q = mdp.gamma * bound + backup_rounding(mdp, v)
    optimal, gap = optimal_sets(mdp, q, err_q)
    index = choose_actions(mdp, optimal)
    undecided = optimal & ((optimal.sum(axis=1) > 1) & ~mdp.terminal)[:, None]
    return Solution(v=v, q=q, optimal_actions=optimal, undecided=undecided,
                    policy=one_hot(index, mdp.n_actions), gap=gap, method=method, iterations=iterations,
                    error_bound=float(bound), tie_bound=2.0 * err_q, certificate=certificate, path=path)


def initial_policy(mdp: MDP) -> np.ndarray:
    """The one-step greedy policy (lowest index); with γ = 1, a proper policy when that one loops."""
    index = np.argmax(backup(mdp, np.zeros(mdp.n_states)), axis=1)
    if mdp.gamma == 1.0 and not terminates(mdp, index):
        index = proper_actions(mdp, mdp.actions)
    return index


def policy_iteration(mdp: MDP, *, solver: SolverMethod = "auto", max_iter: int = 10_000,
                     accuracy: Accuracy = "refuse", start: np.ndarray | None = None,
                     method: str = "policy_iteration", prefix: str = "", steps: int = 0) -> Solution:
    """Howard's policy iteration from ``start`` (default :func:`initial_policy`); see the module notes."""
    index = initial_policy(mdp) if start is None else start
    k = 0
    visited: list[np.ndarray] = []
    while True:
        k += 1
        try:
            # the evaluation's own check would judge the advantage, tiny at near ties: the certificate
            # below judges v instead
            ev = evaluate(mdp, one_hot(index, mdp.n_actions), solver=solver, accuracy="ignore")
        except NonTerminatingPolicyError as exc:
            raise NonTerminatingPolicyError(
                f"gamma=1 and improvement step {k - 1} chose a policy that never terminates ({exc}): an "
                "endless loop earns at least as much as ending, so the optimal values are infinite or "
                "attained only by never terminating; give the loop a cost or discount (gamma < 1)",
                argument="mdp", index=exc.index, value=exc.value) from None
        visited.append(np.array(ev.v))
        err_v = float(ev.error.v) if ev.error is not None else 0.0
        q = backup(mdp, ev.v)
        err_q = mdp.gamma * err_v + backup_rounding(mdp, ev.v)
        current = np.take_along_axis(q, index[:, None], axis=1)[:, 0]
        improve = np.max(q, axis=1) - current > 2.0 * err_q
        if not improve.any():
            break
        if k >= max_iter:
            raise ValidationError(f"policy iteration did not stop within max_iter={max_iter} evaluations",
                                  argument="max_iter", value=max_iter)
        index = np.where(improve, np.argmax(q, axis=1), index)
    stop = f"{prefix}policy iteration stopped when no gain exceeded 2·err_q"
    if mdp.gamma < 1.0:
        w, bound, _, _ = span_certificate(mdp, ev.v)
        return finish(mdp, w, bound, method, steps + k, f"{stop}; {_SPAN} of v^π", accuracy,
                      np.array(visited) if method == "policy_iteration" else None)
    if ev.error is None:            # only complex tables come without one; a policy table never does
        raise ValidationError("the evaluation of the policy has no error estimate", argument="mdp")
    bound = policy_certificate(mdp, ev.v, err_v, float(ev.error.inverse_norm))
    return finish(mdp, np.array(ev.v), bound, method, steps + k,
                  f"{stop}; v^π ≤ v* ≤ v^π + N·max(T v^π − v^π), N the expected episode length under π",
                  accuracy, np.array(visited) if method == "policy_iteration" else None)


def _check_floor(rho: float, c: float, tol: float) -> None:
    floor = rho * (1.0 + 2.0 * c)         # the bound when the computed span of T v − v is 0
    if floor >= tol:
        raise ValidationError(
            f"tol={tol:g} is below what rounding allows here: one backup is exact only to {rho:.2g}, which "
            f"the span bound multiplies to {floor:.2g}; pass tol above that, or use policy iteration",
            argument="tol", value=tol)


def _sweeps(mdp: MDP, v: np.ndarray, index: np.ndarray, sweeps: int) -> np.ndarray:
    """``sweeps`` partial evaluations v ← r^π + γP^π v of the deterministic policy ``index``."""
    P_pi, r_pi = chain_and_reward(mdp, one_hot(index, mdp.n_actions))
    for _ in range(sweeps):
        v = r_pi + mdp.gamma * (sparse_matvec(P_pi, v) if mdp.is_sparse else blas_gemv(P_pi, v))
        v[mdp.terminal] = 0.0
    return v


def _start(mdp: MDP) -> np.ndarray:
    """v₀ = min(0, min r)/(1 − γ) off the terminal states: T v₀ ≥ v₀ (the iterates then rise)."""
    r = mdp.r[mdp.actions] if mdp.has_action_sets else mdp.r
    v = np.full(mdp.n_states, min(0.0, float(np.min(r))) / (1.0 - mdp.gamma))
    v[mdp.terminal] = 0.0
    return v


def _iterate(mdp: MDP, method: str, tol: float, max_iter: int, sweeps: int, solver: SolverMethod,
             accuracy: Accuracy) -> Solution:
    name = method.replace("_", " ")
    if mdp.gamma == 1.0:
        return _undiscounted(mdp, method, tol, max_iter, sweeps, solver, accuracy)
    c = mdp.gamma / (1.0 - mdp.gamma)
    v = _start(mdp)
    bound = np.inf
    for k in range(1, max_iter + 1):
        w, bound, Tv, rho = span_certificate(mdp, v)
        _check_floor(rho, c, tol)
        if bound <= tol:
            # the accuracy asked for is tol itself
            return finish(mdp, w, bound, method, k, f"{name} stopped when the {_SPAN} reached tol={tol:g}",
                          "ignore")
        v = Tv
        if sweeps > 1:
            v = _sweeps(mdp, v, np.argmax(backup(mdp, v), axis=1), sweeps - 1)
    warnings.warn(f"{name} reached max_iter={max_iter} with ‖v − v*‖∞ ≤ {bound:.2g} > tol={tol:g}",
                  InaccurateResultWarning, stacklevel=3)
    return finish(mdp, w, bound, method, max_iter, f"{name} stopped at max_iter; {_SPAN}", "ignore")


def _undiscounted(mdp: MDP, method: str, tol: float, max_iter: int, sweeps: int, solver: SolverMethod,
                  accuracy: Accuracy) -> Solution:
    """γ = 1: iterate from v = 0 until ‖T v − v‖∞ ≤ tol, then policy iteration from the greedy policy."""
    name = method.replace("_", " ")
    v = np.zeros(mdp.n_states)
    for k in range(1, max_iter + 1):
        q = backup(mdp, v)
        Tv = np.max(q, axis=1)
        index = np.argmax(q, axis=1)
        if float(np.max(np.abs(Tv - v))) <= tol:
            start = index if terminates(mdp, index) else None
            return policy_iteration(mdp, solver=solver, accuracy=accuracy, start=start, method=method,
                                    prefix=f"{name} ran {k} backups to ‖Tv − v‖∞ ≤ {tol:g}, then ", steps=k)
        v = Tv if sweeps <= 1 else _sweeps(mdp, Tv, index, sweeps - 1)
    raise ValidationError(f"{name} with gamma=1 did not settle within max_iter={max_iter} backups "
                          "(‖T v − v‖∞ > tol): the values may be infinite (a loop that pays forever); "
                          "policy iteration says which state", argument="max_iter", value=max_iter)


def value_iteration(mdp: MDP, *, tol: float, max_iter: int, solver: SolverMethod = "auto",
                    accuracy: Accuracy = "refuse") -> Solution:
    """Value iteration with the span-bound stop (γ < 1); see the module notes for γ = 1."""
    return _iterate(mdp, "value_iteration", tol, max_iter, 1, solver, accuracy)


def modified_policy_iteration(mdp: MDP, *, tol: float, max_iter: int, sweeps: int,
                              solver: SolverMethod = "auto", accuracy: Accuracy = "refuse") -> Solution:
    """Modified policy iteration: a backup and ``sweeps`` − 1 partial evaluations per step."""
    return _iterate(mdp, "modified_policy_iteration", tol, max_iter, sweeps, solver, accuracy)
