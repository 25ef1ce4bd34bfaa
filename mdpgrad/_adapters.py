"""What the framework adapters :mod:`mdpgrad.torch` and :mod:`mdpgrad.jax` share, in numpy only.

A framework policy is a network f mapping a feature vector to logits:

* state features X of shape (S, k): logits[s, :] = f(X[s]), an (A,) vector;
* per-pair features X of shape (S, A, k): logits[s, a] = f(X[s, a]), a scalar;
* no features: X = I_S, the one-hot encoding of the state.

π(a|s) = softmax(logits[s])[a].  θ is the flat float64 vector of the network's trainable
parameters (the order of each adapter's ``theta0`` and ``unflatten``).

Complex θ reaches a policy only as a complex step θ = a + i b (mdpgrad's Hessians and
field checks, :mod:`mdpgrad._derivatives`).  The adapters evaluate it to first order,
f(a + ib) = f(a) + i J_f(a) b, by forward-mode differentiation: the error is O(|b|²),
below rounding for |b| ≤ MAX_COMPLEX_STEP; a larger imaginary part is refused.

The episode layout handed to a user's loss (:func:`episode_arrays`), n episodes padded to T:

=====================  ==================  ==================================================
name                   shape, dtype        content
=====================  ==================  ==================================================
obs                    (n, T+1, *X[0].sh)  X[sₜ] (zeros after the last state)
states                 (n, T+1) int64      sₜ for t ≤ L, then 0 (padding: read ``mask``)
actions                (n, T) int64        aₜ for t < L, then 0
rewards                (n, T) float64      r(sₜ, aₜ) for t < L, then 0
mask                   (n, T) float64      1.0 for t < L, else 0.0
behaviour_log_prob     (n, T) float64      log π_b(aₜ|sₜ) of the sampling policy, 0 after L
lengths                (n,) int64          L, the number of actions of each episode
gamma                  float               step discount d: γ, or 1 under "geometric"
=====================  ==================  ==================================================

Identity checked by the tests: ``behaviour_log_prob`` equals the network's own log-softmax at the
sampled pairs when the episodes are on-policy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ._errors import ValidationError
from ._validation import as_real_array, check_integer
from .estimators._contract import step_discount
from .sampling._sampler import Trajectories

__all__ = ["ACTIVATION_NAMES", "EPISODE_FIELDS", "MAX_COMPLEX_STEP", "Architecture", "architectures",
           "episode_arrays", "mlp_weights", "split_complex_step", "validate_features"]

#: The activations both frameworks' MLP builders know, by name.
ACTIVATION_NAMES = ("elu", "relu", "sigmoid", "softplus", "tanh")

#: The fields of a batch of episodes, in order (see the module docstring).
EPISODE_FIELDS = ("obs", "states", "actions", "rewards", "mask", "behaviour_log_prob", "lengths", "gamma")

#: Largest imaginary part a complex θ may carry.  mdpgrad's complex steps use h = 1e-20; the
#: first-order evaluation f(a) + i J b drops terms of order |b|² ≤ 1e-16, below float64 rounding.
MAX_COMPLEX_STEP = 1e-8


def validate_features(features: ArrayLike | None, n_states: int | None) -> tuple[np.ndarray, bool]:
    """The network input table X and whether it holds per-pair features.

    Returns
    -------
    X : ndarray, shape (S, k) or (S, A, k), float64
        The one-hot identity I_S when ``features`` is None (``n_states`` needed then).
    per_pair : bool
        True for (S, A, k) features.
    """
    if features is None:
        if n_states is None:
            raise ValidationError("features is None and n_states is None; give a feature table of shape "
                                  "(S, k) or (S, A, k), or n_states for one-hot features",
                                  argument="n_states")
        return np.eye(check_integer(n_states, "n_states", min_value=1)), False
    X = np.array(as_real_array(features, "features"))
    if X.ndim not in (2, 3) or 0 in X.shape:
        raise ValidationError(f"features has shape {X.shape}; expected (S, k) or (S, A, k) with every size "
                              ">= 1", argument="features", value=X.shape)
    if n_states is not None and X.shape[0] != n_states:
        raise ValidationError(f"features has {X.shape[0]} rows; n_states is {n_states}",
                              argument="features", value=X.shape)
    X.flags.writeable = False
    return X, X.ndim == 3


def split_complex_step(theta: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """θ as (real part, imaginary part or None), refusing an imaginary part above MAX_COMPLEX_STEP."""
    th = np.asarray(theta)
    if th.dtype.kind != "c":
        return th.astype(np.float64, copy=False), None
    b = th.imag.astype(np.float64)
    big = float(np.max(np.abs(b), initial=0.0))
    if big > MAX_COMPLEX_STEP:
        raise ValidationError(f"theta has an imaginary part of {big:g}; a framework policy evaluates complex "
                              f"theta only as a complex step (|Im theta| <= {MAX_COMPLEX_STEP:g})",
                              argument="theta", value=big)
    return th.real.astype(np.float64), b


def episode_arrays(traj: Trajectories, X: np.ndarray, pi_b: np.ndarray) -> dict[str, Any]:
    """The batch of episodes in the documented layout (module docstring), as numpy arrays.

    Parameters
    ----------
    traj : Trajectories
    X : ndarray, shape (S, k) or (S, A, k)
        The network's input table.
    pi_b : ndarray, shape (S, A)
        The policy that sampled the episodes.
    """
    st = np.ascontiguousarray(traj.states).astype(np.int64)
    ac = np.ascontiguousarray(traj.actions).astype(np.int64)
    n, T = ac.shape
    mask = np.arange(T)[None, :] < traj.lengths[:, None]
    smask = np.arange(T + 1)[None, :] <= traj.lengths[:, None]
    st = np.where(smask, st, 0)
    ac = np.where(mask, ac, 0)
    obs = X[st] * smask.reshape(smask.shape + (1,) * (X.ndim - 1))
    with np.errstate(divide="ignore"):
        logp = np.log(pi_b[st[:, :T], ac])
    return {"obs": obs, "states": st, "actions": ac,
            "rewards": np.ascontiguousarray(traj.rewards, dtype=np.float64),
            "mask": mask.astype(np.float64), "behaviour_log_prob": np.where(mask, logp, 0.0),
            "lengths": np.asarray(traj.lengths, dtype=np.int64), "gamma": step_discount(traj)}


def mlp_weights(sizes: Any, seed: int, scale: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The layers (W of shape (in, out), b of shape (out,)) of an MLP with layer sizes ``sizes``.

    W ~ N(0, scale²/fan_in), b ~ N(0, 0.1²), drawn in order from ``numpy.random.default_rng(seed)``:
    the same seed gives the same network in :mod:`mdpgrad.torch` and :mod:`mdpgrad.jax`.
    """
    sizes = [check_integer(k, "sizes", min_value=1) for k in sizes]
    if len(sizes) < 2:
        raise ValidationError(f"sizes is {sizes}; expected at least an input and an output size",
                              argument="sizes", value=sizes)
    rng = np.random.default_rng(seed)
    return [(rng.normal(scale=scale / np.sqrt(a), size=(a, b)), rng.normal(scale=0.1, size=b))
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


class Architecture(NamedTuple):
    """Hidden layer widths, activation name and weight seed of a small MLP."""

    hidden: tuple[int, ...]
    activation: str
    seed: int


def architectures(*, min_depth: int, max_depth: int, min_width: int, max_width: int,
                  activations: Any) -> Any:
    """Hypothesis strategy of :class:`Architecture`; shrinks towards no hidden layer, seed 0.

    Bad bounds raise ``hypothesis.errors.InvalidArgument`` (needs hypothesis, a test extra).
    """
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
    from hypothesis.strategies import SearchStrategy

    for name, lo, hi, low in (("depth", min_depth, max_depth, 0), ("width", min_width, max_width, 1)):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)) or not low <= lo <= hi:
            raise InvalidArgument(f"min_{name}={lo!r} and max_{name}={hi!r} must be integers with "
                                  f"{low} <= min_{name} <= max_{name}")
    if not isinstance(activations, SearchStrategy):
        raise InvalidArgument(f"activations={activations!r} must be a Hypothesis strategy of names in "
                              f"{ACTIVATION_NAMES} (e.g. st.just('tanh'))")
    return st.builds(Architecture,
                     st.lists(st.integers(min_width, max_width), min_size=min_depth,
                              max_size=max_depth).map(tuple),
                     activations, st.integers(0, 2 ** 16))
