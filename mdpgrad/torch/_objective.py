"""Exact J(θ) of a PyTorch network's policy inside autograd.

What it computes: J = ρ₀ · v^π with π = softmax(f(X)), as a ``torch.autograd.Function`` of the
logits table L = f(X), shape (S, A).  Its backward is the policy gradient theorem for the softmax
of the logits (Sutton et al. 2000; Agarwal et al. 2021, Lemma C.1)::

    ∂J/∂L(s, a) = η(s) π(a|s) adv(s, a),

so ``J.backward()`` = one backward pass of the network with that weight table, and the
parameters' ``.grad`` is the exact ∇J.  Identity checked by the tests: it equals autograd through
a differentiable dense solve of (I − γP̃^π) v = r^π, J = ρ₀ · v, to 1e-10.

Not differentiable twice (the backward is a numpy solve): ``torch.autograd.grad(...,
create_graph=True)`` then a second derivative raises; use ``mg.policy_hessian`` or
``mg.gradients.hessian_vector_product`` with a :class:`TorchPolicy` for curvature.
"""

from __future__ import annotations

from typing import Any

import torch
from numpy.typing import ArrayLike

from .._adapters import validate_features
from .._errors import ValidationError
from .._evaluation import evaluate
from .._model import MDP, validate_mdp
from .._policies import TabularSoftmax
from ..gradients._theorem import policy_gradient

__all__ = ["objective"]


class _ExactObjective(torch.autograd.Function):
    """J as a function of the logits table, backward η·π·adv."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, mdp: MDP) -> torch.Tensor:
        L = logits.detach().cpu().numpy()
        table = TabularSoftmax(mdp.n_states, mdp.n_actions,   # over the available actions
                               actions=mdp.actions if mdp.has_action_sets else None)
        ev = evaluate(mdp, table.probabilities(L))
        g = policy_gradient(mdp, table, L, evaluation=ev)
        ctx.save_for_backward(logits, torch.as_tensor(g, dtype=logits.dtype))
        return torch.as_tensor(float(ev.J), dtype=logits.dtype)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor, None]:
        logits, g = ctx.saved_tensors
        out: torch.Tensor = _TheoremWeights.apply(logits, g, grad_out)
        return out, None


class _TheoremWeights(torch.autograd.Function):
    """grad_out · η·π·adv, attached to the logits so that a second derivative raises (it is not computed)."""

    @staticmethod
    def forward(ctx: Any, logits: torch.Tensor, g: torch.Tensor,
                grad_out: torch.Tensor) -> torch.Tensor:
        return grad_out * g

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[None, None, None]:
        raise RuntimeError("mdpgrad.torch.objective is differentiable once; for second derivatives use "
                           "mdpgrad.policy_hessian or mdpgrad.gradients.hessian_vector_product with a "
                           "TorchPolicy")


def objective(mdp: MDP, module: Any, features: ArrayLike | None = None) -> torch.Tensor:
    """J(θ) of the policy softmax(module(features)) as a 0-d float64 tensor with the exact backward.

    On a model with action sets the softmax runs over each state's available actions (the logits
    of the others do not change J and get zero gradient).

    Parameters
    ----------
    mdp : MDP
    module : callable
        A ``torch.nn.Module`` (or any function of a tensor) mapping the features (S, k) to logits
        (S, A), or per-pair features flattened to (S·A, k) to (S·A,) or (S·A, 1); float64 output.
    features : array_like, shape (S, k) or (S, A, k), optional
        Default the one-hot states I_S.

    Returns
    -------
    torch.Tensor, shape ()
        ``.backward()`` accumulates the exact ∇J into the module's parameters.

    Examples
    --------
    >>> import numpy as np, torch, mdpgrad as mg
    >>> from mdpgrad.torch import objective
    >>> mdp = mg.MDP([[[1, 0], [0, 1]], [[0, 1], [0, 1]]], [[0, 1], [0, 0]], gamma=0.9, rho0=[1, 0])
    >>> net = torch.nn.Linear(2, 2, bias=False).double()
    >>> _ = torch.nn.init.zeros_(net.weight)
    >>> J = objective(mdp, net)
    >>> J.backward()
    >>> round(J.item(), 12), np.round(net.weight.grad.numpy(), 6).tolist()
    (0.909090909091, [[-0.082645, 0.0], [0.082645, 0.0]])
    """
    mdp = validate_mdp(mdp)
    X, per_pair = validate_features(features, mdp.n_states)
    S, A = mdp.n_states, mdp.n_actions
    if per_pair and X.shape[1] != A:
        raise ValidationError(f"features has shape {X.shape}; expected ({S}, {A}, k) per-pair features",
                              argument="features", value=X.shape)
    if isinstance(module, torch.nn.Module):
        dtypes = {p.dtype for p in module.parameters() if p.is_floating_point()}
        if dtypes - {torch.float64}:
            raise ValidationError(f"module has {sorted(map(str, dtypes))} parameters; the exact objective "
                                  "needs a "
                                  "float64 network (module.double())", argument="module",
                                  value=sorted(map(str, dtypes)))
    x = torch.tensor(X.reshape(-1, X.shape[-1]), dtype=torch.float64)
    logits = module(x)
    if not isinstance(logits, torch.Tensor) or logits.numel() != S * A:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValidationError(f"module returned {shape}; expected {S * A} logits (S={S}, A={A})",
                              argument="module", value=shape)
    if logits.dtype != torch.float64:
        raise ValidationError(f"module returned {logits.dtype} logits; the exact objective needs a float64 "
                              "network (module.double())", argument="module", value=str(logits.dtype))
    out: torch.Tensor = _ExactObjective.apply(logits.reshape(S, A), mdp)
    return out
