"""Exact policy evaluation in one call (:func:`evaluate`), and η and η̃ alone (:func:`visit_counts`).

Both check the MDP and the policy table (a batch is refused before anything is
allocated when it would exceed the memory limit), check that every path
terminates when nothing is discounted, and choose the route
(``mdpgrad._evaluation.routes``): the deflated one for a continuing chain with
π on the simplex when 1/(1 − γ) or the reward offset is large
(:data:`DEFLATE_RATIO`), else the direct one.  :func:`evaluate` then refuses
or warns when a result leaves fewer than ``ACCURACY_MIN_DIGITS`` significant
digits, and makes the arrays of its :class:`~mdpgrad._evaluation.results.Evaluation` read-only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from .._chains import Matrix, chain_and_reward, masked_start, validate_termination
from .._errors import ValidationError
from .._linalg import (
    Accuracy,
    SolverMethod,
    check_accuracy,
    rounding_unit,
    validate_accuracy,
    validate_solver_method,
)
from .._model import MDP, validate_mdp
from .._policies import validate_policy
from .._progress import Progress, check_progress
from .._validation import as_real_array, check_bool, check_finite, check_memory
from .accuracy import (
    ADVICE,
    check_evaluation,
    inverse_norm_direct,
    norm1,
    row_terms,
    transposed_product,
    within_tolerance,
)
from .results import Evaluation
from .routes import evaluate_deflated, evaluate_direct, explained, factorize_chain, finite_result, visits

__all__ = ["DEFLATE_RATIO", "DEFLATE_ROW_TOL", "evaluate", "visit_counts"]


#: Take the deflated route (``mdpgrad._evaluation.routes``) when the horizon 1/(1 − γ) reaches this, or when
#: max|r|/(1 − γ), the size v can reach, exceeds this many times the spread max r − min r of the
#: rewards: then the direct route's advantage q − v cancels at least 4 of the 16 digits of a
#: double (its error is ≈ ε·κ(M)·|v|, κ(M) ≈ 1/(1 − γ)), while the deflated route loses none to
#: the offset.  Below it the direct route (one LU of M, the fast path) is as accurate.
DEFLATE_RATIO = 1e4

#: A policy table is treated as row-stochastic on the deflated route when every row sums to 1 within
#: this (a softmax rounds to about 1e-16; a table off the simplex, as in the derivatives of the
#: direct parameterisation, misses by far more and takes the direct route).
DEFLATE_ROW_TOL = 1e-12


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


def _validate_termination(mdp: MDP, pi: np.ndarray, P_pi: Matrix) -> None:
    """Undiscounted quantities exist: every policy of the stack reaches a terminal state."""
    if pi.ndim > 2:      # one search per distinct edge pattern of P^π, the edges a single call reads
        S = mdp.n_states
        patterns = np.unique((P_pi != 0).reshape(-1, S, S), axis=0)
        for pattern in patterns:
            validate_termination(mdp, pattern)
    else:
        validate_termination(mdp, P_pi.real if np.iscomplexobj(P_pi) else P_pi)


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
        ev = evaluate_deflated(mdp, table, P_pi, r_pi, method)
        if not within_tolerance(mdp, ev):
            # A chain with more than one recurrent class keeps an eigenvalue near 1 − γ after
            # deflation by one direction; the direct solve may then be the accurate one (P^π = I).
            alternative = evaluate_direct(mdp, table, P_pi, r_pi, method, direct, progress)
            if within_tolerance(mdp, alternative):
                ev = alternative
    else:
        ev = evaluate_direct(mdp, table, P_pi, r_pi, method, direct, progress)
    if ev.error is not None and policy != "ignore":
        check_evaluation(mdp, ev, policy)
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
    with explained(discount):
        factors = factorize_chain(mdp, P_pi, discount, table=table)
    eta = finite_result(visits(mdp, factors), "eta")
    if policy != "ignore" and not np.iscomplexobj(eta):
        S = mdp.n_states
        norm = inverse_norm_direct(mdp, P_pi, factors, discount, on_simplex, table.shape[:-2] + (S, S))
        start = masked_start(mdp)
        res = np.where(mdp.terminal, 0.0, start - eta + discount * transposed_product(P_pi, eta))
        u = rounding_unit(row_terms(mdp, P_pi))
        err = norm * (norm1(res) + u * ((1.0 + discount) * norm1(eta) + np.sum(start)))
        check_accuracy("eta", err, norm1(eta), policy, ADVICE)
    return eta
