"""A batch of sampled episodes, padded to a common length: :class:`Trajectories`.

States, actions, rewards and lengths of n episodes, stored time-major, with
the stopping protocol they were sampled under.  A hand-built batch is checked
on construction (shapes, padding, lengths, protocol and horizon); the
sampler's own output skips the checks, being valid by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._display import compact_repr
from .._errors import ValidationError
from .._validation import as_real_array, check_choice, check_integer, check_real, first_index, format_index
from ._protocols import PROTOCOLS, StoppingProtocol

__all__ = ["Trajectories"]


@dataclass(frozen=True, eq=False)
class Trajectories:
    """A batch of ``n`` sampled episodes, padded to a common length T.

    Attributes
    ----------
    states : ndarray of int32, shape (n, T + 1)
        s₀ … s_L of each episode (L its length), then −1.
    actions : ndarray of int32, shape (n, T)
        a₀ … a_{L−1}, then −1.
    rewards : ndarray of float64, shape (n, T)
        r(sₜ, aₜ) for t < L, then 0.
    lengths : ndarray of int64, shape (n,)
        Number of actions L taken in each episode.
    protocol : {"terminal", "horizon", "geometric"}
    gamma : float
        The MDP's discount γ.
    horizon : int or None
        H under ``"horizon"``.
    truncation_bound : float
        γᴴ·max|r|/(1 − γ) under ``"horizon"`` (∞ when γ = 1), else 0.0.
    terminated : ndarray of bool, shape (n,), or None
        True when the episode ended in a terminal state (False when it was cut
        by the horizon or by the geometric stop).  None when unknown.

    The arrays are stored time-major (Fortran order), which is how they are
    written and how estimators read them; ``np.ascontiguousarray`` gives the
    row-major copy if needed.

    A hand-built batch is checked on construction: integer states and actions,
    real finite rewards, shapes (n, T + 1), (n, T), (n, T) and (n,), lengths in
    0..T, states ≥ 0 up to and including sₗ and −1 after, actions ≥ 0 before L
    and −1 after, rewards 0 after L, γ in [0, 1], a protocol of
    :data:`PROTOCOLS`, H (an integer ≥ 1, with every L ≤ H) exactly under
    ``"horizon"``.  Anything else is a :class:`~mdpgrad.ValidationError`.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray
    protocol: StoppingProtocol
    gamma: float
    horizon: int | None = None
    truncation_bound: float = 0.0
    terminated: np.ndarray | None = None

    __repr__ = compact_repr

    def __post_init__(self) -> None:
        for name, value in _validated_fields(self).items():
            object.__setattr__(self, name, value)

    @classmethod
    def _trusted(cls, **fields: object) -> Trajectories:
        """Construct without the checks (the sampler's own output is valid by construction)."""
        obj = cls.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(obj, name, value)
        return obj

    @property
    def mask(self) -> np.ndarray:
        """``mask[i, t]`` is True when step t belongs to episode i (t < L_i), shape (n, T)."""
        return np.arange(self.actions.shape[1]) < self.lengths[:, None]

    @property
    def n_episodes(self) -> int:
        """Number of episodes n."""
        return int(self.lengths.shape[0])

    @property
    def n_transitions(self) -> int:
        """Total number of actions taken, Σᵢ Lᵢ."""
        return int(self.lengths.sum())

    def __str__(self) -> str:
        n = self.n_episodes
        mean = self.n_transitions / n if n else 0.0
        how = f"horizon {self.horizon}" if self.protocol == "horizon" else self.protocol
        return (f"Trajectories: {n} episodes, {self.n_transitions} transitions (mean length {mean:.4g}), "
                f"protocol {how}, gamma {self.gamma!r}")


def _integer_table(x: object, name: str) -> np.ndarray:
    if isinstance(x, (str, bytes)) or x is None:
        raise ValidationError(f"{name} is {x!r}; expected an integer array", argument=name, value=x)
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name} cannot be read as an integer array ({exc})", argument=name) from None
    if arr.dtype.kind not in "iu":
        raise ValidationError(f"{name} has dtype {arr.dtype}; expected integers", argument=name,
                              value=str(arr.dtype))
    return arr


def _first_bad(bad: np.ndarray, arr: np.ndarray, name: str, expected: str) -> None:
    idx = first_index(bad)
    if idx is not None:
        raise ValidationError(f"{format_index(name, idx)} is {arr[idx].item()!r}; expected {expected}",
                              argument=name, index=idx, value=arr[idx].item())


def _validated_fields(tr: Trajectories) -> dict[str, object]:
    """The fields of a hand-built :class:`Trajectories`, checked (see the class docstring)."""
    lengths = _integer_table(tr.lengths, "lengths")
    if lengths.ndim != 1:
        raise ValidationError(f"lengths has shape {lengths.shape}; expected (n,)", argument="lengths",
                              value=lengths.shape)
    n = lengths.shape[0]
    actions = _integer_table(tr.actions, "actions")
    if actions.ndim != 2 or actions.shape[0] != n:
        raise ValidationError(f"actions has shape {actions.shape}; expected ({n}, T)", argument="actions",
                              value=actions.shape)
    T = actions.shape[1]
    states = _integer_table(tr.states, "states")
    if states.shape != (n, T + 1):
        raise ValidationError(f"states has shape {states.shape}; expected ({n}, {T + 1})", argument="states",
                              value=states.shape)
    rewards = as_real_array(tr.rewards, "rewards", shape=(n, T))
    _first_bad((lengths < 0) | (lengths > T), lengths, "lengths", f"a length in 0..{T}")
    live = np.arange(T) < lengths[:, None]
    _first_bad(np.where(live, actions < 0, actions != -1), actions, "actions",
               "an action >= 0 before the episode's length and -1 after it")
    _first_bad(np.where(np.arange(T + 1) <= lengths[:, None], states < 0, states != -1), states, "states",
               "a state >= 0 up to the episode's length and -1 after it")
    _first_bad(~live & (rewards != 0.0), rewards, "rewards", "0 after the episode's length")
    protocol = check_choice(tr.protocol, "protocol", PROTOCOLS)
    gamma = check_real(tr.gamma, "gamma", min_value=0.0, max_value=1.0)
    horizon = tr.horizon
    if protocol == "horizon":
        horizon = check_integer(horizon, "horizon", min_value=1)
        _first_bad(lengths > horizon, lengths, "lengths", f"a length <= horizon {horizon}")
    elif horizon is not None:
        raise ValidationError(f"horizon is {horizon!r} but protocol is {protocol!r}; expected None",
                              argument="horizon", value=horizon)
    bound = tr.truncation_bound
    if not (isinstance(bound, (int, float, np.floating, np.integer)) and not isinstance(bound, bool)
            and float(bound) >= 0.0):  # nan fails the comparison; ∞ is the bound when γ = 1
        raise ValidationError(f"truncation_bound is {bound!r}; expected a number >= 0",
                              argument="truncation_bound", value=bound)
    terminated = tr.terminated
    if terminated is not None:
        terminated = np.asarray(terminated)
        if terminated.dtype != bool or terminated.shape != (n,):
            raise ValidationError(f"terminated has shape {terminated.shape} and dtype {terminated.dtype}; "
                                  f"expected None or booleans of shape ({n},)", argument="terminated",
                                  value=(terminated.shape, str(terminated.dtype)))
    return dict(states=states, actions=actions, rewards=rewards, lengths=lengths, protocol=protocol,
                gamma=gamma, horizon=horizon, truncation_bound=float(bound), terminated=terminated)
