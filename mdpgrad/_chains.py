"""The chains a policy induces on an MDP, and what is read off them without solving for values.

With Π the (S, S·A) matrix holding π(a|s) at (s, s·A + a)::

    P^π = Π P,  r^π = Π r          the state chain and its reward (Puterman 1994, §2.1)
    P Π                             the state-action chain, (S·A, S·A)
    P̃, P̃^π, P̃Π, ρ̃₀                 the same with terminal rows and columns zeroed: episodes stop there
    M   = I − c·P̃^π                 the Bellman matrix; c = γ gives v and η, c = γ² Sobel's moment

Terminal masking is written once, in :func:`masked_chain` (and
:func:`masked_start` for ρ̃₀); every other module that needs P^π, P̃^π, P̃Π or M
builds it here.  Also the exact termination search (γ = 1 needs every
non-terminal state to reach a terminal one: a breadth-first search on the
edges of P^π, no tolerance) and the stationary distribution d_πᵀ P^π = d_πᵀ
of a continuing chain (Stewart 1994, §2.3).

Identities checked by the tests: the rows of P^π sum to 1; dense = sparse;
d_πᵀ P^π = d_πᵀ; the termination search agrees with the invertibility of
I − P̃^π; ξᵀ P Π = ξᵀ for ξ(s, a) = d_π(s) π(a|s).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal, TypeAlias, overload

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike
from scipy.sparse import csgraph

from ._errors import MultichainPolicyError, NonTerminatingPolicyError, ValidationError
from ._linalg import (
    Accuracy,
    InaccurateResultError,
    check_accuracy,
    inverse_norm_inf,
    rounding_unit,
    validate_accuracy,
)
from ._model import MDP
from ._policies import reduce_actions
from ._validation import as_real_array, check_memory, format_index, format_number

__all__ = ["GTH_ERROR_FACTOR", "STATIONARY_GTH_MAX_STATES", "STATIONARY_ITERATIVE_MIN_STATES",
           "STATIONARY_MAXITER", "STATIONARY_TOL", "Matrix", "bellman_matrix", "chain_and_reward",
           "describe_classes", "masked_chain", "masked_start", "pair_chain", "policy_matrix",
           "recurrent_classes",
           "stationary_distribution",
           "stuck_states", "validate_termination"]

#: A dense ndarray or a scipy.sparse ``csr_array`` (scipy ships no type information, hence Any).
Matrix: TypeAlias = Any


def policy_matrix(pi: np.ndarray) -> sp.csr_array:
    """Π as a sparse (S, S·A) matrix with π(a|s) at (s, s·A + a), so that P^π = Π P (Puterman 1994, §2.1).

    Parameters
    ----------
    pi : ndarray, shape (S, A)

    Returns
    -------
    csr_array, shape (S, S·A)
    """
    S, A = pi.shape
    return sp.csr_array((pi.ravel(), np.arange(S * A), np.arange(0, S * A + 1, A)), shape=(S, S * A))


def chain_and_reward(mdp: MDP, pi: np.ndarray) -> tuple[Matrix, np.ndarray]:
    """P^π = Π P and r^π = Π r (Puterman 1994, §2.1).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (..., S, A)
        A policy table, or a stack of them (dense MDPs only); trusted.

    Returns
    -------
    P_pi : ndarray, shape (..., S, S), or csr_array, shape (S, S)
        Terminal rows stay absorbing, as in P.
    r_pi : ndarray, shape (..., S)
    """
    r_pi = reduce_actions(np.add, pi * mdp.r)
    if mdp.is_sparse:
        # Row s of Π P is Σ_a π(a|s) P[s·A + a, :]: scale P's entries by π and read the A rows of
        # each state as one row (the same result as the product Π @ P, without a sparse matmul).
        P: Any = mdp.P
        S, A = mdp.n_states, mdp.n_actions
        counts = np.diff(P.indptr)
        if counts.size and counts.min() == counts.max():      # same number of successors in every row
            counts = int(counts[0])
        data = P.data * np.repeat(np.asarray(pi).reshape(-1), counts)
        P_pi = sp.csr_array((data, P.indices.copy(), P.indptr[::A].copy()), shape=(S, S))
        P_pi.sum_duplicates()
        P_pi.eliminate_zeros()          # π(a|s) = 0 removes an edge (the termination check reads edges)
        return P_pi, r_pi
    return np.einsum("...sa,sat->...st", pi, mdp.P, optimize=True), r_pi


def _terminal_rows(mdp: MDP, n: int) -> np.ndarray:
    """Which of n indices belong to terminal states: n = S (states) or n = S·A (pairs x = s·A + a)."""
    if n == mdp.n_states:
        return mdp.terminal
    if n == mdp.n_states * mdp.n_actions:
        return np.repeat(mdp.terminal, mdp.n_actions)
    raise ValueError(f"a chain axis of length {n} indexes neither the {mdp.n_states} states nor the "
                     f"{mdp.n_states * mdp.n_actions} state-action pairs")


def masked_chain(mdp: MDP, chain: Matrix) -> Matrix:
    """The chain with the rows and columns of terminal states zeroed: episodes stop there.

    P^π gives P̃^π, P in its (S·A, S) form gives P̃, and P Π gives P̃Π.

    Parameters
    ----------
    mdp : MDP
    chain : ndarray, shape (..., n, m), or sparse, shape (n, m)
        Each axis indexes states (length S) or state-action pairs (length
        S·A, x = s·A + a).

    Returns
    -------
    ndarray or csr_array, shape like ``chain``
        Dense or sparse like ``chain``; ``chain`` itself (not a copy) when the
        MDP has no terminal states.

    Examples
    --------
    >>> P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], 0.9, terminal=[False, True])
    >>> masked_chain(mdp, mdp.P_flat).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    if not mdp.terminal.any():
        return chain
    rows = _terminal_rows(mdp, chain.shape[-2])
    cols = _terminal_rows(mdp, chain.shape[-1])
    if sp.issparse(chain):
        chain = sp.csr_array(chain)
        row_of = np.repeat(np.arange(chain.shape[0]), np.diff(chain.indptr))
        data = np.where(rows[row_of] | cols[chain.indices], 0.0, chain.data)
        out = sp.csr_array((data, chain.indices.copy(), chain.indptr.copy()), shape=chain.shape)
        out.eliminate_zeros()
        return out
    out = np.array(chain, copy=True)
    out[..., rows, :] = 0.0
    out[..., :, cols] = 0.0
    return out


def masked_start(mdp: MDP) -> np.ndarray:
    """ρ̃₀: ρ₀ with the entries of terminal states zeroed (an episode that starts there has no step).

    Terminal states are absorbing and pay nothing (Sutton & Barto 2018, §3.4).

    Returns
    -------
    ndarray, shape (S,)
    """
    return np.where(mdp.terminal, 0.0, mdp.rho0)


def pair_chain(mdp: MDP, pi: np.ndarray) -> Matrix:
    """The state-action chain P̃Π: (P̃Π)[s·A + a, s'·A + a'] = P̃(s'|s, a) π(a'|s').

    P̃ has the rows and columns of terminal states zeroed (:func:`masked_chain`).
    Sutton & Barto 2018, §3.5 (the successor pairs of Expected SARSA).

    Parameters
    ----------
    mdp : MDP
    pi : ndarray, shape (S, A)
        A policy table; trusted.

    Returns
    -------
    ndarray or csr_array, shape (S·A, S·A)
        Dense for dense MDPs, sparse for sparse ones (nnz = nnz(P)·A at most).

    Examples
    --------
    >>> P = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> pair_chain(MDP(P, [[1.0], [0.0]], 0.5), np.ones((2, 1))).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    S, A = mdp.n_states, mdp.n_actions
    P_m = masked_chain(mdp, mdp.P_flat)
    if mdp.is_sparse:
        return sp.csr_array(P_m @ policy_matrix(pi))
    return (P_m[:, :, None] * pi[None, :, :]).reshape(S * A, S * A)


def stuck_states(terminal: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Non-terminal states from which no path of edges src → dst reaches a terminal state.

    Exact and combinatorial: one breadth-first search backwards from the
    terminal states.  An empty result for the support of P^π is equivalent to
    I − P̃^π being invertible (the policy terminates with probability 1).

    Parameters
    ----------
    terminal : ndarray of bool, shape (S,)
    src, dst : ndarray of int, shape (n_edges,)

    Returns
    -------
    ndarray of int
        The stuck states, in increasing order.
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


def validate_termination(mdp: MDP, P_pi: Matrix) -> None:
    """Raise unless every non-terminal state reaches a terminal state on the edges of P^π.

    The condition for the undiscounted (γ = 1) values and visit counts to
    exist: I − P̃^π is then invertible (Puterman 1994, §7.1, transient policies).

    Raises
    ------
    NonTerminatingPolicyError
        Naming the first stuck state.
    """
    stuck = stuck_states(mdp.terminal, *P_pi.nonzero())
    if stuck.size:
        raise NonTerminatingPolicyError(
            f"gamma=1 but the policy never terminates from state {stuck[0]} ({stuck.size} state(s) cannot "
            "reach a terminal state): the undiscounted values do not exist",
            argument="pi", index=(int(stuck[0]),), value=stuck.size)


def bellman_matrix(mdp: MDP, P_pi: Matrix, discount: float | None = None) -> Matrix:
    """M = I − c·P̃^π, the matrix of the Bellman equation (Puterman 1994, §6.1).

    With c = γ (the default) M⁻¹ r^π = v and M⁻ᵀ ρ̃₀ = η; with c = 1 it gives
    the undiscounted visit counts η̃, with c = γ² Sobel's second moment of the
    return (:mod:`mdpgrad.variance`).

    Parameters
    ----------
    mdp : MDP
    P_pi : ndarray, shape (..., S, S), or sparse, shape (S, S)
    discount : float, optional
        c; default γ.

    Returns
    -------
    ndarray or csr_array, shape like ``P_pi``
        A new array (``P_pi`` is not modified).
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

#: Sparse chains with at least this many states are solved iteratively
#: (incomplete LU with bounded fill, then GMRES with a bounded number of
#: steps), so that the cost is bounded whatever the chain; below, exactly
#: (SuperLU).  Same threshold as the Krylov solver of policy evaluation.
STATIONARY_ITERATIVE_MIN_STATES = 20_000

#: Dense chains up to this many states are solved by GTH (:func:`_gth`), subtraction-free and
#: accurate entry by entry whatever the coupling of the chain; its O(S³) elimination runs one numpy
#: rank-one update per state (0.16 s at S = 500, 1.7 s at S = 1000 on a 2-core machine), so larger
#: dense chains are solved by LU as sparse ones are.
STATIONARY_GTH_MAX_STATES = 500

#: Steps of restarted GMRES allowed for a large sparse chain before it is refused.
STATIONARY_MAXITER = 300


def _validated_chain(P_pi: Any) -> Matrix:
    """A finite real square matrix, dense float64 or sparse CSR; 1-D, complex, nan and inf refused."""
    if sp.issparse(P_pi):
        chain = sp.csr_array(P_pi)
        if chain.dtype.kind not in "biuf":
            raise ValidationError(f"P_pi has dtype {chain.dtype}; expected real numbers", argument="P_pi",
                                  value=str(chain.dtype))
        chain = chain.astype(np.float64)
        chain.sum_duplicates()
        bad = ~np.isfinite(chain.data)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            row = int(np.searchsorted(chain.indptr, i, side="right") - 1)
            idx = (row, int(chain.indices[i]))
            raise ValidationError(f"{format_index('P_pi', idx)} is {format_number(chain.data[i])}; "
                                  "expected a finite number", argument="P_pi", index=idx,
                                  value=float(chain.data[i]))
    else:
        chain = as_real_array(P_pi, "P_pi")
    if chain.ndim != 2 or chain.shape[0] != chain.shape[1] or chain.shape[0] == 0:
        raise ValidationError(f"P_pi has shape {chain.shape}; expected a square matrix (S, S), S >= 1",
                              argument="P_pi", value=chain.shape)
    return chain


def _recurrent_state(chain: Matrix) -> int:
    """A state of the only closed communicating class of the chain; refuse if there are several."""
    return int(_closed_class(chain)[0])


def recurrent_classes(chain: Matrix) -> list[np.ndarray]:
    """The recurrent classes of a chain: its closed communicating classes, in order of their first state.

    Exact and combinatorial, on the edges P(s, t) ≠ 0: the closed classes are the
    strongly connected components with no edge leaving them (Kemeny & Snell 1960, §2.4).

    Parameters
    ----------
    chain : ndarray or sparse matrix, shape (S, S)
        Trusted (square, finite).

    Returns
    -------
    list of ndarray of int
        The states of each class, in increasing order.

    Examples
    --------
    >>> [c.tolist() for c in recurrent_classes(np.array([[1.0, 0, 0], [0.5, 0, 0.5], [0, 0, 1.0]]))]
    [[0], [2]]
    """
    edges = sp.csr_array(chain) if sp.issparse(chain) else sp.csr_array(np.asarray(chain) != 0)
    n, label = csgraph.connected_components(edges, directed=True, connection="strong")
    src, dst = edges.nonzero()
    leaving = np.zeros(n, dtype=bool)
    leaving[label[src][label[src] != label[dst]]] = True
    classes = [np.flatnonzero(label == c) for c in np.flatnonzero(~leaving)]
    return sorted(classes, key=lambda c: int(c[0]))


def describe_classes(classes: list[np.ndarray], limit: int = 5) -> str:
    """The recurrent classes as text, e.g. ``{0}, {2, 3}``, at most ``limit`` classes of ``limit`` states."""
    def one(c: np.ndarray) -> str:
        states = ", ".join(str(int(s)) for s in c[:limit])
        return "{" + states + (f", … ({c.size} states)" if c.size > limit else "") + "}"
    more = f" and {len(classes) - limit} more" if len(classes) > limit else ""
    return ", ".join(one(c) for c in classes[:limit]) + more


def _closed_class(chain: Matrix) -> np.ndarray:
    """The states of the only closed communicating class of the chain; refuse if there are several."""
    S = chain.shape[0]
    classes = recurrent_classes(chain)
    if len(classes) != 1:
        raise MultichainPolicyError(
            f"P_pi has no unique stationary distribution: it has {len(classes)} recurrent classes (closed "
            f"communicating classes: {describe_classes(classes)}), and uniqueness needs exactly one",
            argument="P_pi", value=tuple(tuple(int(s) for s in c) for c in classes))
    return classes[0] if S else np.zeros(1, dtype=int)


def _gth(chain: np.ndarray) -> np.ndarray:
    """The stationary distribution of an irreducible dense chain by GTH elimination.

    Grassmann, Taksar & Heyman (1985): state elimination (stochastic
    complementation) from the last state down, where each pivot is the sum of
    the off-diagonal probabilities of the eliminated row instead of 1 − p_kk,
    so no subtraction is ever made and every entry comes out with a small
    relative error, however weakly the chain is coupled (O'Cinneide 1993;
    Stewart 1994, §2.7).  For an irreducible chain every pivot is positive.
    """
    A = np.array(chain, dtype=float, copy=True)
    n = A.shape[0]
    for k in range(n - 1, 0, -1):
        s = A[k, :k].sum()
        A[:k, k] /= s
        A[:k, :k] += np.multiply.outer(A[:k, k], A[k, :k])
    x = np.zeros(n)
    x[0] = 1.0
    for j in range(1, n):
        x[j] = x[:j] @ A[:j, j]
        if x[j] > 1.0:        # keep max x ≤ 1: a weakly coupled chain's unnormalised x overflows
            x[:j + 1] = np.ldexp(x[:j + 1], -int(np.frexp(x[j])[1]))     # (a power of two: exact)
    return x / x.sum()


#: The entrywise relative error of GTH on an irreducible chain of n states is bounded a priori by
#: a quantity of order n³ε whatever the coupling (O'Cinneide 1993, "Entrywise perturbation theory and
#: error analysis for Markov chains", Numer. Math. 65, the error analysis of GTH); the estimate reported
#: for the GTH route is this factor times n³ε in the 1-norm.  8: a generous constant for the a priori
#: bound (observed errors are ≈ nε); at the largest GTH chain, n = 500, it is 2.2e-7, so a GTH result
#: is never refused.
GTH_ERROR_FACTOR = 8.0


@overload
def stationary_distribution(P_pi: ArrayLike | Matrix, *, error: Literal[False] = ...,
                            accuracy: Accuracy = ...) -> np.ndarray: ...


@overload
def stationary_distribution(P_pi: ArrayLike | Matrix, *, error: Literal[True],
                            accuracy: Accuracy = ...) -> tuple[np.ndarray, float]: ...


@overload
def stationary_distribution(P_pi: ArrayLike | Matrix, *, error: bool,
                            accuracy: Accuracy = ...) -> np.ndarray | tuple[np.ndarray, float]: ...


def stationary_distribution(P_pi: ArrayLike | Matrix, *, error: bool = False,
                            accuracy: Accuracy = "refuse") -> np.ndarray | tuple[np.ndarray, float]:
    """The stationary distribution d_π of a state chain: d_πᵀ P^π = d_πᵀ, Σ d_π = 1.

    The chain must have exactly one recurrent class, found exactly on the
    edges of P^π (``_recurrent_state``); with s* one of its states,
    d_π ∝ x, where x(s*) = 1 and the other entries solve (I − P^π)ᵀ x = 0
    without the equation of s*, a nonsingular system of S − 1 unknowns
    (Stewart 1994, §2.3; Kemeny & Snell 1960, §5.1).  Dense chains of up to
    ``STATIONARY_GTH_MAX_STATES`` states are solved by GTH on the
    recurrent class (0 elsewhere), without subtractions, so that a weakly
    coupled chain keeps its digits (a small residual alone does not show
    that: two blocks coupled with probability 1e-16 give a residual at
    rounding for distributions far apart); larger dense chains by LU (the
    S×S matrix is checked against the memory limit first); sparse
    ones by SuperLU below ``STATIONARY_ITERATIVE_MIN_STATES`` states and
    above by GMRES preconditioned with an incomplete LU of bounded fill
    (Saad 2003, §10.4), at most ``STATIONARY_MAXITER`` steps, so a sparse
    chain is never densified and a chain that mixes too slowly is refused.

    The error estimate bounds ‖computed − exact‖₁.  On the GTH route it is
    ``GTH_ERROR_FACTOR``·n³ε for a class of n states (GTH is stable
    entry by entry: O'Cinneide 1993).  On the LU and GMRES routes, with A the
    reduced (S−1)×(S−1) matrix and ρ = A x − b the residual of the computed x,
    ‖δx‖₁ ≤ ‖A⁻¹‖₁ (‖ρ‖₁ + rounding of ρ) (Higham 2002, §7.2), and
    d = x/Σx (Σx ≥ x(s*) = 1) carries ‖δd‖₁ ≤ 2‖δx‖₁/Σx plus the rounding of
    the normalisation; ‖A⁻¹‖₁ is Hager's estimate from solves with the
    factors already made (Higham 2002, Algorithm 15.4; a lower bound, in
    practice within a factor 3).  A nearly uncoupled chain solved by LU has
    ‖A⁻¹‖₁ of the order of the inverse coupling, and is refused.  The
    estimate costs about ten more solves (loose GMRES solves on the largest
    sparse chains, about twice the time of the solve itself); with
    ``accuracy="ignore"`` and ``error=False`` it is skipped.

    Parameters
    ----------
    P_pi : array_like or sparse matrix, shape (S, S)
        Row-stochastic, real and finite.
    error : bool
        Also return the error estimate.
    accuracy : {"refuse", "warn", "ignore"}
        What to do when the estimate leaves fewer than
        ``ACCURACY_MIN_DIGITS`` significant digits (relative to
        ‖d_π‖₁ = 1): raise :class:`~mdpgrad.InaccurateResultError`, warn, or
        return the result silently.

    Returns
    -------
    d : ndarray, shape (S,)
    err : float
        Only with ``error=True``: the bound on ‖δd‖₁ above.

    Raises
    ------
    ValidationError
        If P_pi is not a finite real square matrix, if the chain has more
        than one recurrent class (no unique d_π), if a dense chain exceeds the
        memory limit, or if the iterative solve of a large sparse chain does
        not reach a residual of ``STATIONARY_TOL``.
    InaccurateResultError
        With ``accuracy="refuse"``, if the estimate leaves too few digits;
        whatever ``accuracy``, if a row-stochastic chain with one recurrent
        class is so weakly coupled that the LU or GMRES solve fails (GTH, for
        dense chains up to ``STATIONARY_GTH_MAX_STATES`` states, does not).

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad import stationary_distribution
    >>> stationary_distribution(np.array([[0.9, 0.1], [0.3, 0.7]])).round(12).tolist()
    [0.75, 0.25]
    >>> d, err = stationary_distribution(np.array([[0.9, 0.1], [0.3, 0.7]]), error=True)
    >>> bool(err < 1e-13)             # GTH: 8·2³·ε
    True
    """
    accuracy = validate_accuracy(accuracy)
    chain = _validated_chain(P_pi)
    S = chain.shape[0]
    if not sp.issparse(chain):
        check_memory(8.0 * S * S, f"the {S}×{S} system of the stationary distribution", "P_pi")
    closed = _closed_class(chain)
    if not sp.issparse(chain) and S <= STATIONARY_GTH_MAX_STATES and bool(np.all(chain >= 0)):
        d = np.zeros(S)
        d[closed] = _gth(chain[np.ix_(closed, closed)])
        resid = float(np.abs(chain.T @ d - d).max())
        if not resid <= STATIONARY_TOL:           # not row-stochastic on the class
            raise ValidationError(f"P_pi has no stationary distribution that can be computed reliably "
                                  f"(relative residual {resid:.3g}); is it row-stochastic?", argument="P_pi",
                                  value=resid)
        err = _gth_error(closed.size)
        _check_stationary(err, accuracy)
        return (d, err) if error else d
    star = int(closed[0])
    keep = np.flatnonzero(np.arange(S) != star)
    x = np.zeros(S)
    x[star] = 1.0
    solves: tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] | None = None
    if S > 1:
        if sp.issparse(chain):
            A = sp.csc_array(sp.eye_array(S, format="csr") - chain.T)
            A_red = sp.csc_array(A[keep][:, keep])
            rhs = -A[keep][:, [star]].toarray().ravel()
            x[keep], solves = _sparse_solve(A_red, rhs)
        else:
            A = np.eye(S) - chain.T
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sla.LinAlgWarning)
                warnings.simplefilter("ignore", RuntimeWarning)
                factors = sla.lu_factor(A[np.ix_(keep, keep)], check_finite=False)
                if np.all(np.diagonal(factors[0]) != 0):
                    x[keep] = sla.lu_solve(factors, -A[keep, star], check_finite=False)
                    solves = (lambda b: sla.lu_solve(factors, b, check_finite=False),
                              lambda b: sla.lu_solve(factors, b, trans=1, check_finite=False))
                else:                                 # exactly singular: refused by the residual check
                    x[keep] = np.nan
    # the reduced system is nonsingular for a stochastic chain with one recurrent class; a matrix
    # that is not stochastic can still make it singular or the solution meaningless
    resid = float(np.abs(chain.T @ x - x).max()) / max(float(np.abs(x).sum()), 1e-300) \
        if np.isfinite(x).all() else np.inf
    negative = float(-x.min()) / float(np.abs(x).sum()) if np.isfinite(x).all() else np.inf
    # the estimate costs a few more solves: skipped when nobody reads it
    wanted = error or accuracy != "ignore" or negative > STATIONARY_TOL
    err = _solve_error(chain, x, keep, solves) if resid <= STATIONARY_TOL and wanted else np.nan
    if not resid <= STATIONARY_TOL or (negative > STATIONARY_TOL and not negative <= err):
        if _is_stochastic(chain):     # one recurrent class, stochastic: the solve itself failed
            why = (f"relative residual {resid:.3g}" if not resid <= STATIONARY_TOL else
                   f"negative entries, {negative:.3g} of its 1-norm, that its error estimate does not "
                   "explain")
            raise InaccurateResultError(
                f"the stationary distribution of P_pi could not be computed reliably ({why}): the "
                "chain is row-stochastic with one recurrent class, but it is nearly "
                "multichain (its coupling is too weak for double precision); use exact rationals "
                "(mdpgrad.symbolic.stationary_distribution)", argument="P_pi", value=float(resid))
        raise ValidationError(f"P_pi has no stationary distribution that can be computed reliably "
                              f"(relative residual {resid:.3g}); is it row-stochastic?", argument="P_pi",
                              value=float(resid))
    _check_stationary(err, accuracy)
    d = np.clip(x, 0.0, None)
    d = d / d.sum()
    return (d, err) if error else d


def _is_stochastic(chain: Matrix) -> bool:
    """Entries ≥ 0 and every row sum within S·ε of 1 (the rounding of a sum of S probabilities)."""
    S = chain.shape[0]
    entries = chain.data if sp.issparse(chain) else chain
    sums = np.asarray(chain.sum(axis=1)).ravel()
    return bool(np.all(entries >= 0) and np.all(np.abs(sums - 1.0) <= S * np.finfo(float).eps))


def _gth_error(n: int) -> float:
    """The 1-norm error bound of GTH on n states: ``GTH_ERROR_FACTOR``·n³ε (O'Cinneide 1993)."""
    return GTH_ERROR_FACTOR * float(n) ** 3 * float(np.finfo(float).eps)


def _solve_error(chain: Matrix, x: np.ndarray, keep: np.ndarray,
                 solves: tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] | None
                 ) -> float:
    """The bound on ‖δd‖₁ of the LU/GMRES routes (see :func:`stationary_distribution`).

    ``solves`` are x ↦ A⁻¹x and x ↦ A⁻ᵀx for the reduced matrix A = (I − P^π)ᵀ without row and
    column s*; ‖A⁻¹‖₁ = ‖(Aᵀ)⁻¹‖∞ is estimated by :func:`inverse_norm_inf` applied to Aᵀ.
    """
    S = x.size
    if solves is None:                                # one state: d = (1,) exactly
        return 0.0
    solve, solve_t = solves
    ax = np.abs(x)
    if sp.issparse(chain):
        terms = int(np.diff(sp.csc_array(chain).indptr).max(initial=0)) + 1
        pax = np.asarray(chain.T @ ax)
    else:
        terms = S + 1
        pax = chain.T @ ax if bool(np.all(chain >= 0)) else np.abs(chain.T) @ ax
    resid = float(np.abs(x - chain.T @ x)[keep].sum())
    rounding = rounding_unit(terms) * float((ax + pax)[keep].sum())
    inv_norm = float(inverse_norm_inf(solve_t, solve, (S - 1, S - 1)))
    total = float(x.sum())
    return 2.0 * inv_norm * (resid + rounding) / total + rounding_unit(S)


def _check_stationary(err: float, accuracy: Accuracy) -> None:
    check_accuracy("the stationary distribution", err, 1.0, accuracy,
                   "the chain is nearly uncoupled or ill-conditioned for an LU solve: a dense chain of "
                   f"at most {STATIONARY_GTH_MAX_STATES} states is solved by GTH, accurate whatever the "
                   "coupling",
                   argument="P_pi")


def _sparse_solve(A: sp.csc_array, b: np.ndarray) -> tuple[
        np.ndarray, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] | None]:
    """A x = b: SuperLU for small systems; ILU-preconditioned GMRES (bounded cost) for large ones.

    Also returns the solves x ↦ A⁻¹x and x ↦ A⁻ᵀx with the same factors (None when A is exactly
    singular), for the error estimate.
    """
    n = A.shape[0]
    if n + 1 < STATIONARY_ITERATIVE_MIN_STATES:
        try:
            lu = spla.splu(A)
        except RuntimeError:             # exactly singular: refused by the residual check
            return np.full(n, np.nan), None
        return lu.solve(b), (lambda v: lu.solve(v), lambda v: lu.solve(v, trans="T"))
    ilu = spla.spilu(A, drop_tol=1e-6, fill_factor=5, permc_spec="NATURAL")
    M = spla.LinearOperator(A.shape, matvec=ilu.solve, dtype=float)
    x, info = spla.gmres(A, b, M=M, rtol=1e-12, atol=0.0, restart=30, maxiter=STATIONARY_MAXITER // 30)
    if info != 0:
        resid = float(np.linalg.norm(A @ x - b) / max(np.linalg.norm(b), 1e-300))
        raise ValidationError(f"P_pi: the stationary distribution of this {n + 1}-state sparse chain was not "
                              f"found within {STATIONARY_MAXITER} GMRES steps (relative residual "
                              f"{resid:.3g}); the chain mixes too slowly for the bounded iterative solve",
                              argument="P_pi", value=resid)
    A_t = sp.csc_array(A.T)
    M_t = spla.LinearOperator(A.shape, matvec=lambda v: ilu.solve(v, "T"), dtype=float)

    def gmres_solve(op: Any, pre: Any, v: np.ndarray) -> np.ndarray:
        # the norm estimate needs about one digit: a loose tolerance, the same bounded number of steps
        y, _ = spla.gmres(op, v, M=pre, rtol=1e-3, atol=0.0, restart=30, maxiter=STATIONARY_MAXITER // 30)
        return np.asarray(y)

    return x, (lambda v: gmres_solve(A, M, v), lambda v: gmres_solve(A_t, M_t, v))
