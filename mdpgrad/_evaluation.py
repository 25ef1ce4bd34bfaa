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
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from ._errors import NonTerminatingPolicyError, ValidationError
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
from ._policies import check_policy

__all__ = ["Evaluation", "bellman_matrix", "evaluate", "masked_chain", "policy_matrix", "state_chain",
           "stationary_distribution", "stuck_states", "visit_counts"]


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


def policy_matrix(pi: np.ndarray) -> sp.csr_array:
    """Π as a sparse (S, S·A) matrix with π(a|s) at (s, s·A + a)."""
    S, A = pi.shape
    return sp.csr_array((pi.ravel(), np.arange(S * A), np.arange(0, S * A + 1, A)), shape=(S, S * A))


def state_chain(mdp: MDP, pi: np.ndarray) -> tuple[Any, np.ndarray]:
    """P^π and r^π for a table π of shape (..., S, A) (batch only for dense MDPs)."""
    r_pi = np.sum(pi * mdp.r, axis=-1)
    if mdp.is_sparse:
        # Row s of Π P is Σ_a π(a|s) P[s·A + a, :]: scale P's entries by π and read the A rows of
        # each state as one row (the same result as the product Π @ P, without a sparse matmul).
        P, S, A = mdp.P, mdp.n_states, mdp.n_actions
        counts = np.diff(P.indptr)
        if counts.size and counts.min() == counts.max():      # same number of successors in every row
            counts = int(counts[0])
        data = P.data * np.repeat(np.asarray(pi).reshape(-1), counts)
        P_pi = sp.csr_array((data, P.indices.copy(), P.indptr[::A].copy()), shape=(S, S))
        P_pi.sum_duplicates()
        P_pi.eliminate_zeros()          # π(a|s) = 0 removes an edge (the termination check reads edges)
        return P_pi, r_pi
    return np.einsum("...sa,sat->...st", pi, mdp.P, optimize=True), r_pi


def stuck_states(terminal: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Non-terminal states from which no path of edges src → dst reaches a terminal state.

    Exact and combinatorial: one breadth-first search backwards from the
    terminal states.  An empty result for the support of P^π is equivalent to
    I − P̃^π being invertible (the policy terminates with probability 1).
    """
    S = terminal.size
    term = np.flatnonzero(terminal)
    # reversed edges s' → s, plus a super-source S pointing at every terminal state
    rows = np.concatenate((np.asarray(dst, dtype=np.int64), np.full(term.size, S)))
    cols = np.concatenate((np.asarray(src, dtype=np.int64), term))
    G = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(S + 1, S + 1))
    reached = np.zeros(S + 1, dtype=bool)
    reached[csgraph.breadth_first_order(G, S, directed=True, return_predecessors=False)] = True
    return np.flatnonzero(~reached[:S])


def _check_termination(mdp: MDP, P_pi: Any) -> None:
    """Under γ = 1, every non-terminal state must reach a terminal state under π."""
    src, dst = P_pi.nonzero()
    stuck = stuck_states(mdp.terminal, src, dst)
    if stuck.size:
        s = int(stuck[0])
        raise NonTerminatingPolicyError(
            f"gamma=1 but the policy never terminates from state {s} "
            f"({stuck.size} state(s) cannot reach a terminal state): the undiscounted values do not exist",
            argument="pi", index=(s,), value=stuck.size)


def masked_chain(mdp: MDP, P_pi: Any) -> Any:
    """P̃^π: P^π with the rows and columns of terminal states zeroed (episodes stop there).

    Dense (..., S, S) or sparse (S, S) like ``P_pi``; returned unchanged (not
    copied) when the MDP has no terminal states.
    """
    if not mdp.terminal.any():
        return P_pi
    if sp.issparse(P_pi):
        P_pi = sp.csr_array(P_pi)
        rows = np.repeat(np.arange(mdp.n_states), np.diff(P_pi.indptr))
        data = np.where(mdp.terminal[rows] | mdp.terminal[P_pi.indices], 0.0, P_pi.data)
        out = sp.csr_array((data, P_pi.indices.copy(), P_pi.indptr.copy()), shape=P_pi.shape)
        out.eliminate_zeros()
        return out
    out = np.array(P_pi, copy=True)
    term = np.flatnonzero(mdp.terminal)
    out[..., term, :] = 0.0
    out[..., :, term] = 0.0
    return out


def bellman_matrix(mdp: MDP, P_pi: Any, discount: float | None = None) -> Any:
    """M = I − c·P̃^π with c = ``discount`` (default γ); dense or sparse like ``P_pi``.

    With c = γ its inverse gives v and η; with c = γ² it gives Sobel's second
    moment of the return (:mod:`mdpgrad.variance`).
    """
    c = mdp.gamma if discount is None else discount
    S = mdp.n_states
    P_m = masked_chain(mdp, P_pi)
    if sp.issparse(P_m):
        return sp.csr_array(sp.eye_array(S, format="csr", dtype=P_m.dtype) - c * P_m)
    if P_m is P_pi:
        M = P_pi * (-c)                  # one new S×S array, then the diagonal in place
    else:
        M = P_m
        M *= -c                          # masked_chain already copied
    diag = np.arange(S)
    M[..., diag, diag] += 1.0
    return M


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
        pi = check_policy(pi, S, A)
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
    P_pi, r_pi = state_chain(mdp, pi)
    if mdp.gamma == 1.0:
        if batch:
            patterns = np.unique((pi.real > 0).reshape(-1, S, A), axis=0)
            for pat in patterns:
                _check_termination(mdp, state_chain(mdp, pat.astype(float))[0])
        else:
            _check_termination(mdp, P_pi.real if np.iscomplexobj(P_pi) else P_pi)
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


#: Accept a stationary solution whose residual |Pᵀd − d| is below this: a
#: well-posed solve leaves ≈ S·1e-16, a singular one garbage of order 1.
STATIONARY_TOL = 1e-9


def stationary_distribution(P_pi: Any) -> np.ndarray:
    """The stationary distribution d_π of a state chain: d_πᵀ P^π = d_πᵀ, Σ d_π = 1.

    Solved exactly as (I − P^π)ᵀ d = 0 with the last equation replaced by
    Σ d = 1 (Stewart 1994, §2.3), dense or sparse.

    Parameters
    ----------
    P_pi : ndarray or sparse matrix, shape (S, S)

    Raises
    ------
    ValidationError
        If the chain has more than one recurrent class (no unique d_π).

    Examples
    --------
    >>> stationary_distribution(np.array([[0.9, 0.1], [0.3, 0.7]])).round(12).tolist()
    [0.75, 0.25]
    """
    S = P_pi.shape[0]
    if sp.issparse(P_pi):
        A = sp.lil_array(sp.eye_array(S) - sp.csr_array(P_pi).T)
        A[S - 1, :] = np.ones(S)
        b = np.zeros(S)
        b[-1] = 1.0
        with np.errstate(all="ignore"):
            d = spla.spsolve(sp.csc_array(A), b)
    else:
        A = np.eye(S) - np.asarray(P_pi, dtype=float).T
        A[-1, :] = 1.0
        b = np.zeros(S)
        b[-1] = 1.0
        try:
            d = np.linalg.solve(A, b)
        except np.linalg.LinAlgError:
            d = np.full(S, np.nan)
    # A singular system (several recurrent classes) shows up as non-finite or
    # negative entries, or as a residual far above rounding (≈ S·ε).
    bad = ~np.isfinite(d) | (d < -STATIONARY_TOL)
    resid = float(np.abs((P_pi.T @ d) - d).max()) if np.isfinite(d).all() else np.inf
    if bad.any() or resid > STATIONARY_TOL:
        raise ValidationError("P_pi has no unique stationary distribution (more than one recurrent class)",
                              argument="P_pi", value=float(resid))
    return np.clip(d, 0.0, None) / np.clip(d, 0.0, None).sum()


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
