"""Exact policy evaluation: P^π, r^π, v, q, advantage, η, d, μ and J in one call; η and η̃ alone.

Formulas (Sutton & Barto 2018, §3.5 and §4.1; Puterman 1994, §6.1)::

    P^π = Π P,  r^π = Π r                       (Π holds π(a|s) at (s, s·A + a))
    v   = (I − γP̃^π)⁻¹ r^π                      (Bellman equation, solved exactly)
    q   = r + γ P v,  advantage = q − v
    ηᵀ  = ρ̃₀ᵀ (I − γP̃^π)⁻¹                      η(s) = Σ_t γᵗ Pr(s_t = s, t < T)
    η̃ᵀ  = ρ̃₀ᵀ (I − P̃^π)⁻¹                       η̃(s) = Σ_t Pr(s_t = s, t < T), episodic MDPs
    d   = η / Σ η,  μ(s, a) = d(s) π(a|s),  J = ρ₀ · v = Σ_{s,a} η(s) π(a|s) r(s, a)

P̃^π and ρ̃₀ are P^π and ρ₀ with the terminal states masked
(:func:`mdpgrad._chains.masked_chain`); terminal states pay no reward, so
r^π needs no mask.  Without terminal states Σ η = 1/(1 − γ).  The matrix
I − γP̃^π is factorised once (:func:`mdpgrad._linalg.factorize`) and the factors
serve v and η; :class:`Evaluation` keeps them for later solves.

Identities checked by the tests: v = r^π + γP^π v; v(s) = Σ_a π(a|s) q(s, a);
J = ρ₀·v = Σ η π r; Σ η = 1/(1−γ) without terminal states; dense = sparse;
a batch of policies equals the policies evaluated one at a time; η̃ counts
the expected visits of a corridor.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from ._chains import (
    Matrix,
    bellman_matrix,
    chain_and_reward,
    masked_chain,
    masked_start,
    validate_termination,
)
from ._errors import NonTerminatingPolicyError, ValidationError
from ._linalg import (
    KRYLOV_MIN_STATES,
    REFINED_MIN_STATES,
    KrylovSolver,
    RefinedLU,
    Solver,
    SolverMethod,
    blas_gemv,
    factorize,
    sparse_matvec,
    validate_solver_method,
)
from ._model import MDP, validate_mdp
from ._policies import validate_policy
from ._validation import as_real_array, check_bool, check_finite, check_memory, format_index

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
        The factorisation of M = I − γP̃^π that gave v and η, for further
        solves with the same matrix: ``solver.solve(b)`` = M⁻¹b,
        ``solver.solve_transposed(b)`` = M⁻ᵀb (b of shape (S,) or (S, k)).
        Set for every evaluation of a single policy; None for a batch.
    """

    pi: np.ndarray
    P_pi: Matrix
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


def _policy_table(mdp: MDP, pi: ArrayLike, validate: bool) -> np.ndarray:
    """π as a finite array of shape (..., S, A): validated, or only shape-checked (complex passes through).

    A batch is refused before anything is allocated when one S×S matrix per
    policy would exceed the memory limit.
    """
    S, A = mdp.n_states, mdp.n_actions
    if validate:
        table = validate_policy(pi, S, A)
    else:
        raw = pi if isinstance(pi, np.ndarray) else None
        if raw is not None and raw.dtype.kind == "c":
            # complex tables pass through unchanged (complex-step derivatives)
            table = raw.astype(np.complex128, copy=False)
            check_finite(table, "pi")
        elif isinstance(raw, np.ndarray) and raw.dtype == np.float64:
            table = raw                           # already real: only finiteness to check (no copy)
            if not np.isfinite(table).all():
                check_finite(table, "pi")
        else:
            table = as_real_array(pi, "pi")
        if table.ndim < 2 or table.shape[-2:] != (S, A):
            raise ValidationError(f"pi has shape {table.shape}; expected (..., {S}, {A})",
                                  argument="pi", value=table.shape)
    if table.ndim > 2 and mdp.is_sparse:
        raise ValidationError(f"pi has batch shape {table.shape[:-2]}; sparse MDPs take one policy at a time",
                              argument="pi", value=table.shape)
    if table.ndim > 2:
        n = int(np.prod(table.shape[:-2], dtype=float))
        check_memory(float(n) * S * S * table.itemsize,
                     f"a batch of {n} policies (one {S}×{S} matrix I − γP̃^π each)", "pi")
    return table


@contextmanager
def _explained(discount: float) -> Iterator[None]:
    """Turn the solver's refusal of a singular M = I − c·P̃^π into an error about π (and γ)."""
    try:
        yield
    except ValidationError as exc:
        if exc.argument != "M":
            raise
        if discount == 1.0:
            raise NonTerminatingPolicyError(
                f"gamma=1 (or undiscounted counts) needs a policy that terminates, but {exc}: under pi "
                "some non-terminal state reaches a terminal state with probability 0 or below rounding",
                argument="pi", index=exc.index, value=exc.value) from None
        raise ValidationError(
            f"{exc}; with c < 1 this happens only for pi off the simplex (validate=False), where γP̃^π "
            "can have an eigenvalue 1", argument="pi", index=exc.index, value=exc.value) from None


def _finite_result(x: np.ndarray, what: str) -> np.ndarray:
    """``x`` when every entry is finite; else refuse (an overflow off the simplex), naming the entry."""
    if not np.all(np.isfinite(x)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValidationError(f"{format_index(what, idx)} is {x[idx]!r}: the solution overflows (pi off the "
                              "simplex gives a nearly singular system)", argument="pi", index=idx,
                              value=x[idx].item())
    return x


def _validate_termination(mdp: MDP, pi: np.ndarray, P_pi: Matrix) -> None:
    """Undiscounted quantities exist: every policy of the stack reaches a terminal state."""
    if pi.ndim > 2:      # one search per distinct edge pattern of P^π, the edges a single call reads
        S = mdp.n_states
        patterns = np.unique((P_pi != 0).reshape(-1, S, S), axis=0)
        for pattern in patterns:
            validate_termination(mdp, pattern)
    else:
        validate_termination(mdp, P_pi.real if np.iscomplexobj(P_pi) else P_pi)


def _factorize(mdp: MDP, P_pi: Matrix, discount: float, method: SolverMethod = "auto",
               table: np.ndarray | None = None) -> Solver:
    """One factorisation of I − c·P̃^π (c = ``discount``) for a single policy or a stack.

    ``table`` (the policy) lets the dense refined solver know P̃^π ≥ 0 (P ≥ 0 is an MDP invariant).
    """
    if P_pi.ndim == 2 and not mdp.is_sparse and not np.iscomplexobj(P_pi) and (
            method == "refined" or (method == "auto" and mdp.n_states >= REFINED_MIN_STATES)):
        # the float32 factor straight from P̃^π: the float64 matrix M is never formed
        nonnegative = table is not None and not np.iscomplexobj(table) and bool(np.all(table >= 0))
        return RefinedLU.from_chain(masked_chain(mdp, P_pi), discount, nonnegative=nonnegative)
    if mdp.is_sparse and not np.iscomplexobj(P_pi.data) and (
            method == "krylov" or (method == "auto" and mdp.n_states >= KRYLOV_MIN_STATES)):
        # G = c·P̃^π straight from the chain: the Krylov solver multiplies with G and Gᵀ only
        nonnegative = table is not None and not np.iscomplexobj(table) and bool(np.all(table >= 0))
        return KrylovSolver.from_chain(masked_chain(mdp, P_pi), discount, nonnegative=nonnegative)
    return factorize(bellman_matrix(mdp, P_pi, discount), overwrite=True, method=method)


def _visits(mdp: MDP, solver: Solver) -> np.ndarray:
    """η = M⁻ᵀ ρ̃₀, exactly 0 on terminal states (an iterative solve leaves rounding there)."""
    return np.where(mdp.terminal, 0.0, solver.solve_transposed(masked_start(mdp)))


def evaluate(mdp: MDP, pi: ArrayLike, *, validate: bool = True, solver: SolverMethod = "auto") -> Evaluation:
    """Evaluate a policy table exactly.

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (..., S, A)
        Row-stochastic table(s).  Leading axes form a batch (dense MDPs only),
        evaluated in one vectorised call.
    validate : bool, optional
        Check that π is a distribution in every row (default).  Pass False to
        evaluate the closed forms off the simplex (used for derivatives in the
        entries of π; complex tables pass through).
    solver : {"auto", "lu", "refined", "splu", "krylov"}
        How I − γP̃^π is solved for one policy (see :func:`mdpgrad._linalg.factorize`):
        "auto" chooses by size and storage; batches are always solved directly.

    Returns
    -------
    Evaluation
        With ``solver``, the factorisation of I − γP̃^π, for one policy (None for a batch).

    Raises
    ------
    ValidationError
        If ``mdp`` is not an MDP, π has the wrong shape, a non-finite entry
        or (validated) a row that is not a distribution, if a batch would
        exceed the memory limit, if ``solver`` is unknown or does not fit the
        storage of P, or if I − γP̃^π is singular or numerically singular (π
        off the simplex).
    NonTerminatingPolicyError
        If γ = 1 and some non-terminal state never reaches a terminal state,
        or reaches one only with a probability below rounding (I − P̃^π
        numerically singular).

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
    mdp = validate_mdp(mdp)
    S, A = mdp.n_states, mdp.n_actions
    table = _policy_table(mdp, pi, check_bool(validate, "validate"))
    method = validate_solver_method(solver, sparse=mdp.is_sparse)
    batched = table.ndim > 2
    P_pi, r_pi = chain_and_reward(mdp, table)
    if mdp.gamma == 1.0:
        _validate_termination(mdp, table, P_pi)
    with _explained(mdp.gamma):
        factors = _factorize(mdp, P_pi, mdp.gamma, method, table)
    v = _finite_result(factors.solve(r_pi), "v")
    eta = _finite_result(_visits(mdp, factors), "eta")
    if batched:
        Pv = np.einsum("sat,...t->...sa", mdp.P, v, optimize=True)
    else:
        Pv = (sparse_matvec(mdp.P_flat, v) if mdp.is_sparse else blas_gemv(mdp.P_flat, v)).reshape(S, A)
    q = mdp.r + mdp.gamma * Pv
    d = eta / eta.sum(axis=-1, keepdims=True)
    J = v @ mdp.rho0
    if not batched:
        J = complex(J) if np.iscomplexobj(J) else float(J)
    return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=q - v[..., None], eta=eta, d=d,
                      mu=d[..., None] * table, J=J, solver=None if batched else factors)


def visit_counts(mdp: MDP, pi: ArrayLike, *, discounted: bool = True, validate: bool = True) -> np.ndarray:
    """Expected visits before termination, η(s) = Σ_t γᵗ Pr(s_t = s, t < T).

    Solves only ηᵀ (I − γP̃^π) = ρ̃₀ᵀ (one factorisation, no values).  With
    ``discounted=False`` the weights γᵗ are dropped: η̃ solves
    η̃ᵀ (I − P̃^π) = ρ̃₀ᵀ, the undiscounted counts of an episodic MDP, whose
    expectation weights the γᵗ-less policy-gradient update (Nota & Thomas
    2020; Sutton & Barto 2018, §9.2, on-policy distribution).  η̃ needs every
    policy path to terminate, which is checked first (exactly, on the edges
    of P^π).

    Parameters
    ----------
    mdp : MDP
    pi : array_like, shape (..., S, A)
        Row-stochastic table(s); leading axes form a batch (dense MDPs only).
    discounted : bool, optional
        γᵗ-weighted visits η (default) or undiscounted visits η̃.
    validate : bool, optional
        Check that π is a distribution in every row (default); False evaluates
        the closed form off the simplex, as :func:`evaluate` does.

    Returns
    -------
    ndarray, shape (..., S)
        0 on terminal states.

    Raises
    ------
    ValidationError
        If ``mdp`` is not an MDP, π is not a policy table (or, with
        ``validate=False``, not a finite array of shape (..., S, A)), a batch
        would exceed the memory limit, or I − γP̃^π is numerically singular.
    NonTerminatingPolicyError
        If the counts are undiscounted (or γ = 1) and some non-terminal state
        never reaches a terminal state under π, or only with a probability
        below rounding.

    Examples
    --------
    State 0 stays with probability ½, else ends: 2 visits expected, 4/3 discounted by γ = ½.

    >>> P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5, rho0=[1.0, 0.0], terminal=[False, True])
    >>> visit_counts(mdp, np.ones((2, 1)), discounted=False).tolist()
    [2.0, 0.0]
    >>> visit_counts(mdp, np.ones((2, 1))).tolist()
    [1.3333333333333333, 0.0]
    """
    mdp = validate_mdp(mdp)
    table = _policy_table(mdp, pi, check_bool(validate, "validate"))
    discount = mdp.gamma if check_bool(discounted, "discounted") else 1.0
    P_pi = chain_and_reward(mdp, table)[0]
    if discount == 1.0:
        _validate_termination(mdp, table, P_pi)
    with _explained(discount):
        factors = _factorize(mdp, P_pi, discount, table=table)
    return _finite_result(_visits(mdp, factors), "eta")
