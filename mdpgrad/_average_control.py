"""Optimal average reward: relative value iteration, then policy iteration with a certificate.

Relative value iteration (Puterman 1994, §8.5.5) on the aperiodicity
transform of the model (Puterman 1994, §8.5.4: P_τ = (1 − τ)I + τP, r_τ = τr,
which has the same optimal policies, gain τρ and the same bias, and whose
chains are all aperiodic)::

    w   = max_a [τ r(s, a) + (1 − τ) h(s) + τ Σ P(s'|s, a) h(s')]
    Δ   = w − h,   min Δ/τ ≤ ρ* ≤ max Δ/τ          (Odoni's bounds, Puterman 1994, Theorem 8.5.5)
    h   ← w − w(s_ref)

stopped when the bounds are within ``tol``.  The greedy policy of the last h
is then evaluated exactly (:func:`mdpgrad.average_reward`) and improved by
unichain policy iteration (Puterman 1994, §8.6) until its own bias certifies
it: with q̃ and h the differential values of the returned deterministic policy
π, max_s (T h − h)(s) = ρ_π + max_s max_a (q̃(s, a) − h(s)) bounds ρ*
(Theorem 8.5.5 applied to h), so

    0 ≤ ρ* − ρ_π ≤ gap = max_s max_a (q̃(s, a) − h(s)),

and the result reports ``gap`` (0 up to rounding at an optimum: then h solves
the optimality equation ρ + h = max_a (r + P h), Puterman 1994, §8.4).  The
optimal actions are the conserving ones, q̃(s, a) ≥ max_b q̃(s, b) − ``tie_tol``;
in a unichain model every policy that uses only them is gain optimal
(Puterman 1994, Theorem 8.4.4).  Only the available actions (``mdp.actions``)
compete.

Identities checked by the tests: the optimal gain equals the value of the
dual linear program max Σ r x, Σ_a x(j, a) = Σ_{s,a} P(j|s, a) x(s, a),
Σ x = 1, x ≥ 0 (Puterman 1994, §8.8 and §9.3), solved by HiGHS; it is the
largest gain over all deterministic policies of small models (enumeration);
pymdptoolbox's RelativeValueIteration agrees on its forest example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._average import AverageReward, average_reward
from ._display import compact_repr
from ._errors import MultichainPolicyError, ValidationError
from ._model import MDP, validate_mdp
from ._validation import check_integer, check_real, check_tolerance

__all__ = ["AVERAGE_TIE_TOL", "AverageOptimum", "RVI_MAX_ITER", "RVI_TOL", "relative_value_iteration"]

#: Stop relative value iteration when Odoni's bounds on ρ* are this close, relative to the spread of
#: the rewards: the iteration only has to find the right greedy policy, which policy iteration then
#: certifies exactly; 1e-10 leaves the greedy choice settled wherever two actions differ by more.
RVI_TOL = 1e-10

#: Steps of relative value iteration before it is refused (a multichain model never converges).
RVI_MAX_ITER = 100_000

#: Actions whose differential value is within this of the best (relative to the spread of the
#: rewards, or 1 when they are all equal) are declared optimal.  q̃ is exact to about 1e-13 of that
#: scale on well-conditioned chains (:class:`~mdpgrad.AverageReward` error estimates), so 1e-9
#: keeps four orders of room over rounding, and merges only actions that differ by less than a
#: relative 1e-9.
AVERAGE_TIE_TOL = 1e-9


@dataclass(frozen=True, eq=False)
class AverageOptimum:
    """The optimal average reward of a unichain model and a certified optimal policy.

    Attributes
    ----------
    gain : float
        ρ*, the gain of ``policy`` (exact evaluation); ρ* − gain ≤ ``gap``.
    bias : ndarray, shape (S,)
        The bias h of ``policy`` (d_π · h = 0); it solves the optimality
        equation ρ* + h = max_a (r + P h) within ``gap``.
    q : ndarray, shape (S, A)
        q̃ = r − ρ + P h of ``policy``; unavailable actions hold −inf.
    policy : ndarray, shape (S, A)
        A deterministic gain-optimal table (one 1 per row).
    optimal_actions : ndarray of bool, shape (S, A)
        q̃(s, a) ≥ max_b q̃(s, b) − ``tie_tol`` among the available actions.
    gap : float
        The certificate max_s max_a (q̃(s, a) − h(s)) ≥ ρ* − gain (clipped at 0).
    tie_tol : float
        The absolute tolerance the optimal actions were decided with.
    iterations : int
        Steps of relative value iteration.
    improvements : int
        Policy-iteration steps after it (0 when the greedy policy was already optimal).
    evaluation : AverageReward
        The exact evaluation of ``policy``.
    """

    gain: float
    bias: np.ndarray
    q: np.ndarray
    policy: np.ndarray
    optimal_actions: np.ndarray
    gap: float
    tie_tol: float
    iterations: int
    improvements: int
    evaluation: AverageReward

    def __repr__(self) -> str:
        return compact_repr(self)

    def __str__(self) -> str:
        S, A = self.q.shape
        ties = int(np.sum(self.optimal_actions.sum(axis=1) > 1))
        return (f"AverageOptimum: optimal gain = {self.gain:.6g} ({S} states x {A} actions; certified "
                f"within {self.gap:.2g}); {ties} state(s) with tied optimal actions; {self.iterations} RVI "
                f"steps, {self.improvements} policy improvement(s)")


def _backup(mdp: MDP, h: np.ndarray) -> np.ndarray:
    """r + P h, shape (S, A), with −inf for unavailable actions."""
    S, A = mdp.n_states, mdp.n_actions
    q = mdp.r + np.asarray(mdp.P_flat @ h).reshape(S, A)
    return np.where(mdp.actions, q, -np.inf)


def _greedy(q: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """A deterministic table of argmax_a q (lowest index; the current action when it ties the max)."""
    S = q.shape[0]
    best = np.argmax(q, axis=1)
    if keep is not None:
        current = np.argmax(keep, axis=1)
        stay = q[np.arange(S), current] >= q[np.arange(S), best]
        best = np.where(stay, current, best)
    pi = np.zeros(q.shape)
    pi[np.arange(S), best] = 1.0
    return pi


def _evaluate(mdp: MDP, pi: np.ndarray) -> AverageReward:
    try:
        return average_reward(mdp, pi)
    except MultichainPolicyError as exc:
        raise MultichainPolicyError(
            f"the model is not unichain: the deterministic policy choosing actions {np.argmax(pi, axis=1)} "
            f"is multichain ({exc}); relative value iteration and its certificate need every policy to be "
            "unichain", argument="mdp", value=exc.value) from None


def relative_value_iteration(mdp: MDP, *, tau: float = 0.5, tol: float = RVI_TOL,
                             max_iter: int = RVI_MAX_ITER, tie_tol: float = AVERAGE_TIE_TOL,
                             reference: int = 0) -> AverageOptimum:
    """Optimal gain ρ*, bias and optimal actions of a unichain MDP (average-reward criterion).

    Relative value iteration on the aperiodicity transform, then exact
    evaluation and policy iteration of the greedy policy until its bias
    certifies it (module docstring; Puterman 1994, §8.5.4–8.5.5 and §8.6).
    ``mdp.gamma`` and ``mdp.rho0`` are not used.

    Parameters
    ----------
    mdp : MDP
        Unichain: every deterministic policy has one recurrent class.
    tau : float
        The aperiodicity transform's weight, 0 < τ ≤ 1 (τ = 1: no transform;
        a periodic chain may then make the iteration cycle).
    tol : float
        Stop when max Δ/τ − min Δ/τ ≤ tol·(spread of r, or 1 if r is constant).
    max_iter : int
        Refuse after this many steps.
    tie_tol : float
        Relative tolerance deciding the optimal actions (times the spread of
        r, or 1): a ≥ 0 real number.
    reference : int
        The state s_ref whose relative value is pinned at 0 during the iteration.

    Returns
    -------
    AverageOptimum

    Raises
    ------
    MultichainPolicyError
        If a policy met on the way is multichain (the model is not unichain).
    ValidationError
        For a bad argument, or if the bounds do not close within ``max_iter``
        steps.

    Examples
    --------
    pymdptoolbox's two-state example: ρ* = 35/9 with actions (1, 0).

    >>> import numpy as np
    >>> from mdpgrad import MDP, relative_value_iteration
    >>> P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.8, 0.2], [0.1, 0.9]]])   # P[s, a, s']
    >>> opt = relative_value_iteration(MDP(P, [[5, 10], [-1, 2]], gamma=0.9))
    >>> round(opt.gain * 9, 10), np.argmax(opt.policy, axis=1).tolist(), opt.gap < 1e-12
    (35.0, [1, 0], True)
    """
    mdp = validate_mdp(mdp)
    tau = check_real(tau, "tau", min_value=0.0, max_value=1.0, min_open=True)
    tol = check_tolerance(tol, "tol")
    tie_tol = check_tolerance(tie_tol, "tie_tol")
    max_iter = check_integer(max_iter, "max_iter", min_value=1)
    reference = check_integer(reference, "reference", min_value=0, max_value=mdp.n_states - 1)
    live = mdp.r[mdp.actions]
    spread = float(np.ptp(live)) if live.size else 0.0
    scale = spread if spread > 0 else 1.0
    h = np.zeros(mdp.n_states)
    steps, span = 0, np.inf
    while not span <= tol * scale:
        if steps == max_iter:
            raise ValidationError(f"relative value iteration did not close Odoni's bounds on the gain within "
                                  f"max_iter={max_iter} steps (span {span:.3g}); the model may be "
                                  "multichain, or mix very slowly", argument="max_iter", value=max_iter)
        w = (1.0 - tau) * h + tau * np.max(_backup(mdp, h), axis=1)
        span = float(np.ptp(w - h)) / tau          # max Δ/τ − min Δ/τ, Odoni's bounds on ρ*
        h = w - w[reference]
        steps += 1
    pi = _greedy(_backup(mdp, h))
    improvements = 0
    while True:
        ar = _evaluate(mdp, pi)
        q = np.where(mdp.actions, ar.q, -np.inf)
        gaps = np.max(q, axis=1) - ar.bias
        # improve only where the gain of a switch exceeds the error of q̃ (policy iteration then stops
        # in finitely many steps: each switch raises the gain or the bias, Puterman 1994, §8.6)
        improve = gaps > tie_tol * scale
        if not improve.any() or improvements >= mdp.n_states * mdp.n_actions + 1:
            break
        new = np.where(improve[:, None], _greedy(q, pi), pi)
        if np.array_equal(new, pi):
            break
        pi = new
        improvements += 1
    absolute_tie = tie_tol * scale
    optimal = mdp.actions & (q >= np.max(q, axis=1, keepdims=True) - absolute_tie)
    gap = max(float(np.max(gaps)), 0.0)
    return AverageOptimum(gain=ar.gain, bias=ar.bias, q=q, policy=pi, optimal_actions=optimal, gap=gap,
                          tie_tol=absolute_tie, iterations=steps, improvements=improvements, evaluation=ar)

