"""A user's JAX surrogate loss as a sampled gradient estimator.

What it computes: for each unit of ``batch_size`` consecutive sampled episodes,
ĝ_unit = −∇_θ loss_fn(unflatten(θ), batch), by ``jax.vmap(jax.grad(...))`` over the units, or by a
loop of ``jax.grad`` calls when the loss cannot be vmapped (Python control flow on values).  The
batch is an :class:`Episodes` of ``jax.numpy`` arrays in the layout of ``mdpgrad._adapters``
(leading axis: the unit's m episodes).  See :mod:`mdpgrad.torch` for the twin and for how
units are grouped by :func:`mdpgrad.check_estimator`.

Identity checked by the tests: the REINFORCE loss gives the per-episode gradients of
``mdpgrad.estimators.reinforce_estimator`` to 1e-12, vmapped or looped; ``rlax.policy_gradient_loss``
gives the γᵗ-less estimate scaled by 1/T.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from .._adapters import EPISODE_FIELDS, episode_arrays
from .._errors import ValidationError
from .._validation import as_real_array, check_choice, check_integer
from ..sampling._sampler import Trajectories
from ._policy import JaxPolicy, check_x64

__all__ = ["Episodes", "LossEstimator", "loss_estimator"]

Method = Literal["auto", "vmap", "loop"]


class Episodes(NamedTuple):
    """A batch of m episodes padded to T steps (layout of ``mdpgrad._adapters``), jax arrays.

    Attributes
    ----------
    obs : Array, shape (m, T+1, k) or (m, T+1, A, k)
    states : Array, shape (m, T+1), int
    actions : Array, shape (m, T), int
    rewards : Array, shape (m, T)
    mask : Array, shape (m, T) (1.0 for a real step)
    behaviour_log_prob : Array, shape (m, T)
    lengths : Array, shape (m,), int
    gamma : float
    """

    obs: Any
    states: Any
    actions: Any
    rewards: Any
    mask: Any
    behaviour_log_prob: Any
    lengths: Any
    gamma: float


@dataclass(frozen=True, eq=False)
class LossEstimator:
    """A user's JAX loss as an estimator for :func:`mdpgrad.check_estimator` (see :func:`loss_estimator`)."""

    name: str
    loss_fn: Callable[..., Any]
    group_size: int = 1
    behaviour_theta: np.ndarray | None = None
    method: Method = "auto"

    def estimate(self, traj: Trajectories, policy: JaxPolicy, theta: np.ndarray) -> np.ndarray:
        """−∇_θ loss per unit, repeated for each of its episodes: shape (n, d)."""
        check_x64("mdpgrad.jax.loss_estimator")
        if not isinstance(policy, JaxPolicy):
            raise ValidationError(f"policy is a {type(policy).__name__}; a JAX loss needs the "
                                  "mdpgrad.jax.JaxPolicy of its network", argument="policy",
                                  value=type(policy).__name__)
        theta = as_real_array(theta, "theta", shape=policy.param_shape)
        behaviour = theta if self.behaviour_theta is None else self.behaviour_theta
        arrays = episode_arrays(traj, policy.features, policy.probabilities(behaviour))
        n, m = traj.n_episodes, self.group_size
        if n % m:
            raise ValidationError(f"{n} episodes do not split into units of {m}", argument="traj", value=n)
        gamma = float(arrays.pop("gamma"))
        fields = [jnp.asarray(arrays[f].reshape((n // m, m) + arrays[f].shape[1:]))
                  for f in EPISODE_FIELDS[:-1]]
        loss_fn = self.loss_fn

        def neg_loss(th: Any, *fs: Any) -> Any:
            out = loss_fn(policy.unflatten(th), Episodes._make([*fs, gamma]))
            if jnp.size(out) != 1:
                raise ValidationError(f"loss_fn returned shape {jnp.shape(out)}; expected a scalar",
                                      argument="loss_fn")
            return -jnp.reshape(out, ())

        th = jnp.asarray(theta)
        out = None
        if self.method != "loop":
            try:
                axes = (None,) + (0,) * len(fields)
                out = np.asarray(jax.vmap(jax.grad(neg_loss), in_axes=axes)(th, *fields))
            except ValidationError:
                raise
            except Exception:
                if self.method == "vmap":
                    raise
        if out is None:
            g = jax.grad(neg_loss)
            out = np.stack([np.asarray(g(th, *(f[u] for f in fields))) for u in range(n // m)])
        return np.repeat(out.astype(np.float64), m, axis=0)

    def __call__(self, traj: Trajectories, policy: JaxPolicy, theta: np.ndarray) -> np.ndarray:
        return self.estimate(traj, policy, theta)


def loss_estimator(loss_fn: Callable[..., Any], *, batch_size: int = 1,
                   behaviour_theta: ArrayLike | None = None, method: Method = "auto",
                   name: str | None = None) -> LossEstimator:
    """Turn a JAX loss, as users write it, into an estimator of what its gradient step follows.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(params, batch) -> scalar``: ``params`` the pytree of the :class:`JaxPolicy`
        (``policy.unflatten(theta)``), ``batch`` an :class:`Episodes`.  The estimate is −∇loss.
    batch_size : int
        Episodes per call of ``loss_fn`` (one unit of the test).
    behaviour_theta : ndarray, shape (d,), optional
        Episodes are sampled from π at these parameters (off-policy losses); their
        log-probabilities are ``batch.behaviour_log_prob``.
    method : {"auto", "vmap", "loop"}
    name : str, optional

    Returns
    -------
    LossEstimator

    Examples
    --------
    >>> import numpy as np
    >>> import jax, mdpgrad as mg
    >>> from mdpgrad.jax import loss_estimator
    >>> jax.config.update("jax_enable_x64", True)
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = mg.MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> from mdpgrad.jax import JaxPolicy, mlp
    >>> apply_fn, params = mlp([2, 2])
    >>> pol = JaxPolicy(apply_fn, params, n_states=2)
    >>> def reinforce(p, batch):
    ...     logp = jax.nn.log_softmax(apply_fn(p, batch.obs[:, :-1]))
    ...     logp = jax.numpy.take_along_axis(logp, batch.actions[..., None], -1)[..., 0]
    ...     return -(logp * batch.rewards * batch.mask).sum()       # one-step episodes: G₀ = r₀
    >>> mg.assert_unbiased(mdp, pol, pol.theta0, loss_estimator(reinforce), n_episodes=400).holds
    True
    """
    if not callable(loss_fn):
        raise ValidationError(f"loss_fn is {loss_fn!r}; expected a function (params, batch) -> loss",
                              argument="loss_fn", value=loss_fn)
    m = check_integer(batch_size, "batch_size", min_value=1)
    method = check_choice(method, "method", ("auto", "vmap", "loop"))
    b = None if behaviour_theta is None else np.array(as_real_array(behaviour_theta, "behaviour_theta"))
    return LossEstimator(str(name or getattr(loss_fn, "__name__", repr(loss_fn))), loss_fn, m, b, method)
