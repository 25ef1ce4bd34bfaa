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
I − γP̃^π is factorised once (``mdpgrad._linalg.factorize``) and the factors
serve v and η; :class:`Evaluation` keeps them for later solves.

Two routes to the same numbers:

* direct: one factorisation of M = I − γP̃^π, the fast path used for ordinary γ;
* deflated, for a continuing chain (no terminal state) with π on the simplex
  when 1/(1 − γ) or the reward offset is large (:data:`DEFLATE_RATIO`).  M is
  then nearly singular along 1 (M1 = (1 − γ)1) and v = M⁻¹r^π is a huge
  constant plus the part that matters, so q − v cancels almost every digit.
  With u = 1/S uniform, B = M + γ1uᵀ = I − γ(P^π − 1uᵀ) keeps the eigenvalues
  1 − γλ of M for λ ≠ 1 and maps 1 to 1 (Brauer 1952), so it stays well
  conditioned as γ → 1 when P^π is unichain (Kemeny & Snell 1960, §4.3, the
  fundamental matrix; Puterman 1994, §8.2).  Sherman–Morrison gives
  M⁻¹ = B⁻¹ + γ/(1 − γ)·1uᵀB⁻¹, hence, with y = B⁻¹r^π, g = uᵀy, zᵀ = ρ₀ᵀB⁻¹ and
  wᵀ = uᵀB⁻¹::

      v = y + γg/(1 − γ)·1,   adv = r + γPy − y − γg,   q = adv + v
      ηᵀ = zᵀ + γ/(1 − γ)·wᵀ,  J = ρ₀·y + γg/(1 − γ)

  (P(s, a, ·)1 = 1 cancels the large term of q − v analytically).  The
  rewards are first centred on c = (max r + min r)/2, which rounds each
  r − c to ε|r − c|/2, and c/(1 − γ) is added back to v, q and J, so the
  advantage is accurate to the spread of the rewards, not their offset.  A chain that is not unichain
  leaves B ill conditioned too, and the error estimate says so.

Every evaluation with a real table carries an :class:`ErrorEstimate`
(condition estimate × residual, propagated to q, the advantage, η and J), and
is refused (:class:`~mdpgrad.InaccurateResultError`) when it leaves fewer than
``ACCURACY_MIN_DIGITS`` significant digits, unless the
caller passes ``accuracy="warn"`` or ``"ignore"``.  The arrays of an
:class:`Evaluation` are read-only and its own (π is copied).

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
from ._display import compact_repr
from ._errors import NonTerminatingPolicyError, ValidationError
from ._linalg import (
    ACCURACY_MIN_DIGITS,
    DOUBLE_DIGITS,
    KRYLOV_MIN_STATES,
    REFINED_MIN_STATES,
    Accuracy,
    DeflatedSolver,
    KrylovSolver,
    RefinedLU,
    Solver,
    SolverMethod,
    blas_gemm_columns,
    blas_gemv,
    check_accuracy,
    digits_left,
    factorize,
    inverse_norm_inf,
    rounding_unit,
    sparse_matvec,
    validate_accuracy,
    validate_solver_method,
)
from ._model import MDP, validate_mdp
from ._policies import validate_policy
from ._progress import Progress, check_progress
from ._validation import as_real_array, check_bool, check_finite, check_memory, format_index

__all__ = ["DEFLATE_RATIO", "ErrorEstimate", "Evaluation", "advantage_floor", "evaluate", "visit_counts"]


#: Take the deflated route (module docstring) when the horizon 1/(1 − γ) reaches this, or when
#: max|r|/(1 − γ), the size v can reach, exceeds this many times the spread max r − min r of the
#: rewards: then the direct route's advantage q − v cancels at least 4 of the 16 digits of a
#: double (its error is ≈ ε·κ(M)·|v|, κ(M) ≈ 1/(1 − γ)), while the deflated route loses none to
#: the offset.  Below it the direct route (one LU of M, the fast path) is as accurate.
DEFLATE_RATIO = 1e4

#: A policy table is treated as row-stochastic on the deflated route when every row sums to 1 within
#: this (a softmax rounds to about 1e-16; a table off the simplex, as in the derivatives of the
#: direct parameterisation, misses by far more and takes the direct route).
DEFLATE_ROW_TOL = 1e-12

#: The horizon up to which ‖M⁻¹‖∞ is taken from the Neumann bound 1/(1 − γ·max_s Σ_t P^π(s, t))
#: (exact for a continuing chain); beyond it, and for γ = 1, from the solve M⁻¹1 (exact for the
#: M-matrix M, which is tighter when episodes end long before 1/(1 − γ) steps).
NEUMANN_MAX_HORIZON = 1e4

_ADVICE = ("centre the rewards (subtract a constant: advantages and gradients do not change), avoid "
           "γ so close to 1 or termination probabilities so close to 0, or use exact rationals "
           "(mdpgrad.symbolic)")


@dataclass(frozen=True)
class ErrorEstimate:
    """Forward-error estimates of an evaluation; per policy of a batch (shape (...)) or floats.

    Each error is an estimate of ‖computed − exact‖ built as
    ‖K⁻¹‖∞·(residual + rounding of the residual) for the matrix K that was
    factorised (Higham 2002, §7.2 and §15.3; LAPACK's FERR, Anderson et al.
    1999, §4.4), then propagated to the quantities formed from the solution,
    including the rounding of the difference q − v.  ‖K⁻¹‖∞ is exact
    (Neumann bound, or M⁻¹1 for an M-matrix) or Hager's estimate (a lower
    bound, in practice within a factor 3).  The model is taken as given with
    its rows of P and π summing to exactly 1 (they do to rounding).  d = η/Ση
    and μ carry about twice η's relative error; they are not judged separately.

    Attributes
    ----------
    route : {"direct", "deflated"}
        Which system was solved: M = I − γP̃^π, or B = M + γ1uᵀ (module docstring).
    inverse_norm : float or ndarray
        ‖K⁻¹‖∞ of that system; its condition number κ∞ ≤ (1 + 2γ)·inverse_norm.
    v, q, advantage : float or ndarray
        Bounds on the max-norm errors (q and the advantage over the available
        actions of a model with action sets).
    eta : float or ndarray
        Bound on the 1-norm error of η.
    J : float or ndarray
    digits : float
        Significant digits left in the least accurate of v (relative to max|v|),
        q (max|q|), advantage (max|adv| or ``advantage_floor``, whichever
        is larger), η (‖η‖₁) and J (max|v|: J averages v, and may be 0 by symmetry), over the whole
        batch.
    """

    route: str
    inverse_norm: Any
    v: Any
    q: Any
    advantage: Any
    eta: Any
    J: Any
    digits: float

    __repr__ = compact_repr


    def __str__(self) -> str:
        return (f"ErrorEstimate: {self.digits:.1f} significant digits left ({self.route} route, "
                f"‖K⁻¹‖∞ ≈ {float(np.max(self.inverse_norm)):.3g}); error of J ≤ "
                f"{float(np.max(self.J)):.2g}, of the advantage ≤ {float(np.max(self.advantage)):.2g}")

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
        On a model with action sets, the entries of unavailable actions are
        computed from their stored rows and rewards and mean nothing.
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
        Set for every evaluation of a single policy; None for a batch.  On
        the deflated route (module docstring) a ``DeflatedSolver``.
    error : ErrorEstimate or None
        Forward-error estimates of v, q, advantage, η and J (None for complex
        tables, which only the complex-step machinery passes).

    Every array is read-only and owned by the evaluation (π is copied), so
    nothing written later, by the caller or into these arrays, changes
    ``solver``'s later solves.
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
    error: ErrorEstimate | None = field(default=None, repr=False)

    __repr__ = compact_repr

    def __str__(self) -> str:
        S = self.v.shape[-1]
        A = self.q.shape[-1]
        batch = self.v.shape[:-1]
        size = f"{S} states x {A} actions" + (f", batch {batch}" if batch else "")
        J = float(np.max(self.J)) if batch else float(self.J)
        digits = "" if self.error is None else f"; {self.error.digits:.1f} significant digits"
        return (f"Evaluation: J = {J:.6g}{' (largest in the batch)' if batch else ''} ({size}); "
                f"v in [{float(np.min(self.v)):.6g}, {float(np.max(self.v)):.6g}], "
                f"sum eta = {float(np.max(np.sum(self.eta, axis=-1))):.6g}{digits}")

    def bellman_residual(self, mdp: MDP) -> float:
        """``max_s |v − r^π − γP^π v|``, the check that v solves the Bellman equation."""
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
        table = validate_policy(pi, S, A, actions=mdp.actions)
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


def _finite_result(x: np.ndarray, what: str, source: tuple[str, float] | None = None) -> np.ndarray:
    """``x`` when every entry is finite; else refuse, naming the entry and the argument to blame.

    ``source`` = (name, largest magnitude) of the right-hand side, given when
    π is on the simplex: then M is well conditioned (γ < 1) or checked (γ = 1),
    so an overflow comes from the size of the right-hand side (a reward of
    1e308 overflows v whatever the policy), and the error names it.  Off the
    simplex M may be nearly singular, which is the policy's doing.
    """
    if not np.all(np.isfinite(x)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        if source is not None:
            raise ValidationError(f"{format_index(what, idx)} is {x[idx]!r}: the solution overflows because "
                                  f"{source[0]} is too large (max |{source[0]}| = {source[1]:.3g}); rescale "
                                  f"{source[0]}", argument=source[0], index=idx, value=x[idx].item())
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
               table: np.ndarray | None = None, progress: Progress = None) -> Solver:
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
        return KrylovSolver.from_chain(masked_chain(mdp, P_pi), discount, nonnegative=nonnegative,
                                       progress=progress)
    return factorize(bellman_matrix(mdp, P_pi, discount), overwrite=True, method=method)


def _visits(mdp: MDP, solver: Solver) -> np.ndarray:
    """η = M⁻ᵀ ρ̃₀, exactly 0 on terminal states (an iterative solve leaves rounding there)."""
    return np.where(mdp.terminal, 0.0, solver.solve_transposed(masked_start(mdp)))


def evaluate(mdp: MDP, pi: ArrayLike, *, validate: bool = True, solver: SolverMethod = "auto",
             accuracy: Accuracy = "refuse", progress: Progress = None) -> Evaluation:
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
        How I − γP̃^π is solved for one policy (see ``mdpgrad._linalg.factorize``):
        "auto" chooses by size and storage; batches are always solved directly.
    accuracy : {"refuse", "warn", "ignore"}
        What to do when the estimated error (``Evaluation.error``) leaves fewer
        than ``ACCURACY_MIN_DIGITS`` significant digits in
        v, q, the advantage, η or J: raise :class:`~mdpgrad.InaccurateResultError`
        (default), warn, or return the result silently.
    progress : None, bool or callable
        Progress of the Krylov iterations (sparse models, ``solver="krylov"``), here and in later
        solves with ``Evaluation.solver``: True for a bar (tqdm) or log messages, a callable
        (done, total, message), or None (default: DEBUG messages on the ``"mdpgrad"`` logger).

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
    InaccurateResultError
        With ``accuracy="refuse"``, if a result has fewer than six significant
        digits left (say how many, and what to do).
    NonTerminatingPolicyError
        If γ = 1 and some non-terminal state never reaches a terminal state,
        or reaches one only with a probability below rounding (I − P̃^π
        numerically singular).

    Examples
    --------
    Two states, one action: state 0 pays 1 and stays with probability ½.

    >>> from mdpgrad import MDP, evaluate
    >>> import numpy as np
    >>> P = np.array([[[0.5, 0.5]], [[0.0, 1.0]]])
    >>> mdp = MDP(P, [[1.0], [0.0]], gamma=0.5, rho0=[1.0, 0.0])
    >>> ev = evaluate(mdp, np.ones((2, 1)))
    >>> ev.v.tolist(), float(ev.J), ev.eta.tolist()
    ([1.3333333333333333, 0.0], 1.3333333333333333, [1.3333333333333333, 0.6666666666666666])
    """
    mdp = validate_mdp(mdp)
    table = _policy_table(mdp, pi, check_bool(validate, "validate"))
    method = validate_solver_method(solver, sparse=mdp.is_sparse)
    policy = validate_accuracy(accuracy)
    progress = check_progress(progress)
    if isinstance(pi, np.ndarray) and np.shares_memory(table, pi):
        table = table.copy()                  # the Evaluation owns its arrays (they are made read-only)
    P_pi, r_pi = chain_and_reward(mdp, table)
    if mdp.gamma == 1.0:
        _validate_termination(mdp, table, P_pi)
    on_simplex = _on_simplex(table)
    direct = on_simplex and not np.iscomplexobj(table)
    if on_simplex and _deflation_pays(mdp):
        ev = _evaluate_deflated(mdp, table, P_pi, r_pi, method)
        if not _within_tolerance(mdp, ev):
            # A chain with more than one recurrent class keeps an eigenvalue near 1 − γ after
            # deflation by one direction; the direct solve may then be the accurate one (P^π = I).
            alternative = _evaluate_direct(mdp, table, P_pi, r_pi, method, direct, progress)
            if _within_tolerance(mdp, alternative):
                ev = alternative
    else:
        ev = _evaluate_direct(mdp, table, P_pi, r_pi, method, direct, progress)
    if ev.error is not None and policy != "ignore":
        _check_evaluation(mdp, ev, policy)
    for x in (ev.pi, ev.P_pi if not sp.issparse(ev.P_pi) else ev.P_pi.data, ev.r_pi, ev.v, ev.q, ev.advantage,
              ev.eta, ev.d, ev.mu):
        x.flags.writeable = False
    return ev


def _on_simplex(table: np.ndarray) -> bool:
    """Nonnegative (real part), every row summing to 1 within :data:`DEFLATE_ROW_TOL`.

    A complex table (a complex step θ + ih e_j of a normalised policy) passes
    when its rows sum to 1 in complex arithmetic: the deflated route needs
    only P^π1 = 1, which then holds for the complex P^π too.
    """
    if not bool(np.all(table.real >= 0)):
        return False
    return bool(np.all(np.abs(table.sum(axis=-1) - 1.0) <= DEFLATE_ROW_TOL))


def _deflation_pays(mdp: MDP) -> bool:
    """Dense, continuing (no terminal state), 0 < γ < 1, and the horizon or the offset is large."""
    if mdp.is_sparse or mdp.terminal.any() or not 0.0 < mdp.gamma < 1.0:
        return False
    horizon = 1.0 / (1.0 - mdp.gamma)
    rewards = mdp.r[mdp.actions]                       # the rewards of unavailable actions are never paid
    size = float(np.max(np.abs(rewards), initial=0.0))
    spread = float(np.ptp(rewards)) if rewards.size else 0.0
    return horizon >= DEFLATE_RATIO or (size > 0.0 and horizon * size >= DEFLATE_RATIO * spread)


def _states_of(x: np.ndarray) -> np.ndarray:
    """max over the last axis (per policy of a batch)."""
    return np.max(np.abs(x), axis=-1, initial=0.0)


def _total(x: np.ndarray) -> np.ndarray:
    """Σ over the last axis, kept as an axis of length 1."""
    return np.sum(x, axis=-1, keepdims=True)


def _norm1(x: np.ndarray) -> np.ndarray:
    """‖x‖₁ over the last axis."""
    return np.sum(np.abs(x), axis=-1)


def _pairs_max(x: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """max |x(s, a)| over the available pairs (q and the advantage of an unavailable action are never used,
    so their size sets no scale and their error is not estimated)."""
    return np.max(np.abs(np.where(actions, x, 0.0)), axis=(-2, -1), initial=0.0)


def _transposed_product(P_pi: Any, x: np.ndarray) -> np.ndarray:
    """P^πᵀ x (per policy of a batch)."""
    if sp.issparse(P_pi):
        return np.asarray(P_pi.T @ x)
    if P_pi.ndim == 2:
        return blas_gemv(P_pi.T, x)
    return np.einsum("...st,...s->...t", P_pi, x, optimize=True)


def _action_products(mdp: MDP, x: np.ndarray) -> np.ndarray:
    """(P x)(s, a) = Σ_t P(s, a, t) x(t), shape (..., S, A)."""
    if x.ndim > 1:
        return np.einsum("sat,...t->...sa", mdp.P, x, optimize=True)
    S, A = mdp.n_states, mdp.n_actions
    return (sparse_matvec(mdp.P_flat, x) if mdp.is_sparse else blas_gemv(mdp.P_flat, x)).reshape(S, A)


def _result(batched: bool, x: np.ndarray) -> Any:
    return x if batched else float(x)


def _evaluate_direct(mdp: MDP, table: np.ndarray, P_pi: Any, r_pi: np.ndarray, method: SolverMethod,
                     on_simplex: bool, progress: Progress = None) -> Evaluation:
    """v = M⁻¹r^π, η = M⁻ᵀρ̃₀ from one factorisation of M = I − γP̃^π, with error estimates."""
    gamma = mdp.gamma
    batched = table.ndim > 2
    with _explained(gamma):
        factors = _factorize(mdp, P_pi, gamma, method, table, progress)
    source = ("r", float(np.max(np.abs(mdp.r), initial=0.0))) if on_simplex else None
    v = _finite_result(factors.solve(r_pi), "v", source)
    eta = _finite_result(_visits(mdp, factors), "eta", source)
    rows = None
    if not batched and not mdp.is_sparse and on_simplex and v.dtype == np.float64:
        # P v and the row sums of P in one pass over P (the sums bound ‖P̃^π‖∞ for the error estimate)
        both = blas_gemm_columns(mdp.P_flat, np.column_stack([v, np.ones(mdp.n_states)]))
        Pv = both[:, 0].reshape(mdp.n_states, mdp.n_actions)
        rows = np.sum(table * both[:, 1].reshape(mdp.n_states, mdp.n_actions), axis=-1)
    else:
        Pv = _action_products(mdp, v)
    q = mdp.r + gamma * Pv
    adv = q - v[..., None]
    d = eta / eta.sum(axis=-1, keepdims=True)
    J = v @ mdp.rho0
    if not batched:
        J = complex(J) if np.iscomplexobj(J) else float(J)
    error = None
    if not np.iscomplexobj(table) and not np.iscomplexobj(v):
        error = _direct_error(mdp, table, P_pi, r_pi, v, Pv, q, adv, eta, factors, gamma, on_simplex, rows)
    return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, d=d,
                      mu=d[..., None] * table, J=J, solver=None if batched else factors, error=error)


def _row_terms(mdp: MDP, P_pi: Any) -> int:
    """The longest inner product in a row of P^π (S dense, the most successors sparse)."""
    if sp.issparse(P_pi):
        return int(np.max(np.diff(P_pi.indptr), initial=1))
    return mdp.n_states


def _inverse_norm_direct(mdp: MDP, P_pi: Any, factors: Solver, discount: float, on_simplex: bool,
                         shape: tuple[int, ...], rows: np.ndarray | None = None) -> Any:
    """‖M⁻¹‖∞ for M = I − c·P̃^π: Neumann bound, M⁻¹1 (an M-matrix), or Hager's estimate.

    ``rows``: the row sums of P^π when already known (they bound those of P̃^π).
    """
    if on_simplex:
        if rows is None:
            rows = (np.asarray(P_pi.sum(axis=1)).ravel() if sp.issparse(P_pi)
                    else blas_gemv(P_pi, np.ones(mdp.n_states)) if P_pi.ndim == 2 else P_pi.sum(axis=-1))
        q = discount * _states_of(rows)
        if np.all(q < 1.0) and np.all(1.0 / (1.0 - q) <= NEUMANN_MAX_HORIZON):
            return 1.0 / (1.0 - q)
        ones = factors.solve(np.where(mdp.terminal, 0.0, 1.0))       # M⁻¹ ≥ 0: ‖M⁻¹‖∞ = max M⁻¹1
        if np.all(np.isfinite(ones)) and np.all(ones >= 0):
            return np.max(ones, axis=-1, initial=1.0)
    return inverse_norm_inf(factors.solve, factors.solve_transposed, shape)


def _direct_error(mdp: MDP, table: np.ndarray, P_pi: Any, r_pi: np.ndarray, v: np.ndarray, Pv: np.ndarray,
                  q: np.ndarray, adv: np.ndarray, eta: np.ndarray, factors: Solver, gamma: float,
                  on_simplex: bool, rows: np.ndarray | None) -> ErrorEstimate:
    """The :class:`ErrorEstimate` of the direct route (one more product, P^πᵀη, for η's residual).

    When it leaves fewer than ``ACCURACY_MIN_DIGITS`` digits on a dense model,
    the residuals are formed once more in extended precision (:func:`_extended_residuals`): the
    rounding of the residual computation, u·(1 + γ)·max|v| in float64, is what dominates the bound
    when v = M⁻¹r^π is large but accurate (P^π = I near γ = 1), and it drops by the ratio of the
    two rounding units.  The cheap float64 estimate serves every other case.
    """
    S = mdp.n_states
    norm = _inverse_norm_direct(mdp, P_pi, factors, gamma, on_simplex, table.shape[:-2] + (S, S), rows)
    u = rounding_unit(_row_terms(mdp, P_pi))
    res_v = r_pi - v + gamma * np.sum(table * Pv, axis=-1)
    start = masked_start(mdp)
    res_eta = np.where(mdp.terminal, 0.0, start - eta + gamma * _transposed_product(P_pi, eta))
    estimate = _direct_bounds(mdp, norm, u, u, res_v, res_eta, r_pi, v, q, adv, eta, gamma, table.ndim > 2)
    if estimate.digits >= ACCURACY_MIN_DIGITS or mdp.is_sparse or not on_simplex:
        return estimate
    extended = _extended_residuals(mdp, table, v, eta)
    if extended is None:
        return estimate
    u_ext, res_v, res_eta = extended
    return _direct_bounds(mdp, norm, u, u_ext, res_v, res_eta, r_pi, v, q, adv, eta, gamma, table.ndim > 2)


def _extended_residuals(mdp: MDP, table: np.ndarray, v: np.ndarray,
                        eta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    """r^π − Mv and ρ̃₀ − Mᵀη formed in np.longdouble from P, π, r and ρ₀ (dense), with their rounding unit.

    As in :class:`ErrorEstimate`, the model is the one whose rows of P and π sum to exactly 1:
    they are renormalised in extended precision (π = 1/3 rounded to float64 sums to 1 − 2⁻⁵⁴,
    which, seen through ‖M⁻¹‖∞ ≈ 1/(1 − γ), would be read as an error of v and η).  Returns
    (u, res_v, res_eta), u the rounding unit of the extended computation (P^π = ΠP is formed
    in it too: A + S terms per entry), or None where np.longdouble is no wider than float64.
    """
    ext = np.longdouble
    eps_ext = float(np.finfo(ext).eps)
    if eps_ext >= float(np.finfo(float).eps):
        return None
    gamma = ext(mdp.gamma)
    pi = table.astype(ext)
    pi /= np.sum(pi, axis=-1, keepdims=True)
    P = mdp.P_dense().astype(ext)
    P /= np.sum(P, axis=-1, keepdims=True)
    P_pi = np.einsum("...sa,sat->...st", pi, P)
    r_pi = np.sum(pi * mdp.r.astype(ext), axis=-1)
    v_ext, eta_ext = v.astype(ext), eta.astype(ext)
    res_v = r_pi - v_ext + gamma * np.einsum("...st,...t->...s", P_pi, v_ext)
    res_eta = np.where(mdp.terminal, ext(0), masked_start(mdp).astype(ext) - eta_ext
                       + gamma * np.einsum("...st,...s->...t", P_pi, eta_ext))
    u = rounding_unit(mdp.n_states + mdp.n_actions, eps_ext)
    return u, res_v.astype(float), res_eta.astype(float)


def _direct_bounds(mdp: MDP, norm: Any, u: float, u_res: float, res_v: np.ndarray, res_eta: np.ndarray,
                   r_pi: np.ndarray, v: np.ndarray, q: np.ndarray, adv: np.ndarray, eta: np.ndarray,
                   gamma: float, batched: bool) -> ErrorEstimate:
    """‖M⁻¹‖∞·(residual + u_res·its size), propagated to q, the advantage and J with the float64 unit u."""
    eps = float(np.finfo(float).eps)
    start = masked_start(mdp)
    vmax, qmax = _states_of(v), _pairs_max(q, mdp.actions)
    eta1 = np.sum(np.abs(eta), axis=-1)
    err_v = norm * (_states_of(res_v) + u_res * ((1.0 + gamma) * vmax + _states_of(r_pi)))
    err_eta = norm * (np.sum(np.abs(res_eta), axis=-1) + u_res * ((1.0 + gamma) * eta1 + np.sum(start)))
    err_q = gamma * (err_v + u * vmax) + eps * qmax
    err_adv = err_q + err_v + eps * (qmax + vmax)          # the rounding of the difference q − v
    err_J = float(np.sum(mdp.rho0)) * err_v + u * (np.abs(v) @ mdp.rho0)
    return _estimate(mdp, "direct", norm, err_v, err_q, err_adv, err_eta, err_J, v, q, adv, eta, batched)


def _estimate(mdp: MDP, route: str, norm: Any, err_v: Any, err_q: Any, err_adv: Any, err_eta: Any,
              err_J: Any, v: np.ndarray, q: np.ndarray, adv: np.ndarray, eta: np.ndarray,
              batched: bool) -> ErrorEstimate:
    scales = _scales(mdp, v, q, adv, eta)
    errors = [np.asarray(x, dtype=float) for x in (err_v, err_q, err_adv, err_eta, err_J)]
    digits = min(min((digits_left(float(e), float(sc)) for e, sc in zip(err.ravel(), np.ravel(scale),
                                                                         strict=True)), default=DOUBLE_DIGITS)
                 for err, scale in zip(errors, scales, strict=True))
    e_v, e_q, e_adv, e_eta, e_J = (_result(batched, x) for x in errors)
    return ErrorEstimate(route, _result(batched, np.asarray(norm, dtype=float)), e_v, e_q, e_adv, e_eta, e_J,
                         digits)


def advantage_floor(mdp: MDP) -> float:
    """The least scale an advantage is judged against: the spread max r − min r of the rewards of the
    available actions of the non-terminal states.  Inf (advantages never refused) with one available
    action per state, where every advantage is 0, and with constant rewards, where every advantage is 0
    without terminal states (v is constant) and is otherwise set by the termination probabilities
    alone, which the checks of v, q, η and J cover."""
    live = ~mdp.terminal
    rewards = mdp.r[live][mdp.actions[live]]
    spread = float(np.ptp(rewards)) if rewards.size else 0.0
    if not (mdp.actions[live].sum(axis=1) > 1).any() or spread == 0.0:
        return float("inf")
    return spread


def _scales(mdp: MDP, v: np.ndarray, q: np.ndarray, adv: np.ndarray, eta: np.ndarray) -> list[np.ndarray]:
    """The scale each quantity's error is judged against (the docstring of :class:`ErrorEstimate`)."""
    spread = advantage_floor(mdp)
    return [_states_of(v), _pairs_max(q, mdp.actions), np.maximum(_pairs_max(adv, mdp.actions), spread),
            np.sum(np.abs(eta), axis=-1), _states_of(v)]


def _within_tolerance(mdp: MDP, ev: Evaluation) -> bool:
    """Whether every quantity of ``ev`` keeps ``ACCURACY_MIN_DIGITS`` digits."""
    err = ev.error
    if err is None:
        return True
    scales = _scales(mdp, ev.v, ev.q, ev.advantage, ev.eta)
    errors = (err.v, err.q, err.advantage, err.eta, err.J)
    return all(bool(np.all(np.asarray(e) <= 10.0 ** -ACCURACY_MIN_DIGITS * np.asarray(sc)))
               for e, sc in zip(errors, scales, strict=True))


def _check_evaluation(mdp: MDP, ev: Evaluation, policy: Accuracy) -> None:
    """Refuse or warn, per :func:`mdpgrad._linalg.check_accuracy`, quantity by quantity."""
    err = ev.error
    if err is None:
        return
    scales = _scales(mdp, ev.v, ev.q, ev.advantage, ev.eta)
    errors = (err.v, err.q, err.advantage, err.eta, err.J)
    for name, e, sc in zip(("v", "q", "the advantage", "eta", "J"), errors, scales, strict=True):
        check_accuracy(f"{name} ({err.route} route, ‖K⁻¹‖∞ ≈ {float(np.max(err.inverse_norm)):.3g})",
                       e, sc, policy, _ADVICE)


def _evaluate_deflated(mdp: MDP, table: np.ndarray, P_pi: np.ndarray, r_pi: np.ndarray,
                       method: SolverMethod) -> Evaluation:
    """The deflated route for a continuing dense chain (module docstring), with error estimates."""
    gamma, S = mdp.gamma, mdp.n_states
    batched = table.ndim > 2
    k = gamma / (1.0 - gamma)
    B = bellman_matrix(mdp, P_pi, gamma)
    B += gamma / S                                      # B = I − γP^π + γ1uᵀ, u uniform
    with _explained(gamma):
        factors = factorize(B, overwrite=not batched and method != "refined" and S < REFINED_MIN_STATES,
                            method="lu" if method == "auto" and S < REFINED_MIN_STATES else method)
    u = np.full(S, 1.0 / S)
    source = ("r", float(np.max(np.abs(mdp.r), initial=0.0)))
    # centre the rewards on c: r − c rounds with an error below ε|r − c|/2 (one rounding of the exact
    # difference), so y, Py and g are of the size of the spread, not of the offset; c/(1 − γ) is added
    # back to v, q and J, and the advantage does not change (P^π1 = 1)
    paid = mdp.r[mdp.actions]                          # the rewards of available actions
    c = 0.5 * (float(np.max(paid)) + float(np.min(paid))) if paid.size else 0.0
    rc = mdp.r - c
    r_pi_c = np.sum(table * rc, axis=-1)
    shift = c / (1.0 - gamma)
    y = _finite_result(factors.solve(r_pi_c), "v", source)
    z = factors.solve_transposed(mdp.rho0)
    w = factors.solve_transposed(u)
    Py = _action_products(mdp, y)
    g = y @ u
    gc = g[..., None] if batched else g
    with np.errstate(over="ignore"):
        v = _finite_result(y + (k * gc + shift), "v", source)
    adv = rc + gamma * Py - y[..., None] - gamma * np.asarray(gc)[..., None]
    q = rc + gamma * (Py + k * np.asarray(gc)[..., None]) + shift
    eta = _finite_result(z + k * w, "eta", source)
    d = eta / eta.sum(axis=-1, keepdims=True)
    J = y @ mdp.rho0 + (k * g + shift)
    if np.iscomplexobj(table):                          # a complex step: no error estimate
        return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, d=d,
                          mu=d[..., None] * table, J=J if batched else complex(J),
                          solver=None if batched else DeflatedSolver(factors, u, gamma))
    # residuals of the three solves with B, and the error estimates
    Ppi_y = np.sum(table * Py, axis=-1)
    res_y = r_pi_c - (y - gamma * Ppi_y + gamma * gc)
    res_z = mdp.rho0 - (z - gamma * _transposed_product(P_pi, z) + gamma * _total(z) * u)
    res_w = u - (w - gamma * _transposed_product(P_pi, w) + gamma * _total(w) * u)
    norm = inverse_norm_inf(factors.solve, factors.solve_transposed, table.shape[:-2] + (S, S))
    eps = float(np.finfo(float).eps)
    un = rounding_unit(S)
    ymax = _states_of(y)
    err_y = norm * (_states_of(res_y) + un * ((1.0 + 2.0 * gamma) * ymax + _states_of(r_pi_c)))
    err_z = norm * (_norm1(res_z) + un * ((1.0 + 2.0 * gamma) * _norm1(z) + 1.0))
    err_w = norm * (_norm1(res_w) + un * ((1.0 + 2.0 * gamma) * _norm1(w) + 1.0))
    err_v = (1.0 + k) * err_y + eps * _states_of(v)
    err_q = gamma * (err_v + un * ymax) + eps * _pairs_max(q, mdp.actions)
    err_adv = (1.0 + 2.0 * gamma) * err_y + un * (float(np.max(np.abs(paid - c), initial=0.0))
                                                 + gamma * _pairs_max(Py, mdp.actions) + ymax
                                                 + gamma * np.abs(g))
    err_eta = err_z + k * err_w + eps * np.sum(np.abs(eta), axis=-1)
    err_J = (1.0 + k) * err_y + un * (np.abs(v) @ mdp.rho0)
    if not batched:
        J = float(J)
    error = _estimate(mdp, "deflated", norm, err_v, err_q, err_adv, err_eta, err_J, v, q, adv, eta, batched)
    return Evaluation(pi=table, P_pi=P_pi, r_pi=r_pi, v=v, q=q, advantage=adv, eta=eta, d=d,
                      mu=d[..., None] * table, J=J,
                      solver=None if batched else DeflatedSolver(factors, u, gamma), error=error)


def visit_counts(mdp: MDP, pi: ArrayLike, *, discounted: bool = True, validate: bool = True,
                 accuracy: Accuracy = "refuse") -> np.ndarray:
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
    accuracy : {"refuse", "warn", "ignore"}
        As for :func:`evaluate`, judged on the 1-norm error estimate of η
        (the discounted counts of a continuing chain near γ = 1 come from
        :func:`evaluate`'s deflated route).

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

    >>> import numpy as np
    >>> from mdpgrad import MDP, visit_counts
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
    policy = validate_accuracy(accuracy)
    on_simplex = _on_simplex(table) and not np.iscomplexobj(table)
    if discount == mdp.gamma and on_simplex and _deflation_pays(mdp):
        return np.array(evaluate(mdp, table, validate=False, accuracy=policy).eta)
    P_pi = chain_and_reward(mdp, table)[0]
    if discount == 1.0:
        _validate_termination(mdp, table, P_pi)
    with _explained(discount):
        factors = _factorize(mdp, P_pi, discount, table=table)
    eta = _finite_result(_visits(mdp, factors), "eta")
    if policy != "ignore" and not np.iscomplexobj(eta):
        S = mdp.n_states
        norm = _inverse_norm_direct(mdp, P_pi, factors, discount, on_simplex, table.shape[:-2] + (S, S))
        start = masked_start(mdp)
        res = np.where(mdp.terminal, 0.0, start - eta + discount * _transposed_product(P_pi, eta))
        u = rounding_unit(_row_terms(mdp, P_pi))
        err = norm * (_norm1(res) + u * ((1.0 + discount) * _norm1(eta) + np.sum(start)))
        check_accuracy("eta", err, _norm1(eta), policy, _ADVICE)
    return eta
