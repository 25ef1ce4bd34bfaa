"""Converters from other tools' layouts to :class:`~mdpgrad.MDP`.

* :func:`from_gymnasium` (and :func:`convert_gymnasium`, which also records
  which termination rule it applied) reads Gymnasium's ``env.unwrapped.P``
  dict ``{s: {a: [(prob, next_state, reward, terminated), ...]}}``: duplicate
  next states are summed, rewards reduced to r(s, a) = Σ prob·reward, and
  terminated transitions end the episode (see :class:`GymnasiumConversion`).
* :func:`from_mdptoolbox` reads pymdptoolbox's P of shape (A, S, S) and R of
  shape (S,), (S, A) or (A, S, S).

Nothing else is altered: rows that do not sum to 1 still raise.  The tests
check both converters against values computed independently from the source
data (iterative evaluation over the dict, real Gymnasium environments, and
Cordwell's forest-management example solved by hand).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._errors import ValidationError
from .._model import DEFAULT_ATOL, MDP
from .._validation import as_real_array, is_integer

__all__ = ["GymnasiumConversion", "convert_gymnasium", "from_gymnasium", "from_mdptoolbox"]


@dataclass(frozen=True, eq=False)
class GymnasiumConversion:
    """The result of :func:`convert_gymnasium`, with a record of what was done.

    Attributes
    ----------
    mdp : MDP
    terminal_states : tuple of int
        Original states entered only by ``terminated=True`` transitions; they
        became terminal (absorbing, zero reward) and their own outgoing
        transitions in the dict were dropped (an episode never leaves them).
    redirected_states : tuple of int
        Original states entered both with ``terminated=True`` and ``False``;
        the terminated transitions into them now lead to ``extra_terminal``.
    extra_terminal : int or None
        Index S of the absorbing terminal state appended for the redirected
        transitions, or None when no state needed it.
    rho0_source : str
        Where ρ₀ came from: ``"environment"`` (its ``initial_state_distrib``),
        ``"given"`` or ``"uniform"`` (asked for explicitly).
    """

    mdp: MDP
    terminal_states: tuple[int, ...]
    redirected_states: tuple[int, ...]
    extra_terminal: int | None
    rho0_source: str

    @property
    def rules(self) -> str:
        """One line saying which termination rule(s) applied."""
        parts = []
        if self.terminal_states:
            parts.append(f"states {list(self.terminal_states)} entered only on termination made terminal")
        if self.redirected_states:
            parts.append(f"terminated transitions into states {list(self.redirected_states)} redirected "
                         f"to the appended terminal state {self.extra_terminal}")
        return "; ".join(parts) if parts else "no terminated transitions"


def _is_real(x: Any) -> bool:
    return isinstance(x, (numbers.Real, np.floating, np.integer)) and not isinstance(x, (bool, np.bool_))


def _gym_actions(P: Mapping[Any, Any], S: int) -> np.ndarray:
    """The (S, A) mask of the actions each state's dict lists, A = 1 + the largest action anywhere."""
    for s in range(S):
        acts = P[s]
        if not isinstance(acts, Mapping) or not acts:
            raise ValidationError(f"P[{s}] is not a non-empty dict of actions", argument="P", index=(s,))
        for a in acts:
            if not is_integer(a) or int(a) < 0:
                raise ValidationError(f"P[{s}] has action {a!r}; expected integers >= 0", argument="P",
                                      index=(s,), value=repr(a))
    A = 1 + max(int(a) for s in range(S) for a in P[s])
    avail = np.zeros((S, A), dtype=bool)
    for s in range(S):
        avail[s, [int(a) for a in P[s]]] = True
    return avail


def _gym_table(P: Any) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                np.ndarray]:
    """Flatten the dict to arrays (row x = s·A + a, next, prob, reward, terminated), checking every entry;
    last, the (S, A) mask of the actions the dict lists per state."""
    if not isinstance(P, Mapping) or not P:
        raise ValidationError("P must be a non-empty dict {state: {action: [(prob, next, reward, "
                              "terminated), ...]}}", argument="P", value=type(P).__name__)
    S = len(P)
    if set(P) != set(range(S)):
        raise ValidationError(f"the states of P are not 0..{S - 1}", argument="P",
                              value=sorted(P, key=str)[:5])
    avail = _gym_actions(P, S)
    A = avail.shape[1]
    rows, nxt, prob, rew, term = [], [], [], [], []
    for s in range(S):
        acts = {int(a): t for a, t in P[s].items()}
        for a in np.flatnonzero(avail[s]).tolist():
            trans = acts[a]
            if isinstance(trans, (str, bytes)) or not isinstance(trans, Sequence) or not trans:
                raise ValidationError(f"P[{s}][{a}] is not a non-empty list of transitions",
                                      argument="P", index=(s, a))
            for k, t in enumerate(trans):
                if not isinstance(t, Sequence) or len(t) != 4:
                    raise ValidationError(f"P[{s}][{a}][{k}] is {t!r}; expected (prob, next_state, "
                                          "reward, terminated)", argument="P", index=(s, a, k), value=t)
                p, s2, rw, done = t
                if not _is_real(p) or not _is_real(rw):
                    raise ValidationError(f"P[{s}][{a}][{k}] has prob {p!r} and reward {rw!r}; expected "
                                          "real numbers", argument="P", index=(s, a, k), value=t)
                if not is_integer(s2) or not 0 <= int(s2) < S:
                    raise ValidationError(f"P[{s}][{a}][{k}] has next state {s2!r}; expected an int in "
                                          f"0..{S - 1}", argument="P", index=(s, a, k), value=s2)
                if not isinstance(done, (bool, np.bool_)):
                    raise ValidationError(f"P[{s}][{a}][{k}] has terminated={done!r}; expected a bool",
                                          argument="P", index=(s, a, k), value=done)
                try:
                    p_f, rw_f = float(p), float(rw)
                except OverflowError:
                    raise ValidationError(f"P[{s}][{a}][{k}] has prob {p!r} and reward {rw!r}; too large "
                                          "for a float", argument="P", index=(s, a, k), value=t) from None
                rows.append(s * A + a)
                nxt.append(int(s2))
                prob.append(p_f)
                rew.append(rw_f)
                term.append(bool(done))
    prob_a, rew_a = np.array(prob), np.array(rew)
    for name, arr in (("probability", prob_a), ("reward", rew_a)):
        bad = ~np.isfinite(arr) | ((arr < 0) if name == "probability" else False)
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValidationError(f"a transition of P[{rows[i] // A}][{rows[i] % A}] has {name} {arr[i]!r}",
                                  argument="P", index=(rows[i] // A, rows[i] % A), value=float(arr[i]))
    rows_a = np.array(rows)
    sums = np.bincount(rows_a, weights=prob_a, minlength=S * A)
    off = (np.abs(sums - 1.0) > DEFAULT_ATOL) & avail.ravel()
    if off.any():
        x = int(np.argmax(off))
        raise ValidationError(f"the probabilities of P[{x // A}][{x % A}] sum to {sums[x]!r}; expected 1 "
                              f"within atol={DEFAULT_ATOL:g}", argument="P", index=(x // A, x % A),
                              value=float(sums[x]))
    return S, A, rows_a, np.array(nxt, dtype=np.int64), prob_a, rew_a, np.array(term, dtype=bool), avail


def _grid_of(env: Any) -> tuple[int, int] | None:
    """The (n_rows, n_cols) of a grid environment: FrozenLake's ``desc`` or CliffWalking's ``shape``."""
    desc = getattr(env, "desc", None)
    if isinstance(desc, np.ndarray) and desc.ndim == 2:
        return (int(desc.shape[0]), int(desc.shape[1]))
    shape = getattr(env, "shape", None)
    if isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(n, int) for n in shape):
        return (shape[0], shape[1])
    return None


def _gymnasium_source(source: Any, rho0: Any) -> tuple[Any, Any, str, tuple[int, int] | None]:
    """The transition dict, ρ₀, where ρ₀ came from and the grid layout, for a dict or an environment."""
    P: Any
    grid = None
    if sp.issparse(source) or isinstance(source, np.ndarray):
        raise ValidationError(f"P is a {type(source).__name__}; expected a Gymnasium environment or its "
                              "dict {state: {action: [(prob, next_state, reward, terminated), ...]}}",
                              argument="P", value=type(source).__name__)
    if isinstance(source, (Mapping, list, tuple)):
        P, env_rho0 = source, None
    else:
        inner = getattr(source, "unwrapped", source)
        P = getattr(inner, "P", None)
        if not isinstance(P, Mapping):
            raise ValidationError(f"P is a {type(source).__name__} without a transition dict; expected "
                                  "env.unwrapped.P or a toy-text environment (FrozenLake, CliffWalking, "
                                  "Taxi)", argument="P", value=type(source).__name__)
        env_rho0 = getattr(inner, "initial_state_distrib", None)
        grid = _grid_of(inner)
    if isinstance(rho0, str):
        if rho0 != "uniform":
            raise ValidationError(f"rho0 is {rho0!r}; expected an array, 'uniform' or None",
                                  argument="rho0", value=rho0)
        return P, None, "uniform", grid
    if rho0 is not None:
        return P, rho0, "given", grid
    if env_rho0 is not None:
        return P, env_rho0, "environment", grid
    raise ValidationError("rho0 is required with a bare transition dict: Gymnasium keeps the start "
                          "distribution outside P (env.unwrapped.initial_state_distrib). Pass the "
                          "environment itself, rho0=..., or rho0='uniform' for the uniform distribution "
                          "over non-terminal states", argument="rho0")


def convert_gymnasium(P: Any, *, gamma: float, rho0: Any = None,
                      sparse: bool = False) -> GymnasiumConversion:
    """Convert a Gymnasium toy-text environment (or its ``P`` dict) and say which rules applied.

    Input: an environment (``env`` or ``env.unwrapped``: its ``P`` and its
    ``initial_state_distrib`` are read), or the dict ``P[s][a]``, a list of
    ``(prob, next_state, reward, terminated)`` (the toy-text environments:
    FrozenLake, CliffWalking, Taxi).  Conversion:

    1. repeated next states of one (s, a) are summed;
    2. rewards are reduced to expectations r(s, a) = Σ prob · reward, including
       the reward of a terminating transition;
    3. termination, per entered state s' (Gymnasium does not make its
       terminal states absorbing, so this is where the conversion decides):

       * s' entered **only** by ``terminated=True`` transitions becomes a
         terminal state: absorbing, zero reward; its own outgoing transitions
         in the dict (never used in an episode) are dropped after being
         checked like every other row;
       * s' entered by both kinds: the ``terminated=True`` transitions into it
         are redirected to one absorbing terminal state appended at index S
         (the MDP then has S + 1 states); the ``False`` ones are kept.

    Action sets: a state whose dict lists only some of the actions 0..A−1
    (A = 1 + the largest action listed anywhere) keeps those as its
    available actions (``mdp.actions``); the others are unavailable.

    Nothing else is changed: a row whose probabilities do not sum to 1, a
    negative or non-finite number, or a malformed entry raises.  A grid
    environment's layout (FrozenLake's ``desc``, CliffWalking's ``shape``)
    becomes the MDP's ``grid_shape`` when no state was appended.

    Parameters
    ----------
    P : environment or dict
        A toy-text environment, or ``{s: {a: [(prob, next_state, reward,
        terminated), ...]}}`` with states 0..S−1, each listing some of the
        actions 0..A−1 (all of them, unless the model has action sets).
    gamma : float
        Discount (Gymnasium has none; γ = 1 is allowed for episodic tasks).
    rho0 : array_like, shape (S,), or "uniform", optional
        Start distribution over the original states; extended by 0 for an
        appended terminal.  Default: the environment's
        ``initial_state_distrib``.  A bare dict carries no start distribution,
        so with a dict ρ₀ must be given: an array, or ``"uniform"`` for the
        uniform distribution over the non-terminal states.  (Defaulting
        silently would be wrong: J of FrozenLake is 0.0058 from its start
        state and 0.0765 from a uniform one at γ = 0.99.)
    sparse : bool, optional
        Store P as a csr_array (default dense).

    Returns
    -------
    GymnasiumConversion

    Examples
    --------
    A one-step "bandit": action 0 ends the episode in state 1 with reward 1.

    >>> from mdpgrad.io import convert_gymnasium
    >>> P = {0: {0: [(1.0, 1, 1.0, True)], 1: [(0.5, 0, 0.0, False), (0.5, 0, 0.0, False)]},
    ...      1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
    >>> c = convert_gymnasium(P, gamma=1.0, rho0=[1.0, 0.0])
    >>> c.terminal_states, c.mdp.P[0, 1].tolist(), c.rules
    ((1,), [1.0, 0.0], 'states [1] entered only on termination made terminal')
    """
    P, rho0, rho0_source, grid = _gymnasium_source(P, rho0)
    S, A, rows, nxt, prob, rew, term, avail = _gym_table(P)
    r = np.bincount(rows, weights=prob * rew, minlength=S * A).reshape(S, A)
    entered_term = np.zeros(S, dtype=bool)
    entered_cont = np.zeros(S, dtype=bool)
    entered_term[nxt[term]] = True
    entered_cont[nxt[~term]] = True
    only_term = entered_term & ~entered_cont
    mixed = entered_term & entered_cont
    extra = S if mixed.any() else None
    S_out = S + 1 if extra is not None else S
    terminal = np.zeros(S_out, dtype=bool)
    terminal[:S] = only_term
    if extra is not None:
        terminal[extra] = True
        nxt = np.where(term & mixed[nxt], extra, nxt)
    # rows of terminal states: absorbing with zero reward (their dict entries are dropped)
    keep = ~terminal[rows // A]
    t_states = np.flatnonzero(terminal)
    t_rows = (t_states[:, None] * A + np.arange(A)[None, :]).ravel()
    all_rows = np.concatenate([rows[keep], t_rows])
    all_cols = np.concatenate([nxt[keep], np.repeat(t_states, A)])
    all_p = np.concatenate([prob[keep], np.ones(t_rows.size)])
    r_out = np.zeros((S_out, A))
    r_out[:S] = r
    r_out[terminal] = 0.0
    Pm = sp.csr_array(sp.coo_array((all_p, (all_rows, all_cols)), shape=(S_out * A, S_out)))
    Pm.sum_duplicates()
    if rho0 is not None:
        rho0 = as_real_array(rho0, "rho0", shape=(S,))
        if extra is not None:
            rho0 = np.append(rho0, 0.0)
    P_out: Any = Pm if sparse else Pm.toarray().reshape(S_out, A, S_out)
    if grid is not None and grid[0] * grid[1] != S_out:
        grid = None                       # an appended terminal state has no cell
    mask = np.ones((S_out, A), dtype=bool)
    mask[:S] = avail
    mdp = MDP(P_out, r_out, gamma, rho0=rho0, terminal=terminal, grid_shape=grid,
              actions=None if mask.all() else mask)
    return GymnasiumConversion(mdp=mdp, terminal_states=tuple(int(s) for s in np.flatnonzero(only_term)),
                               redirected_states=tuple(int(s) for s in np.flatnonzero(mixed)),
                               extra_terminal=extra, rho0_source=rho0_source)


def from_gymnasium(P: Any, *, gamma: float, rho0: Any = None, sparse: bool = False) -> MDP:
    """An MDP from a Gymnasium toy-text environment or its ``P`` dict (rules: :func:`convert_gymnasium`).

    Parameters
    ----------
    P : environment or dict
        A toy-text environment (its ``env.unwrapped.P`` is read) or that dict,
        ``P[s][a] = [(p, s', r, terminated), ...]``.
    gamma : float
        The discount γ.
    rho0 : array_like or "uniform", optional
        The start distribution; default the environment's own (required with a bare dict);
        "uniform": uniform over the non-terminal states.
    sparse : bool, optional
        Build a sparse (S·A, S) transition matrix.

    Examples
    --------
    >>> from mdpgrad.io import from_gymnasium
    >>> P = {0: {0: [(1.0, 1, 1.0, True)]}, 1: {0: [(1.0, 1, 0.0, True)]}}
    >>> from_gymnasium(P, gamma=1.0, rho0="uniform").terminal.tolist()
    [False, True]
    """
    return convert_gymnasium(P, gamma=gamma, rho0=rho0, sparse=sparse).mdp


def _toolbox_stack(P: Any, name: str) -> tuple[list[Any], bool]:
    """pymdptoolbox's P or R given as an (A, S, S) array or a sequence of A (S, S) matrices."""
    if sp.issparse(P):
        raise ValidationError(f"{name} is a single sparse matrix; expected A matrices of shape (S, S)",
                              argument=name, value=P.shape)
    if isinstance(P, np.ndarray) and P.dtype != object:
        mats = list(P)
    elif isinstance(P, (Sequence, np.ndarray)) and not isinstance(P, (str, bytes)):
        mats = list(P)
    else:
        raise ValidationError(f"{name} is a {type(P).__name__}; expected an (A, S, S) array",
                              argument=name, value=type(P).__name__)
    return mats, any(sp.issparse(m) for m in mats)


def from_mdptoolbox(P: Any, R: Any, gamma: float) -> MDP:
    """An MDP from pymdptoolbox's layout (Chadès et al. 2014, ``mdptoolbox.mdp``).

    Parameters
    ----------
    P : ndarray, shape (A, S, S), or sequence of A (S, S) matrices (dense or scipy.sparse)
        ``P[a][s, s'] = Pr(s'|s, a)``, action first.  Sparse input gives a
        sparse MDP.
    R : ndarray, shape (S,), (S, A) or (A, S, S) (or a sequence of A (S, S) matrices)
        Reward of the state, of the pair, or of the transition; reduced to
        r(s, a) = R[s], R[s, a] or Σ_s' P[a][s, s'] R[a][s, s'].
    gamma : float
        pymdptoolbox's ``discount``.

    Examples
    --------
    >>> import numpy as np
    >>> from mdpgrad.io import from_mdptoolbox
    >>> P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])
    >>> from_mdptoolbox(P, np.array([0.0, 1.0]), 0.9).r.tolist()
    [[0.0, 0.0], [1.0, 1.0]]
    """
    mats, is_sparse = _toolbox_stack(P, "P")
    A = len(mats)
    if A == 0:
        raise ValidationError("P holds no action", argument="P", value=0)
    shapes = {tuple(getattr(m, "shape", np.shape(m))) for m in mats}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or len(set(next(iter(shapes)))) != 1:
        raise ValidationError(f"P holds matrices of shapes {sorted(shapes)}; expected A matrices (S, S)",
                              argument="P", value=sorted(shapes))
    S = next(iter(shapes))[0]
    if is_sparse:
        stacked = sp.csr_array(sp.vstack([sp.csr_array(m, dtype=np.float64) for m in mats]))
        order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).ravel()  # row s·A + a <- a·S + s
        P_out: Any = sp.csr_array(stacked[order])
    else:
        P_out = np.stack([as_real_array(m, f"P[{a}]", finite=False) for a, m in enumerate(mats)]
                         ).transpose(1, 0, 2)
    R_is_sparse = sp.issparse(R) or (isinstance(R, (list, tuple)) and any(sp.issparse(m) for m in R))
    if R_is_sparse or (isinstance(R, (list, tuple)) and len(R) == A and np.ndim(R[0]) == 2):
        rmats, _ = _toolbox_stack(R, "R")
        if len(rmats) != A:
            raise ValidationError(f"R holds {len(rmats)} matrices; expected {A}", argument="R",
                                  value=len(rmats))
        bad = [a for a, m in enumerate(rmats) if tuple(getattr(m, "shape", np.shape(m))) != (S, S)]
        if bad:
            raise ValidationError(f"R[{bad[0]}] is not of shape ({S}, {S})", argument="R", index=(bad[0],))
        r = np.empty((S, A))
        for a, (pm, rm) in enumerate(zip(mats, rmats, strict=True)):
            prod = (sp.csr_array(pm).multiply(sp.csr_array(rm)) if sp.issparse(pm) or sp.issparse(rm)
                    else as_real_array(pm, f"P[{a}]") * as_real_array(rm, f"R[{a}]"))
            r[:, a] = np.asarray(prod.sum(axis=1)).ravel()
        return MDP(P_out, r, gamma)
    R_arr = as_real_array(R, "R")
    if R_arr.shape == (S,):
        r_in: Any = np.repeat(R_arr[:, None], A, axis=1)
    elif R_arr.shape == (S, A):
        r_in = R_arr
    elif R_arr.shape == (A, S, S):
        r_in = R_arr.transpose(1, 0, 2)  # MDP reduces (S, A, S) with P
    else:
        raise ValidationError(f"R has shape {R_arr.shape}; expected ({S},), ({S}, {A}) or ({A}, {S}, {S})",
                              argument="R", value=R_arr.shape)
    return MDP(P_out, r_in, gamma)
