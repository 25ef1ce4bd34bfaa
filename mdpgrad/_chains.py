"""The chains a policy induces on an MDP, and what is read off them without solving for values.

With Π the (S, S·A) matrix holding π(a|s) at (s, s·A + a)::

    P^π = Π P,  r^π = Π r          the state chain and its reward (Puterman 1994, §2.1)
    P̃^π                             P^π with terminal rows and columns zeroed: episodes stop there
    M   = I − c·P̃^π                 the Bellman matrix; c = γ gives v and η, c = γ² Sobel's moment

Also the exact termination search (γ = 1 needs every non-terminal state to
reach a terminal one: a breadth-first search on the edges of P^π, no
tolerance) and the stationary distribution d_πᵀ P^π = d_πᵀ of a continuing
chain (Stewart 1994, §2.3).  Every module that needs P^π, P̃^π or M builds it
here.

Identities checked by the tests: the rows of P^π sum to 1; dense = sparse;
d_πᵀ P^π = d_πᵀ; the termination search agrees with the invertibility of
I − P̃^π.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from ._errors import NonTerminatingPolicyError, ValidationError
from ._model import MDP

__all__ = ["bellman_matrix", "chain_and_reward", "check_termination", "masked_chain", "policy_matrix",
           "stationary_distribution", "stuck_states"]


def policy_matrix(pi: np.ndarray) -> sp.csr_array:
    """Π as a sparse (S, S·A) matrix with π(a|s) at (s, s·A + a)."""
    S, A = pi.shape
    return sp.csr_array((pi.ravel(), np.arange(S * A), np.arange(0, S * A + 1, A)), shape=(S, S * A))


def chain_and_reward(mdp: MDP, pi: np.ndarray) -> tuple[Any, np.ndarray]:
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


def check_termination(mdp: MDP, P_pi: Any) -> None:
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
