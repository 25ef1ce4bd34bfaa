"""Hypothesis strategies for finite MDPs, policy tables and policy parameters.

What they generate
------------------
* :func:`mdps` — valid :class:`~mdpgrad.MDP` objects, dense or sparse,
  continuing or episodic, with γ drawn from a strategy you pass.
* :func:`policies` — row-stochastic tables π of shape (S, A).
* :func:`thetas` — parameters θ for a :class:`~mdpgrad.Policy`.

They follow the conventions of Hypothesis's own strategies (its
``guides/api-style.rst``): plural names, keyword-only ``min_…``/``max_…``
bounds, arguments that vary are given as strategies (never "a value or a
strategy"), every value is valid by construction (no ``.filter``, no
``assume``), and bad arguments raise ``hypothesis.errors.InvalidArgument``.

Construction and guarantees
---------------------------
Each row P(· | s, a) is built from non-negative weights normalised to sum 1: one
*primary* next state with weight 1, plus extra weights that Hypothesis shrinks
towards 0.  The primary next state of a continuing MDP is s itself plus a drawn
offset (shrinking to a self-loop); of an episodic MDP it is a state of larger
index (shrinking to s + 1).  So the simplest examples are deterministic:
1 state and 1 action (continuing) or 2 states and 1 action (episodic).

**Episodic MDPs** have exactly one terminal state, the last one (index S − 1),
and ρ₀ puts no mass on it.  Every action in every non-terminal state s moves to
a state of index > s with probability at least p_min = 1 / (1 + w_max·S)
(w_max = 1 for float weights, :data:`INTEGER_WEIGHT_MAX` for integer weights).
Hence under *every* policy the terminal state is reached within S − 1 steps with
probability ≥ p_min^(S−1) > 0, episodes end with probability 1, and γ = 1 is
valid for every policy (``evaluate`` never raises NonTerminatingPolicyError).
**Continuing MDPs** have no terminal state and need γ < 1, at most
:func:`max_continuing_gamma` (S) so that ``evaluate`` accepts every policy on
them (a drawn γ above it is an InvalidArgument, not a model); they may be
reducible (several recurrent classes).

With ``integer_weights=True`` every probability is k/m with integers k ≤ m and
m ≤ 1 + INTEGER_WEIGHT_MAX·S (rows of P and ρ₀) or m ≤ 1 + INTEGER_WEIGHT_MAX·A
(policy rows), rewards are integers and γ is a multiple of 1/20, so the exact
rational model exists and :func:`as_fractions` recovers it from the floats.

**Action sets** (``action_sets=st.just(True)``): each state keeps a drawn
action (shrinking to action 0) and any others not dropped (drops shrink to
none: every action available); an unavailable action's row is either all
zeros or its drawn distribution, and its drawn reward stays, so code that
reads them is caught.  The guarantees above hold for every available action.

Identities checked by the tests (tests/test_strategies.py), over generated
MDPs: the Bellman equation, v = Σ_a π q, J = ρ₀·v = Σ η π r, Σ η = 1/(1−γ)
without terminal states, dense = sparse; and that ``hypothesis.find`` shrinks to
the tiny deterministic MDPs above.

Examples
--------
>>> from hypothesis import find
>>> mdp = find(mdps(episodic=st.just(True)), lambda m: True)
>>> mdp.n_states, mdp.n_actions, mdp.P_dense().tolist()
(2, 1, [[[0.0, 1.0]], [[0.0, 1.0]]])
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra import numpy as hnp
from hypothesis.strategies import SearchStrategy

from ._errors import ValidationError
from ._linalg import ACCURACY_MIN_DIGITS, rounding_unit
from ._model import MDP
from ._policies import Direct, Policy
from ._validation import check_integer

__all__ = ["INTEGER_WEIGHT_MAX", "REWARD_GRID", "REWARD_RATIO", "as_fractions", "max_continuing_gamma",
           "mdps", "policies", "thetas"]

#: Largest extra integer weight when ``integer_weights=True``: keeps every
#: denominator small (≤ 1 + 3·S), so exact rational computations stay cheap.
INTEGER_WEIGHT_MAX = 3

#: Smallest extra weight of a strictly positive float policy row; with the
#: primary weight 1 and A extra weights ≤ 1 every probability is ≥ 1/(8(A+1)).
STRICT_MIN_WEIGHT = 0.125

#: Default γ for float MDPs: keeps 1/(1−γ) ≤ 20 so tolerances in generic
#: property tests stay meaningful.
DEFAULT_MAX_GAMMA = 0.95

#: Float rewards are drawn on the grid k/REWARD_GRID, ``|k| ≤ REWARD_GRID`` (so in [−1, 1]): their
#: spread max r − min r is 0 or at least 1/REWARD_GRID, so max|r| ≤ REWARD_GRID × spread, the
#: ratio :func:`max_continuing_gamma` needs.  (Unrestricted floats give rewards 1 and 1 − 2⁻⁵³,
#: whose advantages no double-precision evaluation resolves to six digits of the spread.)
REWARD_GRID = 2**10

#: The largest max|r| / (max r − min r) of the default rewards: REWARD_GRID (floats on the grid
#: in [−1, 1]); the integer rewards in [−3, 3] have at most 3.
REWARD_RATIO = float(REWARD_GRID)

_FLOAT_WEIGHTS = st.floats(0.0, 1.0, allow_subnormal=False)
_FLOAT_REWARDS = st.integers(-REWARD_GRID, REWARD_GRID).map(lambda k: k / REWARD_GRID)
_INT_WEIGHTS = st.integers(0, INTEGER_WEIGHT_MAX)
_INT_REWARDS = st.integers(-3, 3)
_BOOLEANS = st.booleans()
_NEVER = st.just(False)


#: Safety factor on the error bound behind :func:`max_continuing_gamma`: the 8 of the bound on
#: the advantage times 2 for the pivot growth of the LU factorisation and the row terms of the
#: residual (Higham 2002, §9.3), which the bound takes as 1.
CONDITION_MARGIN = 16.0


def max_continuing_gamma(n_states: int) -> float:
    """Largest γ :func:`mdps` draws for a continuing MDP with ``n_states`` states.

    Chosen so that ``evaluate`` (default ``accuracy="refuse"``) accepts every generated
    continuing model under every policy.  With H = 1/(1 − γ), u = (S + 2)ε the rounding unit of
    a row of M = I − γP^π, R = max|r| and σ = max r − min r:

    * the direct route has ‖M⁻¹‖∞ = H exactly for a stochastic P^π, and a backward-stable solve
      leaves a residual ≲ u‖M‖∞ max|v| ≤ 2u·max|v|, so the estimate of the error of v is about
      H·(2u + 2u)·max|v| ≤ 4uH²R (max|v| ≤ RH); the advantage q − v carries two such errors
      plus the rounding of q and v, ≲ 8uH²R;
    * the accuracy rule (six digits, ``ACCURACY_MIN_DIGITS``) judges the
      advantage against σ at least, so it needs 8uH²R ≤ 10⁻⁶σ, i.e.
      H ≤ √(10⁻⁶ / (8u·R/σ)); v, q, η and J, judged against their own size, need only
      4uH ≤ 10⁻⁶, which this implies;
    * the strategy's rewards have R/σ ≤ :data:`REWARD_RATIO` (the grid of :data:`REWARD_GRID`);
      with ``CONDITION_MARGIN`` in place of the 8, 1 − γ = √(CONDITION_MARGIN·u·REWARD_RATIO·10⁶).
    * a dense chain with a long horizon or a large reward offset takes the deflated route, whose
      error is relative to σ from the start (≈ 36uH² when P^π has several recurrent classes,
      ‖B⁻¹‖∞ ≤ (1 + γ)H); when it fails its own estimate the direct route above is taken.

    A ``rewards`` strategy of your own keeps the guarantee when its draws have
    max|r| ≤ REWARD_RATIO·(max r − min r) or all equal (with one action, or equal rewards, the
    advantage is not judged).

    Parameters
    ----------
    n_states : int
        S.

    Examples
    --------
    >>> from mdpgrad.strategies import max_continuing_gamma
    >>> round(1 / (1 - max_continuing_gamma(2)))
    262
    """
    S = _check_int("n_states", n_states, 1)
    u = rounding_unit(S)
    gap = np.sqrt(CONDITION_MARGIN * u * REWARD_RATIO * 10.0**ACCURACY_MIN_DIGITS)
    return float(np.nextafter(1.0 - gap, 0.0))


# -- argument validation ---------------------------------------------------
def _check_int(name: str, value: Any, low: int) -> int:
    """check_integer, raising Hypothesis's InvalidArgument as strategies do."""
    try:
        return check_integer(value, name, min_value=low)
    except ValidationError as exc:
        raise InvalidArgument(str(exc)) from None


def _check_bounds(min_name: str, min_value: Any, max_name: str, max_value: Any, low: int) -> tuple[int, int]:
    lo = _check_int(min_name, min_value, low)
    hi = _check_int(max_name, max_value, low)
    if lo > hi:
        raise InvalidArgument(f"{min_name}={lo} must be at most {max_name}={hi}")
    return lo, hi


def _check_strategy(name: str, value: Any) -> SearchStrategy:
    if not isinstance(value, SearchStrategy):
        raise InvalidArgument(f"{name}={value!r} must be a Hypothesis strategy "
                              f"(e.g. st.just(...) for a fixed value)")
    return value


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be True or False")
    return value


# -- public strategies -----------------------------------------------------
def mdps(*, min_states: int = 1, max_states: int = 5, min_actions: int = 1, max_actions: int = 3,
         gammas: SearchStrategy[float] | None = None,
         sparse: SearchStrategy[bool] = _BOOLEANS,
         episodic: SearchStrategy[bool] = _BOOLEANS,
         rewards: SearchStrategy[float] | None = None,
         integer_weights: bool = False,
         action_sets: SearchStrategy[bool] = _NEVER) -> SearchStrategy[MDP]:
    """Strategy for valid finite MDPs.

    Parameters
    ----------
    min_states, max_states : int
        Bounds on S (an episodic draw uses at least 2 states: one terminal).
    min_actions, max_actions : int
        Bounds on A.
    gammas : strategy of float, optional
        Discounts.  Default: floats in [0, 0.95] (multiples of 1/20 with
        integer weights).  A drawn γ outside [0, 1], or above
        :func:`max_continuing_gamma` (S) for a continuing MDP (γ = 1 included:
        ``evaluate`` would refuse the model), raises InvalidArgument: pair
        ``st.just(1.0)`` with ``episodic=st.just(True)``.
    sparse : strategy of bool
        Store P as a scipy.sparse (S·A, S) matrix when True.
    episodic : strategy of bool
        When True, state S − 1 is terminal and is reached under every policy
        (see the module docstring for the guarantee).
    rewards : strategy of float, optional
        Entries of r(s, a).  Default: multiples of 1/:data:`REWARD_GRID` in
        [−1, 1] (:func:`max_continuing_gamma` relies on their spread), integers
        in [−3, 3] with integer weights.
    integer_weights : bool
        Build probabilities as small integer weights normalised (exact
        rationals exist; recover them with :func:`as_fractions`).
    action_sets : strategy of bool
        When True, some actions may be unavailable in some states
        (``mdp.actions``; see the module docstring).  Default: never.

    Returns
    -------
    SearchStrategy[MDP]

    Examples
    --------
    >>> from mdpgrad.strategies import mdps
    >>> from hypothesis import find
    >>> find(mdps(), lambda m: True)
    MDP(n_states=1, n_actions=1, gamma=0.0, dense, n_terminal=0)
    """
    min_states, max_states = _check_bounds("min_states", min_states, "max_states", max_states, 1)
    min_actions, max_actions = _check_bounds("min_actions", min_actions, "max_actions", max_actions, 1)
    integer_weights = _check_bool("integer_weights", integer_weights)
    if gammas is None:
        gammas = (st.integers(0, 19).map(lambda k: k / 20) if integer_weights
                  else st.floats(0.0, DEFAULT_MAX_GAMMA))
    _check_strategy("gammas", gammas)
    _check_strategy("sparse", sparse)
    _check_strategy("episodic", episodic)
    if rewards is None:
        rewards = _INT_REWARDS if integer_weights else _FLOAT_REWARDS
    _check_strategy("rewards", rewards)
    _check_strategy("action_sets", action_sets)
    return _mdps(min_states, max_states, min_actions, max_actions, gammas, sparse, episodic, rewards,
                 integer_weights, action_sets)


@st.composite
def _mdps(draw: Any, min_states: int, max_states: int, min_actions: int, max_actions: int,
          gammas: SearchStrategy, sparse: SearchStrategy, episodic: SearchStrategy,
          rewards: SearchStrategy, integer_weights: bool, action_sets: SearchStrategy) -> MDP:
    is_episodic = draw(episodic)
    if not isinstance(is_episodic, (bool, np.bool_)):
        raise InvalidArgument(f"episodic drew {is_episodic!r}; expected a bool")
    if is_episodic and max_states < 2:
        raise InvalidArgument(f"an episodic MDP needs a terminal and a non-terminal state, "
                              f"but max_states={max_states}")
    S = draw(st.integers(max(min_states, 2 if is_episodic else 1), max_states))
    A = draw(st.integers(min_actions, max_actions))
    gamma = draw(gammas)
    if not (0.0 <= gamma <= 1.0):
        raise InvalidArgument(f"gammas drew {gamma!r}; expected a value in [0, 1]")
    if not is_episodic and gamma > max_continuing_gamma(S):
        raise InvalidArgument(f"gammas drew {gamma!r} for a continuing MDP with {S} states; expected at "
                              f"most {max_continuing_gamma(S)!r} (max_continuing_gamma: closer to 1, "
                              "I − γP^π is too ill-conditioned for evaluate), or use episodic=st.just(True)")
    n_live = S - 1 if is_episodic else S
    weight_elements = _INT_WEIGHTS if integer_weights else _FLOAT_WEIGHTS
    dtype = np.int64 if integer_weights else np.float64

    # primary next state of each live (s, a): forward (episodic) or s + offset mod S
    s_idx = np.arange(n_live)[:, None]
    if is_episodic:
        # offset in [1, S-1-s]: draw u in [0, S-2] and fold into range per state
        raw = draw(hnp.arrays(np.int64, (n_live, A), elements=st.integers(0, S - 2)))
        primary = s_idx + 1 + raw % (S - 1 - s_idx)
    else:
        raw = draw(hnp.arrays(np.int64, (n_live, A), elements=st.integers(0, S - 1)))
        primary = (s_idx + raw) % S
    W = draw(hnp.arrays(dtype, (n_live, A, S), elements=weight_elements)).astype(float)
    np.put_along_axis(W, primary[..., None], np.take_along_axis(W, primary[..., None], axis=2) + 1.0,
                      axis=2)
    P = np.zeros((S, A, S))
    P[:n_live] = W / W.sum(axis=2, keepdims=True)
    r = np.zeros((S, A))
    r[:n_live] = draw(hnp.arrays(np.float64, (n_live, A), elements=rewards))
    terminal = np.zeros(S, dtype=bool)
    if is_episodic:
        P[S - 1, :, S - 1] = 1.0
        terminal[S - 1] = True
    w0 = draw(hnp.arrays(dtype, (n_live,), elements=weight_elements)).astype(float)
    w0[0] += 1.0
    rho0 = np.zeros(S)
    rho0[:n_live] = w0 / w0.sum()
    mask = _draw_action_sets(draw, action_sets, S, A)
    if mask is not None and draw(st.booleans()):
        P[~mask] = 0.0                      # absent rows rather than unused distributions
    is_sparse = draw(sparse)
    P_store = sp.csr_array(P.reshape(S * A, S)) if is_sparse else P
    return MDP(P_store, r, float(gamma), rho0=rho0, terminal=terminal, actions=mask)


def _draw_action_sets(draw: Any, action_sets: SearchStrategy, S: int, A: int) -> np.ndarray | None:
    """A mask (S, A) keeping a drawn action per state, or None when ``action_sets`` draws False."""
    wanted = draw(action_sets)
    if not isinstance(wanted, (bool, np.bool_)):
        raise InvalidArgument(f"action_sets drew {wanted!r}; expected a bool")
    if not wanted:
        return None
    keep = draw(hnp.arrays(np.int64, (S,), elements=st.integers(0, A - 1)))
    mask = ~draw(hnp.arrays(np.bool_, (S, A), elements=st.booleans()))
    mask[np.arange(S), keep] = True
    return mask


def policies(n_states: int, n_actions: int, *, strictly_positive: bool = False,
             integer_weights: bool = False, actions: Any = None) -> SearchStrategy[np.ndarray]:
    """Strategy for row-stochastic policy tables π of shape (S, A).

    Each row has one primary action (weight 1, shrinking to action 0) plus
    extra weights, so the simplest table is deterministic: π(0|s) = 1.

    Parameters
    ----------
    n_states, n_actions : int
        The table's shape (usually ``mdp.n_states, mdp.n_actions``).
    strictly_positive : bool
        Every probability ≥ 1/(8(A+1)) (float weights) or ≥ 1/(1 + 3A)
        (integer weights), e.g. for ``TabularSoftmax.theta_from``.
    integer_weights : bool
        Rows k/m with integers, m ≤ 1 + INTEGER_WEIGHT_MAX·A; see
        :func:`as_fractions`.
    actions : ndarray of bool, shape (S, A), optional
        Action sets (e.g. ``mdp.actions``): unavailable actions get
        probability 0 (``strictly_positive`` then applies to the available
        ones); the primary action of a row is an available one.

    Returns
    -------
    SearchStrategy[ndarray], shape (S, A)

    Examples
    --------
    >>> from mdpgrad.strategies import policies
    >>> from hypothesis import find
    >>> find(policies(2, 3), lambda pi: True).tolist()
    [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """
    S = _check_int("n_states", n_states, 1)
    A = _check_int("n_actions", n_actions, 1)
    strictly_positive = _check_bool("strictly_positive", strictly_positive)
    integer_weights = _check_bool("integer_weights", integer_weights)
    mask = None
    if actions is not None:
        mask = np.asarray(actions)
        if mask.shape != (S, A) or mask.dtype != bool or not mask.any(axis=1).all():
            raise InvalidArgument(f"actions must be a bool ({S}, {A}) array with an available action in "
                                  f"every state, got shape {mask.shape} and dtype {mask.dtype}")
    if integer_weights:
        return _policies(S, A, st.integers(1 if strictly_positive else 0, INTEGER_WEIGHT_MAX), np.int64, mask)
    floats = st.floats(STRICT_MIN_WEIGHT if strictly_positive else 0.0, 1.0, allow_subnormal=False)
    return _policies(S, A, floats, np.float64, mask)


@st.composite
def _policies(draw: Any, S: int, A: int, elements: SearchStrategy, dtype: Any,
              mask: np.ndarray | None) -> np.ndarray:
    primary = draw(hnp.arrays(np.int64, (S,), elements=st.integers(0, A - 1)))
    W = draw(hnp.arrays(dtype, (S, A), elements=elements)).astype(float)
    if mask is not None:                    # the primary action: the drawn one's k-th available action
        counts = mask.sum(axis=1)
        primary = np.array([np.flatnonzero(mask[s])[primary[s] % counts[s]] for s in range(S)])
        W = W * mask
    W[np.arange(S), primary] += 1.0
    return W / W.sum(axis=1, keepdims=True)


def thetas(policy: Policy, *, min_value: float = -3.0, max_value: float = 3.0) -> SearchStrategy[np.ndarray]:
    """Strategy for parameters θ of ``policy``, shape ``policy.param_shape``.

    Entries are floats in [min_value, max_value], shrinking to 0 (the uniform
    policy for softmax parameterisations).  For :class:`~mdpgrad.Direct`
    θ is a table: strictly positive :func:`policies` (so log π is finite) on
    the available actions of its mask, 0 on the others.

    Parameters
    ----------
    policy : Policy
    min_value, max_value : float
        Bounds on each entry (ignored for Direct).

    Returns
    -------
    SearchStrategy[ndarray]

    Examples
    --------
    >>> from mdpgrad.strategies import thetas
    >>> from hypothesis import find
    >>> from mdpgrad import TabularSoftmax
    >>> find(thetas(TabularSoftmax(2, 2)), lambda th: True).tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    """
    shape = getattr(policy, "param_shape", None)
    if shape is None or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in shape):
        raise InvalidArgument(f"policy={policy!r} must provide a param_shape of positive integers")
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise InvalidArgument(f"{name}={value!r} must be a finite number")
    if min_value > max_value:
        raise InvalidArgument(f"min_value={min_value!r} must be at most max_value={max_value!r}")
    if isinstance(policy, Direct):
        return policies(policy.n_states, policy.n_actions, strictly_positive=True, actions=policy.actions)
    return hnp.arrays(np.float64, tuple(int(n) for n in shape),
                      elements=st.floats(float(min_value), float(max_value), allow_subnormal=False))


def as_fractions(x: Any, max_denominator: int) -> np.ndarray:
    """The exact rationals behind floats built from small integer weights.

    Each entry is replaced by the closest Fraction with denominator ≤
    ``max_denominator``.  This is exact when the entry is k/m rounded to float
    with m ≤ max_denominator: two such fractions differ by ≥ 1/max_denominator²,
    far above float rounding (≈ 1e-16).

    Parameters
    ----------
    x : array_like
    max_denominator : int
        E.g. 1 + INTEGER_WEIGHT_MAX·S for P and ρ₀ of an MDP drawn with
        ``integer_weights=True``.

    Returns
    -------
    ndarray of Fraction (dtype object), same shape as x

    Examples
    --------
    >>> from mdpgrad.strategies import as_fractions
    >>> as_fractions([1 / 3, 0.25, 1.0], 10).tolist()
    [Fraction(1, 3), Fraction(1, 4), Fraction(1, 1)]
    """
    arr = np.asarray(x, dtype=float)
    out = np.empty(arr.shape, dtype=object)
    for idx, value in np.ndenumerate(arr):
        out[idx] = Fraction(float(value)).limit_denominator(int(max_denominator))
    return out
