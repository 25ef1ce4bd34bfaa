"""Exact policy evaluation: P^π, r^π, v, q, advantage, η, d, μ and J in one call.

Formulas (Sutton & Barto 2018, §3.5 and §4.1; Puterman 1994, §6.1)::

    P^π = Π P,  r^π = Π r                       (Π holds π(a|s) at (s, s·A + a))
    v   = (I − γP̃^π)⁻¹ r^π                      (Bellman equation, solved exactly)
    q   = r + γ P v,  advantage = q − v
    ηᵀ  = ρ̃₀ᵀ (I − γP̃^π)⁻¹                      η(s) = Σ_t γᵗ Pr(s_t = s, t < T)
    d   = η / Σ η,  μ(s, a) = d(s) π(a|s),  J = ρ₀ · v = Σ_{s,a} η(s) π(a|s) r(s, a)

P̃^π is P^π with terminal rows and columns zeroed (see :mod:`mdpgrad._linalg`).
Without terminal states Σ η = 1/(1 − γ).  The matrix I − γP̃^π is factorised
once and the factors serve v and η.

Identities checked by the tests: v = r^π + γP^π v; v(s) = Σ_a π(a|s) q(s, a);
J = ρ₀·v = Σ η π r; Σ η = 1/(1−γ) without terminal states; dense = sparse;
a batch of policies equals the policies evaluated one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._chains import bellman_matrix, chain_and_reward, check_termination
from ._errors import ValidationError
from ._linalg import (
    BATCH_ELIMINATION_MAX,
    REFINED_MIN_STATES,
    RefinedLU,
    Solver,
    batched_lu,
    batched_lu_solve,
    factorize,
)
from ._model import MDP
from ._policies import validate_policy

__all__ = ["Evaluation", "evaluate", "visit_counts"]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Everything exact about one policy (or a batch of policies) on one MDP.

    Arrays carry the policy's leading batch axes, written ``...`` below.

    Attributes
    ----------
    pi : ndarray, shape (..., S, A)
    P_pi : ndarray, shape (..., S, S), or sparse (S, S)
        State chain under π (terminal rows absorbing, as in P).
    r_pi : ndarray, shape (..., S)
    v : ndarray, shape (..., S)
    q, advantage : ndarray, shape (..., S, A)
    eta : ndarray, shape (..., S)
        Expected discounted visits before termination.
    d : ndarray, shape (..., S)
        η / Σ η.
    mu : ndarray, shape (..., S, A)
        d(s) π(a|s).
    J : float or ndarray, shape (...)
        ρ₀ · v.
    solver : Solver or None
        Factors of I − γP̃^π (unbatched evaluations only), for further solves.
    """

    pi: np.ndarray
    P_pi: Any
    r_pi: np.ndarray
    v: np.ndarray
    q: np.ndarray
    advantage: np.ndarray
    eta: np.ndarray
    d: np.ndarray
    mu: np.ndarray
    J: Any
    solver: Solver | None = field(default=None, repr=False)

    def bellman_residual(self, mdp: MDP) -> float:
        """max_s |v − r^π − γP^π v|, the check that v solves the Bellman equation."""
        if sp.issparse(self.P_pi):
            resid = self.v - self.r_pi - mdp.gamma * (self.P_pi @ self.v)
        else:
            resid = self.v - self.r_pi - mdp.gamma * np.einsum("...st,...t->...s", self.P_pi, self.v)
        return float(np.max(np.abs(resid)))


def evaluate(mdp: MDP, pi: Any, *, validate: bool = True, solver: str = "auto") -> Evaluation:
    """Evaluate a policy table exactly.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (..., S, A)
        Row-stochastic table(s).  Leading axes form a batch (dense MDPs only),
        evaluated in one vectorised call.
    validate : bool, optional
        Check that π is a distribution in every row (default).  Pass False to
        evaluate the closed forms off the simplex (used for derivatives in the
        entries of π).
    solver : {"auto", "lu", "refined", "splu", "krylov"}
        How I − γP̃^π is solved for one policy (see :func:`mdpgrad._linalg.factorize`):
        "auto" chooses by size and storage; batches are always solved directly.

    Returns
    -------
    Evaluation

    Raises
    ------
    ValidationError
        If π has the wrong shape or a row is not a distribution.
    NonTerminatingPolicyError
        If γ = 1 and some non-terminal state never reaches a terminal state.

    Examples
    --------
    Two states, one action: state 0 pays 1 and stays with probability ½.

    >>> import numpy as np
    >>> P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5, rho0=[1.0, 0.0])
    >>> ev = evaluate(mdp, np.ones((2, 1)))
    >>> ev.v.tolist(), float(ev.J), ev.eta.tolist()
    ([1.3333333333333333, 0.0], 1.3333333333333333, [1.3333333333333333, 0.6666666666666666])
    """
    S, A = mdp.n_states, mdp.n_actions
    if validate:
        pi = validate_policy(pi, S, A)
    else:
        pi = np.asarray(pi)
        # complex tables pass through unchanged (complex-step derivatives)
        pi = pi.astype(np.result_type(pi.dtype, np.float64), copy=False)
        if pi.ndim < 2 or pi.shape[-2:] != (S, A):
            raise ValidationError(f"pi has shape {pi.shape}; expected (..., {S}, {A})",
                                  argument="pi", value=pi.shape)
    batch = pi.shape[:-2]
    if batch and mdp.is_sparse:
        raise ValidationError(f"pi has batch shape {batch}; sparse MDPs take one policy at a time",
                              argument="pi", value=pi.shape)
    P_pi, r_pi = chain_and_reward(mdp, pi)
    if mdp.gamma == 1.0:
        if batch:
            patterns = np.unique((pi.real > 0).reshape(-1, S, A), axis=0)
            for pat in patterns:
                check_termination(mdp, chain_and_reward(mdp, pat.astype(float))[0])
        else:
            check_termination(mdp, P_pi.real if np.iscomplexobj(P_pi) else P_pi)
    keep = ~mdp.terminal
    rho0 = np.where(keep, mdp.rho0, 0.0)
    r_pi_m = np.where(keep, r_pi, 0.0)
    method, solver = solver, None
    if method not in ("auto", "lu", "refined", "splu", "krylov"):
        raise ValidationError(f"solver is {method!r}; expected 'auto', 'lu', 'refined', 'splu' or 'krylov'",
                              argument="solver", value=method)
    if method in ("lu", "refined") and mdp.is_sparse or method in ("splu", "krylov") and not mdp.is_sparse:
        kind = "sparse" if mdp.is_sparse else "dense"
        raise ValidationError(f"solver {method!r} does not apply to a {kind} MDP", argument="solver",
                              value=method)
    refined = (not batch and not mdp.is_sparse and not np.iscomplexobj(P_pi)
               and (method == "refined" or (method == "auto" and S >= REFINED_MIN_STATES)))
    M = None if refined else bellman_matrix(mdp, P_pi)
    if refined:   # float32 LU built straight from P^π, refined in float64 (see mdpgrad._linalg)
        solver = RefinedLU.from_chain(P_pi, mdp.gamma, keep)
        v = solver.solve(r_pi_m)
        eta = solver.solve_transposed(rho0)
        Pv = (mdp.P_flat @ v).reshape(S, A)
    elif batch and S <= BATCH_ELIMINATION_MAX:
        LU = batched_lu(M)
        v = batched_lu_solve(LU, r_pi_m)
        eta = batched_lu_solve(LU, rho0, transposed=True)
        Pv = np.einsum("sat,...t->...sa", mdp.P, v, optimize=True)
    elif batch:
        v = np.linalg.solve(M, r_pi_m[..., None])[..., 0]
        eta = np.linalg.solve(np.swapaxes(M, -1, -2),
                              np.broadcast_to(rho0, batch + (S,))[..., None])[..., 0]
        Pv = np.einsum("sat,...t->...sa", mdp.P, v, optimize=True)
    else:
        solver = factorize(M, overwrite=True, method=method)
        v = solver.solve(r_pi_m)
        eta = solver.solve_transposed(rho0)
        Pv = (mdp.P_flat @ v).reshape(S, A)
    eta = np.where(keep, eta, 0.0)
    q = mdp.r + mdp.gamma * Pv
    advantage = q - v[..., None]
    d = eta / eta.sum(axis=-1, keepdims=True)
    mu = d[..., None] * pi
    J = v @ mdp.rho0 if not batch else np.einsum("...s,s->...", v, mdp.rho0)
    if not batch:
        J = complex(J) if np.iscomplexobj(J) else float(J)
    return Evaluation(pi=pi, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=advantage, eta=eta, d=d,
                      mu=mu, J=J, solver=solver)


def visit_counts(mdp: MDP, pi: Any, *, discounted: bool = True) -> np.ndarray:
    """Expected visits before termination, η(s) = Σ_t γᵗ Pr(s_t = s, t < T).

    With ``discounted=False`` the weights γᵗ are dropped (η̃, the undiscounted
    counts of an episodic MDP); this needs every policy path to terminate.

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)

    Returns
    -------
    ndarray, shape (S,)
    """
    target = mdp if discounted else mdp.replace(gamma=1.0)
    return evaluate(target, pi).eta
