"""A user's PyTorch surrogate loss as a sampled gradient estimator.

What it computes: for each unit of ``batch_size`` consecutive sampled episodes, the gradient of
−loss with respect to θ (the network's trainable parameters, :class:`TorchPolicy`'s flat order)::

    ĝ_unit = −∇_θ loss_fn(module at θ, batch of the unit's episodes),

by ``torch.func.vmap(torch.func.grad(...))`` over the units (one vectorised backward pass), or, when
the loss cannot be vmapped (``.item()``, data-dependent Python control flow, in-place updates of
captured tensors), by a loop of ``torch.autograd.grad`` calls.  :func:`mdpgrad.check_estimator`
compares the mean of the units with the exact ∇J of the same network (``target="gradient"``) or
with any exact table.  With ``batch_size = m`` > 1 the harness groups m episodes per unit, and
groups share a start state (:func:`mdpgrad.sampling.group_start_states`): with a single start
state that is i.i.d. batches.

The loss is called as ``loss_fn(module, batch)`` with the policy's float64 module (its parameters
swapped for θ by ``torch.func.functional_call``) and an :class:`Episodes` of tensors in the layout
of ``mdpgrad._adapters`` (leading axis: the unit's m episodes).  Identity checked by the tests:
the REINFORCE loss gives the same per-episode gradients as ``mdpgrad.estimators.reinforce_estimator``
to 1e-12, vmapped or looped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.func import functional_call, grad, vmap

from .._adapters import EPISODE_FIELDS, episode_arrays
from .._errors import ValidationError
from .._validation import as_real_array, check_choice, check_integer
from ..sampling._sampler import Trajectories
from ._policy import TorchPolicy

__all__ = ["Episodes", "LossEstimator", "loss_estimator"]

Method = Literal["auto", "vmap", "loop"]


class Episodes(NamedTuple):
    """A batch of m episodes padded to T steps (see ``mdpgrad._adapters`` for the layout).

    Attributes
    ----------
    obs : Tensor, shape (m, T+1, k) or (m, T+1, A, k), float64
    states : Tensor, shape (m, T+1), int64
    actions : Tensor, shape (m, T), int64
    rewards : Tensor, shape (m, T), float64
    mask : Tensor, shape (m, T), float64 (1.0 for a real step)
    behaviour_log_prob : Tensor, shape (m, T), float64
    lengths : Tensor, shape (m,), int64
    gamma : float
    """

    obs: torch.Tensor
    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor
    behaviour_log_prob: torch.Tensor
    lengths: torch.Tensor
    gamma: float


class _LossModule(nn.Module):
    """loss_fn(net, batch) as a module whose parameters are the network's (for functional_call)."""

    def __init__(self, net: nn.Module, loss_fn: Callable[..., Any]) -> None:
        super().__init__()
        self.net = net
        self.loss_fn = loss_fn

    def forward(self, batch: Episodes) -> torch.Tensor:
        out = self.loss_fn(self.net, batch)
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            raise ValidationError(f"loss_fn returned {type(out).__name__} of shape {tuple(np.shape(out))}; "
                                  "expected a scalar tensor", argument="loss_fn")
        return out.reshape(())


@dataclass(frozen=True, eq=False)
class LossEstimator:
    """A user's loss as an estimator for :func:`mdpgrad.check_estimator` (see :func:`loss_estimator`)."""

    name: str
    loss_fn: Callable[..., Any]
    group_size: int = 1
    behaviour_theta: np.ndarray | None = None
    method: Method = "auto"

    def estimate(self, traj: Trajectories, policy: TorchPolicy, theta: np.ndarray) -> np.ndarray:
        """−∇_θ loss per unit, repeated for each of its episodes: shape (n, d)."""
        if not isinstance(policy, TorchPolicy):
            raise ValidationError(f"policy is a {type(policy).__name__}; a torch loss needs the "
                                  "mdpgrad.torch.TorchPolicy of its network", argument="policy",
                                  value=type(policy).__name__)
        theta = as_real_array(theta, "theta", shape=policy.param_shape)
        behaviour = theta if self.behaviour_theta is None else self.behaviour_theta
        arrays = episode_arrays(traj, policy.features, policy.probabilities(behaviour))
        n, m = traj.n_episodes, self.group_size
        if n % m:
            raise ValidationError(f"{n} episodes do not split into units of {m}", argument="traj", value=n)
        gamma = float(arrays.pop("gamma"))
        tensors = [torch.tensor(arrays[f]).reshape((n // m, m) + arrays[f].shape[1:])
                   for f in EPISODE_FIELDS[:-1]]
        wrapper = _LossModule(policy.module, self.loss_fn)
        params = {"net." + k: v for k, v in policy.unflatten(theta).items()}

        def neg_loss(p: dict[str, torch.Tensor], *fields: torch.Tensor) -> torch.Tensor:
            batch = Episodes._make([*fields, gamma])
            return -functional_call(wrapper, p, (batch,))

        def flat(g: dict[str, torch.Tensor], lead: tuple[int, ...]) -> torch.Tensor:
            return torch.cat([g[k].reshape(lead + (-1,)) for k in params], dim=-1)

        out: torch.Tensor | None = None
        if self.method != "loop":
            try:
                g = vmap(grad(neg_loss), in_dims=(None,) + (0,) * len(tensors))(params, *tensors)
                out = flat(g, (n // m,))
            except ValidationError:
                raise
            except Exception:
                if self.method == "vmap":
                    raise
        if out is None:
            rows = []
            for u in range(n // m):
                p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
                gs = torch.autograd.grad(neg_loss(p, *(t[u] for t in tensors)), list(p.values()),
                                         allow_unused=True)
                rows.append(flat({k: torch.zeros_like(p[k]) if gi is None else gi
                                  for k, gi in zip(p, gs, strict=True)}, ()))
            out = torch.stack(rows)
        if out.dtype != torch.float64:
            raise ValidationError(f"the loss's gradient is {out.dtype}; the estimate needs float64 "
                                  "arithmetic "
                                  "(build the loss from the batch's float64 tensors)", argument="loss_fn",
                                  value=str(out.dtype))
        return np.repeat(out.detach().numpy(), m, axis=0)

    def __call__(self, traj: Trajectories, policy: TorchPolicy, theta: np.ndarray) -> np.ndarray:
        return self.estimate(traj, policy, theta)


def loss_estimator(loss_fn: Callable[..., Any], *, batch_size: int = 1,
                   behaviour_theta: ArrayLike | None = None, method: Method = "auto",
                   name: str | None = None) -> LossEstimator:
    """Turn a PyTorch loss, as users write it, into an estimator of what its gradient step follows.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn(module, batch) -> scalar tensor``: ``module`` maps features to logits
        (``module(batch.obs)``), ``batch`` is an :class:`Episodes`.  The estimate is −∇loss (the
        direction of an optimiser's step).
    batch_size : int
        Episodes per call of ``loss_fn`` (one unit of the test).  Losses that couple the episodes
        of a batch (advantages normalised over the batch) are estimators of batches, not episodes.
    behaviour_theta : ndarray, shape (d,), optional
        Episodes are sampled from π at these parameters (off-policy losses such as PPO's); their
        log-probabilities are ``batch.behaviour_log_prob``.  Default: on-policy.
    method : {"auto", "vmap", "loop"}
        "auto" tries ``torch.func.vmap`` and falls back to a loop over units.
    name : str, optional
        For reports; default the function's name.

    Returns
    -------
    LossEstimator
        Pass it to :func:`mdpgrad.check_estimator` or :func:`mdpgrad.assert_unbiased` with the
        :class:`TorchPolicy` of the network and θ (usually ``policy.theta0``).

    Examples
    --------
    >>> import numpy as np
    >>> import torch, mdpgrad as mg
    >>> from mdpgrad.torch import TorchPolicy, loss_estimator
    >>> P = np.array([[[0.0, 1.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
    >>> mdp = mg.MDP(P, [[0.0, 1.0], [0.0, 0.0]], gamma=1.0, rho0=[1, 0], terminal=[False, True])
    >>> pol = TorchPolicy(torch.nn.Linear(2, 2), n_states=2)
    >>> def reinforce(net, batch):
    ...     logp = torch.log_softmax(net(batch.obs[:, :-1]), -1)
    ...     logp = logp.gather(-1, batch.actions[..., None])[..., 0]
    ...     return -(logp * batch.rewards * batch.mask).sum()      # one-step episodes: G₀ = r₀
    >>> mg.assert_unbiased(mdp, pol, pol.theta0, loss_estimator(reinforce), n_episodes=400).holds
    True
    """
    if not callable(loss_fn):
        raise ValidationError(f"loss_fn is {loss_fn!r}; expected a function (module, batch) -> loss",
                              argument="loss_fn", value=loss_fn)
    m = check_integer(batch_size, "batch_size", min_value=1)
    method = check_choice(method, "method", ("auto", "vmap", "loop"))
    b = None if behaviour_theta is None else np.array(as_real_array(behaviour_theta, "behaviour_theta"))
    return LossEstimator(str(name or getattr(loss_fn, "__name__", repr(loss_fn))), loss_fn, m, b, method)
