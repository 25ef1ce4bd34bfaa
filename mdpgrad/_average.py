"""The average-reward criterion of a unichain policy: gain ρ, bias h, differential q̃, stationary d_π.

For a policy π whose chain P^π has one recurrent class (unichain;
Puterman 1994, §8.3), the long-run average reward does not depend on the
start state (Sutton & Barto 2018, §10.3; Puterman 1994, §8.2)::

    d_πᵀ P^π = d_πᵀ, Σ d_π = 1               stationary distribution
    ρ   = d_π · r^π                           gain
    h   = r^π − ρ1 + P^π h,  d_π · h = 0      bias (differential values), Poisson equation
    q̃   = r − ρ + P h                         differential action values, Σ_a π(a|s) q̃(s, a) = h(s)

The normalisation d_π · h = 0 makes h Puterman's bias H_P r^π, with
H_P = (I − P^π + 1d_πᵀ)⁻¹(I − 1d_πᵀ) the deviation matrix (Puterman 1994,
§8.2.1; Kemeny & Snell 1960, §4.3), the constant term of the Laurent series
v_γ = ρ/(1 − γ) + h + O(1 − γ).  Any other solution of the Poisson equation is
h + c1.

Computation: d_π by :func:`mdpgrad.stationary_distribution` (GTH or LU, with
its error estimate), then the relative values h' with h'(s*) = 0 for a
recurrent state s* from the nonsingular system
(I − P^π + 1e_{s*}ᵀ) h' = r^π − ρ1 (nonsingular for every unichain P^π: a
null vector x has dᵀ: x(s*) = 0, so (I − P^π)x = 0, x = c1 and c = 0), one
LU (dense or SuperLU, so a sparse chain stays sparse), and h = h' − (d_π·h')1.
A chain with several recurrent classes is refused with
:class:`~mdpgrad.MultichainPolicyError`, which names the classes.

Error estimates in the style of :class:`mdpgrad.ErrorEstimate`: ‖δd‖₁ from the
stationary solve; |δρ| ≤ ‖δd‖₁·max|r^π| + rounding; ‖δh'‖∞ ≤ ‖B⁻¹‖∞(residual +
rounding of the residual + |δρ|) with ‖B⁻¹‖∞ Hager's estimate (Higham 2002,
§7.2 and Algorithm 15.4); ‖δh‖∞ ≤ 2‖δh'‖∞ + ‖δd‖₁‖h'‖∞ + rounding;
‖δq̃‖ ≤ |δρ| + ‖δh‖∞ + rounding.

Identities checked by the tests: d_πᵀ P^π = d_πᵀ; h solves the Poisson
equation with d_π·h = 0; Σ_a π q̃ = h; ρ and h equal the limits
(1 − γ)v_γ → ρ1 and v_γ − ρ/(1 − γ) → h of the discounted values, with the
Laurent series of Puterman 1994, Theorem 8.2.3; dense = sparse; the exact
rationals of :func:`mdpgrad.symbolic.average_reward`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ._chains import Matrix, chain_and_reward, describe_classes, recurrent_classes, stationary_distribution
from ._display import compact_repr
from ._errors import MultichainPolicyError, ValidationError
from ._linalg import (
    Accuracy,
    InaccurateResultError,
    Solver,
    check_accuracy,
    digits_left,
    factorize,
    inverse_norm_inf,
    rounding_unit,
    validate_accuracy,
)
from ._model import MDP, validate_mdp
from ._policies import validate_policy

__all__ = ["AverageReward", "AverageRewardError", "average_reward", "unichain_classes"]

_ADVICE = ("the chain of pi mixes too slowly for double precision (a nearly uncoupled or nearly "
           "multichain P^pi); use exact rationals (mdpgrad.symbolic.average_reward)")


@dataclass(frozen=True)
class AverageRewardError:
    """Forward-error estimates of an :class:`AverageReward` (module docstring for the bounds).

    Attributes
    ----------
    gain : float
        Bound on |δρ|.
    bias : float
        Bound on ‖δh‖∞.
    q : float
        Bound on max|δq̃|.
    stationary : float
        Bound on ‖δd_π‖₁ (:func:`mdpgrad.stationary_distribution`).
    inverse_norm : float
        ‖(I − P^π + 1e_{s*}ᵀ)⁻¹‖∞, estimated.
    digits : float
        Significant digits left in the least accurate of ρ (against max|r^π|),
        h (against max|h| or the spread of r^π, whichever is larger; h may
        vanish by symmetry) and q̃ − h (against max|h| or the spread of the
        available rewards).  A constant r^π makes h = 0 exactly, and constant
        available rewards make q̃ − h = 0: such errors are judged against an
        infinite scale, never refused.
    """

    gain: float
    bias: float
    q: float
    stationary: float
    inverse_norm: float
    digits: float

    def __repr__(self) -> str:
        return compact_repr(self)

    def __str__(self) -> str:
        return (f"AverageRewardError: {self.digits:.1f} significant digits left; error of the gain ≤ "
                f"{self.gain:.2g}, of the bias ≤ {self.bias:.2g}")


@dataclass(frozen=True, eq=False)
class AverageReward:
    """The average-reward quantities of one unichain policy.

    Attributes
    ----------
    pi : ndarray, shape (S, A)
    P_pi : ndarray, shape (S, S), or csr_array
    r_pi : ndarray, shape (S,)
    gain : float
        ρ = d_π · r^π, the long-run reward per step from every start state.
    bias : ndarray, shape (S,)
        h, solving h = r^π − ρ1 + P^π h, normalised by d_π · h = 0.
    q : ndarray, shape (S, A)
        q̃ = r − ρ + P h; Σ_a π(a|s) q̃(s, a) = h(s).  Rows of unavailable
        actions (``mdp.actions``) carry no meaning.
    advantage : ndarray, shape (S, A)
        q̃ − h, which does not depend on the normalisation of h.
    stationary : ndarray, shape (S,)
        d_π (0 on transient states).
    recurrent : ndarray of int
        The states of the recurrent class.
    error : AverageRewardError
    """

    pi: np.ndarray
    P_pi: Matrix
    r_pi: np.ndarray
    gain: float
    bias: np.ndarray
    q: np.ndarray
    advantage: np.ndarray
    stationary: np.ndarray
    recurrent: np.ndarray
    error: AverageRewardError = field(repr=False)

    def __repr__(self) -> str:
        return compact_repr(self)

    def __str__(self) -> str:
        S, A = self.q.shape
        return (f"AverageReward: gain = {self.gain:.6g} ({S} states x {A} actions; recurrent class of "
                f"{self.recurrent.size} state(s)); bias h in [{float(self.bias.min()):.6g}, "
                f"{float(self.bias.max()):.6g}] with d·h = 0; {self.error.digits:.1f} significant digits")


def unichain_classes(P_pi: Matrix, argument: str = "pi") -> np.ndarray:
    """The states of the recurrent class of a unichain chain; several classes are refused.

    Raises
    ------
    MultichainPolicyError
        Naming the recurrent classes (``value`` holds them as tuples of states).
    """
    classes = recurrent_classes(P_pi)
    if len(classes) != 1:
        raise MultichainPolicyError(
            f"{argument} is multichain: P^pi has {len(classes)} recurrent classes "
            f"({describe_classes(classes)}), so its gain depends on the start state and the average-reward "
            "quantities (gain, bias, stationary distribution) are not unique (Puterman 1994, §8.3); the "
            "average-reward criterion needs a unichain policy (one recurrent class, any transient states)",
            argument=argument, value=tuple(tuple(int(s) for s in c) for c in classes))
    return classes[0]


def _relative_values(P_pi: Matrix, rhs: np.ndarray, star: int) -> tuple[np.ndarray, Solver]:
    """h' solving (I − P^π + 1e_{s*}ᵀ) h' = rhs, and the factors (dense LU or SuperLU)."""
    S = rhs.size
    if sp.issparse(P_pi):
        column = sp.csr_array((np.ones(S), (np.arange(S), np.full(S, star))), shape=(S, S))
        B = sp.csr_array(sp.eye_array(S, format="csr") - P_pi + column)
        method = "splu"
    else:
        B = np.eye(S) - P_pi
        B[:, star] += 1.0
        method = "lu"
    try:
        solver = factorize(B, overwrite=not sp.issparse(B), method=method)   # type: ignore[arg-type]
    except ValidationError as exc:
        raise InaccurateResultError(f"the Poisson equation of pi is numerically singular ({exc}): "
                                    + _ADVICE, argument="pi", value=float("inf")) from None
    return solver.solve(rhs), solver


def average_reward(mdp: MDP, pi: ArrayLike, *, accuracy: Accuracy = "refuse") -> AverageReward:
    """Gain, bias, differential action values and stationary distribution of a unichain policy.

    ρ = d_π · r^π;  h = r^π − ρ1 + P^π h with d_π · h = 0;  q̃ = r − ρ + P h
    (Sutton & Barto 2018, §10.3; Puterman 1994, §8.2).  The discount
    ``mdp.gamma`` and the start distribution ``mdp.rho0`` are not used.  A
    terminal state is an absorbing state paying 0 here: a policy that reaches
    one with probability 1 has the terminal state as its recurrent class and
    gain 0.

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (S, A)
        One row-stochastic table.
    accuracy : {"refuse", "warn", "ignore"}
        What to do when an error estimate leaves fewer than
        ``ACCURACY_MIN_DIGITS`` digits (also passed to
        :func:`mdpgrad.stationary_distribution`).

    Returns
    -------
    AverageReward

    Raises
    ------
    MultichainPolicyError
        If P^π has more than one recurrent class (the message names them).
    ValidationError
        If π is not one distribution per row of shape (S, A).
    InaccurateResultError
        With ``accuracy="refuse"``, if the estimate leaves too few digits;
        whatever ``accuracy``, if P^π is so nearly multichain that the
        stationary or Poisson solve fails in double precision.

    Examples
    --------
    A 2-cycle paying 1 in state 0: ρ = ½, h = (¼, −¼).

    >>> import numpy as np
    >>> from mdpgrad import MDP, average_reward
    >>> mdp = MDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), [[1.0], [0.0]], gamma=0.9)
    >>> ar = average_reward(mdp, np.ones((2, 1)))
    >>> ar.gain, ar.bias.tolist(), ar.stationary.tolist()
    (0.5, [0.25, -0.25], [0.5, 0.5])
    """
    mdp = validate_mdp(mdp)
    policy = validate_accuracy(accuracy)
    table = validate_policy(pi, mdp.n_states, mdp.n_actions)
    if table.ndim != 2:
        raise ValidationError(f"pi has shape {table.shape}; average_reward takes one table "
                              f"({mdp.n_states}, {mdp.n_actions}) (call once per policy)",
                              argument="pi", value=table.shape)
    table = table.copy()
    S, A = mdp.n_states, mdp.n_actions
    P_pi, r_pi = chain_and_reward(mdp, table)
    recurrent = unichain_classes(P_pi)
    d, err_d = stationary_distribution(P_pi, error=True, accuracy=policy)
    gain = float(d @ r_pi)
    r_max = float(np.max(np.abs(r_pi), initial=0.0))
    err_gain = err_d * r_max + rounding_unit(S) * float(np.abs(d) @ np.abs(r_pi))
    star = int(recurrent[0])
    rhs = r_pi - gain
    h_rel, solver = _relative_values(P_pi, rhs, star)
    Ph = np.asarray(P_pi @ h_rel)
    resid = rhs - (h_rel - Ph + h_rel[star])
    terms = int(np.diff(P_pi.indptr).max(initial=0)) + 3 if sp.issparse(P_pi) else S + 3
    rounding = rounding_unit(terms) * float(np.max(np.abs(h_rel) + np.abs(Ph) + abs(h_rel[star])
                                                   + np.abs(rhs), initial=0.0))
    inv_norm = float(inverse_norm_inf(solver.solve, solver.solve_transposed, (S, S)))
    err_rel = inv_norm * (float(np.max(np.abs(resid), initial=0.0)) + rounding + err_gain)
    bias = h_rel - float(d @ h_rel)
    h_max = float(np.max(np.abs(h_rel), initial=0.0))
    err_bias = 2.0 * err_rel + err_d * h_max + rounding_unit(S) * h_max
    Pb = (mdp.P_flat @ bias).reshape(S, A)
    q = mdp.r - gain + Pb
    q_round = rounding_unit(S) * float(np.max(np.abs(mdp.r) + abs(gain) + np.abs(Pb), initial=0.0))
    err_q = err_gain + err_bias + q_round
    advantage = q - bias[:, None]
    err_adv = err_q + err_bias
    # scales the errors are judged against; a constant r^π makes h = 0 exactly (r^π − ρ = 0), and
    # constant available rewards make q̃ − h = 0 too: those are never refused (like evaluate's advantages).
    # r^π = Σ_a π r is itself rounded (A terms): a spread within twice that rounding counts as constant.
    available = mdp.r[mdp.actions]
    spread = float(np.ptp(available)) if available.size else 0.0
    spread_pi = float(np.ptp(r_pi)) if r_pi.size else 0.0
    h_abs = float(np.max(np.abs(bias), initial=0.0))
    scale_h = max(h_abs, spread_pi) if spread_pi > 2 * rounding_unit(A) * r_max else np.inf
    scale_adv = max(h_abs, spread) if spread > 0 else np.inf
    scale_r = max(r_max, spread) if max(r_max, spread) > 0 else np.inf
    digits = min(digits_left(err_gain, scale_r), digits_left(err_bias, scale_h),
                 digits_left(err_adv, scale_adv))
    error = AverageRewardError(gain=err_gain, bias=err_bias, q=err_q, stationary=float(err_d),
                               inverse_norm=inv_norm, digits=digits)
    if policy != "ignore":
        for what, e, sc in (("the gain", err_gain, scale_r), ("the bias", err_bias, scale_h),
                            ("the differential advantage", err_adv, scale_adv)):
            check_accuracy(f"{what} (‖B⁻¹‖∞ ≈ {inv_norm:.3g})", e, sc, policy, _ADVICE,
                           argument="pi")
    for x in (table, r_pi, bias, q, advantage, d):
        x.flags.writeable = False
    return AverageReward(pi=table, P_pi=P_pi, r_pi=r_pi, gain=gain, bias=bias, q=q, advantage=advantage,
                         stationary=d, recurrent=recurrent, error=error)
