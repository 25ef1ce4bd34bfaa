"""The Bellman optimality backup, its rounding, its certificates, and the tie rule.

What it computes
----------------
* the backup ``q = r + γ P v`` (Sutton & Barto 2018, §4.4), with q(s, a) = −∞ at unavailable actions and
  q(t, ·) = 0 at terminal states, and the optimality operator (T v)(s) = max_a q(s, a);
* a bound ρ on the rounding of one backup, ρ = (k + 2)ε·(max|r| + γ‖v‖∞) with k the terms of one row
  of P (Higham 2002, §3.1), the rows of P taken as summing to exactly 1;
* the **span bound** for γ < 1 (MacQueen 1966; Puterman 1994, Theorem 6.6.3): with e = T v − v,

      T v + γ/(1 − γ)·min e  ≤  v*  ≤  T v + γ/(1 − γ)·max e,

  so the midpoint w = T v + γ/(1 − γ)·(min e + max e)/2 satisfies ‖w − v*‖∞ ≤ γ/(1 − γ)·span(e)/2
  (plus ρ, and with ±2ρ added to the ends of e).  Terminal states count with e = 0: there v* = 0 exactly,
  and the substochastic chain of the other states keeps only the bound on the side of 0;
* the **policy certificate** for γ = 1, after an exact evaluation of a proper policy π with residual
  e = T v^π − v^π ≤ δ: v^π ≤ v* ≤ v^π + N·δ⁺, N = ‖(I − P̃^π)⁻¹‖∞ the longest expected episode under π
  (Bertsekas 2012, Dynamic Programming and Optimal Control II, §3.2, proper policies);
* the optimal action sets: gap(s, a) = max_b q(s, b) − q(s, a), and an action is kept as optimal when
  gap(s, a) ≤ 2·err_q, err_q a bound on ‖q − q*‖∞: every truly optimal action is kept (its computed gap
  is at most 2·err_q), every action dropped is provably suboptimal;
* the tie rule: the lowest-index action among the optimal ones; for γ = 1, where that choice can loop
  forever (a zero-reward cycle that ties with termination), the lowest-index optimal action that moves
  toward a terminal state, chosen breadth-first from the terminal states.

Identities checked by the tests: the span bound contains v* (computed by policy iteration), and the
optimal sets equal the exact sets of :func:`mdpgrad.symbolic.solve`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from .._chains import chain_and_reward, stuck_states
from .._errors import NonTerminatingPolicyError
from .._linalg import blas_gemv, rounding_unit, sparse_matvec
from .._model import MDP

__all__ = ["backup", "backup_rounding", "choose_actions", "one_hot", "optimal_sets", "policy_certificate",
           "proper_actions", "span_certificate", "terminates"]


def backup(mdp: MDP, v: np.ndarray) -> np.ndarray:
    """q = r + γ P v, shape (S, A); −∞ at unavailable actions, 0 at the actions of terminal states."""
    S, A = mdp.n_states, mdp.n_actions
    Pv = (sparse_matvec(mdp.P_flat, v) if mdp.is_sparse else blas_gemv(mdp.P_flat, v)).reshape(S, A)
    q = mdp.r + mdp.gamma * Pv
    if mdp.terminal.any():
        q[mdp.terminal] = 0.0
    if mdp.has_action_sets:
        q[~mdp.actions] = -np.inf
    return q


#: The row length of each model seen, kept while the model lives (P is immutable, so it cannot change).
_ROW_TERMS: weakref.WeakKeyDictionary[MDP, int] = weakref.WeakKeyDictionary()


def row_terms(mdp: MDP) -> int:
    """The longest inner product in one row of P (S dense; the most successors sparse)."""
    if not mdp.is_sparse:
        return mdp.n_states
    if mdp not in _ROW_TERMS:
        P: Any = mdp.P_flat
        _ROW_TERMS[mdp] = int(np.max(np.diff(P.indptr), initial=1))
    return _ROW_TERMS[mdp]


def backup_rounding(mdp: MDP, v: np.ndarray) -> float:
    """ρ ≥ |fl(q) − q| at every available pair: (k + 2)ε·(max|r| + γ‖v‖∞)."""
    r = mdp.r[mdp.actions] if mdp.has_action_sets else mdp.r
    size = float(np.max(np.abs(r), initial=0.0)) + mdp.gamma * float(np.max(np.abs(v), initial=0.0))
    return rounding_unit(row_terms(mdp)) * size


def _greedy_max(q: np.ndarray) -> np.ndarray:
    return np.max(q, axis=1)


def span_certificate(mdp: MDP, v: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The span bound of one backup of ``v`` (γ < 1).

    Returns
    -------
    w : ndarray, shape (S,)
        T v + γ/(1 − γ)·(min e + max e)/2, 0 at terminal states.
    bound : float
        ‖w − v*‖∞ ≤ bound.
    Tv : ndarray, shape (S,)
        The backup itself (the next iterate of value iteration).
    rho : float
        The rounding bound of the backup.
    """
    q = backup(mdp, v)
    Tv = _greedy_max(q)
    rho = backup_rounding(mdp, v)
    e = (Tv - v)[~mdp.terminal]
    lo, hi = float(np.min(e)) - 2 * rho, float(np.max(e)) + 2 * rho
    if mdp.terminal.any():
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    c = mdp.gamma / (1.0 - mdp.gamma)
    w = Tv + c * (lo + hi) / 2.0
    w[mdp.terminal] = 0.0
    eps = float(np.finfo(float).eps)
    bound = rho + c * (hi - lo) / 2.0 + 2 * eps * float(np.max(np.abs(w), initial=0.0))
    return w, bound, Tv, rho


def policy_certificate(mdp: MDP, v: np.ndarray, error_v: float, episode_length: float) -> float:
    """Bound on ‖v − v*‖∞ for v the exact values of a proper policy, within ``error_v`` (γ = 1).

    ``episode_length`` is N = ‖(I − P̃^π)⁻¹‖∞; the residual's positive part is bounded by its computed
    value plus the rounding of the backup and the error of v on both sides of e = T v − v.
    """
    q = backup(mdp, v)
    e = _greedy_max(q) - v
    e[mdp.terminal] = 0.0
    slack = 2 * backup_rounding(mdp, v) + 2 * error_v
    return error_v + episode_length * max(float(np.max(e)) + slack, 0.0)


def optimal_sets(mdp: MDP, q: np.ndarray, err_q: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(optimal, gap): gap = max_b q(s, b) − q(s, a) (+∞ unavailable); optimal = gap ≤ 2·err_q.

    ``q`` and ``err_q`` may carry leading axes (one per time step of a finite horizon).
    """
    best = np.max(q, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        gap = np.where(np.isfinite(q), best - q, np.inf)
    tie = 2.0 * np.asarray(err_q, dtype=float)
    if tie.ndim:
        tie = tie.reshape(tie.shape + (1, 1))
    return gap <= tie, gap


def one_hot(index: np.ndarray, n_actions: int) -> np.ndarray:
    """The deterministic table with π(index[s] | s) = 1, shape (..., S, A)."""
    table = np.zeros(index.shape + (n_actions,))
    np.put_along_axis(table, index[..., None], 1.0, axis=-1)
    return table


def terminates(mdp: MDP, index: np.ndarray) -> bool:
    """Whether the deterministic policy ``index`` reaches a terminal state from every state."""
    P_pi, _ = chain_and_reward(mdp, one_hot(index, mdp.n_actions))
    return stuck_states(mdp.terminal, *P_pi.nonzero()).size == 0


def proper_actions(mdp: MDP, allowed: np.ndarray) -> np.ndarray:
    """A proper deterministic policy using ``allowed`` (S, A) actions only, breadth-first from the terminal
    states: each state takes the lowest-index allowed action with positive probability of moving to a state
    already reached.

    Raises
    ------
    NonTerminatingPolicyError
        If some state reaches no terminal state under any allowed action (naming the first).
    """
    S, A = mdp.n_states, mdp.n_actions
    reached = mdp.terminal.copy()
    choice = np.argmax(allowed, axis=1)
    P = mdp.P_flat
    while True:
        x = reached.astype(float)
        into = (sparse_matvec(P, x) if mdp.is_sparse else blas_gemv(P, x)).reshape(S, A)
        can = allowed & (into > 0.0) & ~reached[:, None]
        new = can.any(axis=1)
        if not new.any():
            break
        choice[new] = np.argmax(can[new], axis=1)
        reached |= new
    if not reached.all():
        s = int(np.flatnonzero(~reached)[0])
        raise NonTerminatingPolicyError(
            f"gamma=1 but state {s} reaches no terminal state under any of its "
            f"{'optimal ' if not np.array_equal(allowed, mdp.actions) else ''}actions "
            f"({int((~reached).sum())} such state(s)): the undiscounted optimal values do not exist "
            "(or are attained only by never terminating)", argument="mdp", index=(s,),
            value=int((~reached).sum()))
    return choice


def choose_actions(mdp: MDP, optimal: np.ndarray) -> np.ndarray:
    """The tie rule: the lowest-index optimal action; with γ = 1, if that policy does not terminate, the
    breadth-first proper choice among the optimal actions (:func:`proper_actions`).  Shape (S,), int."""
    index = np.argmax(optimal, axis=-1)
    if mdp.gamma == 1.0 and optimal.ndim == 2 and not terminates(mdp, index):
        index = proper_actions(mdp, optimal)
    return index
